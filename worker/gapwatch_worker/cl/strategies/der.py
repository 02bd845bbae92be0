"""DER and DER++: dark experience replay (Buzzega et al., NeurIPS 2020)."""

from __future__ import annotations

import torch
from torch import nn

from gapwatch.components import DERSpec

from .base import BuildContext, TaskIds
from .buffer import ReservoirBuffer
from .replay import ReplayStrategy, replay_batch_size, reservoir_for


class DarkExperienceReplay(ReplayStrategy):
    """Replays the logits the model gave to past rows, and for DER++ their targets too.

    loss = CE(new) + alpha * MSE(logits(x1), z1) [+ beta * CE(logits(x2), y2) for DER++], where
    (x1, z1) and (x2, y2) are two independent draws from a reservoir of (input, target, task
    id, logits) rows, the logits being those of the update that inserted the row (before its
    step), as in the paper. In task-incremental runs logits are masked to the row's head and
    the MSE is averaged over the units of that head only.

    Attributes:
        buffer: The reservoir.
        replay_batch_size: Rows per replayed draw.
        alpha: Weight of the logit matching.
        beta: Weight of the replayed targets' cross-entropy (DER++; 0 for DER).
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        device: torch.device,
        buffer: ReservoirBuffer,
        replay_batch_size: int,
        *,
        alpha: float = 0.3,
        beta: float = 0.0,
        units_table: torch.Tensor | None = None,
    ):
        super().__init__(
            model, optimizer, device, buffer, replay_batch_size, units_table=units_table
        )
        self.alpha = alpha
        self.beta = beta

    @classmethod
    def from_spec(cls, spec: DERSpec, ctx: BuildContext) -> DarkExperienceReplay:
        """Builds DER (name "der", beta ignored) or DER++ (name "derpp")."""
        buffer = reservoir_for(spec, ctx)
        return cls(
            ctx.model,
            ctx.optimizer,
            ctx.device,
            buffer,
            replay_batch_size(spec, ctx.training),
            alpha=spec.alpha,
            beta=spec.beta if spec.name == "derpp" else 0.0,
            units_table=ctx.units_table,
        )

    def observe(self, x: torch.Tensor, y: torch.Tensor, task_id: int) -> torch.Tensor:
        """One update, then offers the new rows with their (pre-update) logits to the buffer."""
        n = len(x)
        if len(self.buffer) == 0:
            logits = self.logits(x, task_id)
            loss = self.update(self.cross_entropy(logits, y))
        else:
            # Two independent draws, as in the paper; one forward pass for everything.
            match_x, _, match_task, match_logits = self.buffer.sample(self.replay_batch_size)
            inputs, tasks = [x, match_x], [match_task]
            if self.beta > 0:
                label_x, label_y, label_task, _ = self.buffer.sample(self.replay_batch_size)
                inputs.append(label_x)
                tasks.append(label_task)
            all_logits = self.logits(torch.cat(inputs), self.joined_task_ids(task_id, n, *tasks))
            logits = all_logits[:n]
            m = len(match_x)
            objective = self.cross_entropy(logits, y) + self.alpha * self.logit_mse(
                all_logits[n : n + m], match_logits, match_task
            )
            if self.beta > 0:
                objective = objective + self.beta * nn.functional.cross_entropy(
                    all_logits[n + m :], label_y
                )
            loss = self.update(objective)
        self.buffer.add(x, y, self.task_column(task_id, n), logits.detach())
        return loss

    def logit_mse(
        self, logits: torch.Tensor, stored: torch.Tensor, task_ids: TaskIds
    ) -> torch.Tensor:
        """Mean squared difference over each row's units (all of them unless task-incremental)."""
        squared = (logits - stored) ** 2
        if self.units_table is None:
            return squared.mean()
        # Masked units hold MASK_VALUE on both sides: they add exact zeros, not counted.
        widths = (self.units_table[:, 1] - self.units_table[:, 0])[task_ids]
        return (squared.sum(1) / widths).mean()
