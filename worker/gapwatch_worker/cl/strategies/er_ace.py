"""ER-ACE: experience replay with the asymmetric cross-entropy of Caccia et al. (ICLR 2022)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gapwatch.components import ERACESpec

from ..benchmarks.scenarios import MASK_VALUE
from ..models import use_cosine_head
from .base import BuildContext
from .buffer import ReservoirBuffer
from .replay import ReplayStrategy, replay_batch_size, reservoir_for


class ERACE(ReplayStrategy):
    """ER whose new rows only compete among the classes present in their own batch.

    loss = CE(new batch, over the classes present in it) + CE(replayed batch, over every class
    seen so far). The new rows then cannot push the logits of absent (old) classes down, which
    is what makes plain ER's representation drift right after a task switch (Caccia et al.,
    "New insights on reducing abrupt representation change in online continual learning").
    The mask applies from the first task on and the replayed CE covers only classes seen so
    far, as the paper's equations read. The authors' released code (and mammoth) differ: they
    mask the new batch only from the second task on and leave not-yet-seen classes unmasked.
    The difference touches logits at the task switch, where the gap is measured: compare
    against those implementations with this in mind. The memory is a reservoir.

    Attributes:
        buffer: Reservoir of (input, target, task id) rows.
        replay_batch_size: Replayed rows per update.
        seen_classes: Bool device tensor over the output units: targets seen so far.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        device: torch.device,
        buffer: ReservoirBuffer,
        replay_batch_size: int,
        n_outputs: int,
        *,
        units_table: torch.Tensor | None = None,
    ):
        super().__init__(
            model, optimizer, device, buffer, replay_batch_size, units_table=units_table
        )
        self.seen_classes = torch.zeros(n_outputs, dtype=torch.bool, device=device)

    @classmethod
    def from_spec(cls, spec: ERACESpec, ctx: BuildContext) -> ERACE:
        """Builds ER-ACE; the replay batch defaults to the training batch size. With
        `cosine_scale`, the model's output layer becomes a `CosineLinear` first."""
        if spec.cosine_scale is not None:
            use_cosine_head(ctx.model, ctx.benchmark.n_outputs, spec.cosine_scale)
        buffer = reservoir_for(spec, ctx)
        return cls(
            ctx.model,
            ctx.optimizer,
            ctx.device,
            buffer,
            replay_batch_size(spec, ctx.training),
            ctx.benchmark.n_outputs,
            units_table=ctx.units_table,
        )

    def observe(self, x: torch.Tensor, y: torch.Tensor, task_id: int) -> torch.Tensor:
        """One update on the asymmetric loss, then offers the new batch to the reservoir."""
        self.seen_classes[y] = True  # on the device: no host copy of the labels
        present = torch.zeros_like(self.seen_classes)
        present[y] = True
        if len(self.buffer) == 0:
            logits = self.logits(x, task_id)
            loss = self.update(self.cross_entropy(mask_absent(logits, present), y))
        else:
            replay_x, replay_y, replay_task = self.buffer.sample(self.replay_batch_size)
            task_ids = self.joined_task_ids(task_id, len(x), replay_task)
            logits = self.logits(torch.cat([x, replay_x]), task_ids)
            replay_logits = logits[len(x) :].masked_fill(~self.seen_classes, MASK_VALUE)
            new_logits = mask_absent(logits[: len(x)], present)
            loss = self.update(
                self.cross_entropy(new_logits, y)
                + nn.functional.cross_entropy(replay_logits, replay_y)
            )
        self.buffer.add(x, y, self.task_column(task_id, len(x)))
        return loss

    def state_dict(self) -> dict[str, Any]:
        """The buffer and the classes seen so far."""
        return {**super().state_dict(), "seen_classes": self.seen_classes}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores the buffer and the classes seen."""
        super().load_state_dict(state)
        self.seen_classes = state["seen_classes"].to(self.device).clone()


def mask_absent(logits: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """The new rows' logits with every class absent from their batch masked out, so that
    their loss pushes only among the batch's classes (ER-ACE's asymmetric cross-entropy).

    Args:
        logits: (n, n_outputs) logits of the new rows.
        present: Bool (n_outputs,), True for the classes that occur in the batch.
    """
    return logits.masked_fill(~present, MASK_VALUE)
