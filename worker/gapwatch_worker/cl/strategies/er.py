"""Experience replay: every update mixes the new batch with one drawn from a memory buffer."""

from __future__ import annotations

import torch
from torch import nn

from gapwatch.spec import ERSpec

from ..seeding import make_generator
from .base import BuildContext
from .buffer import ClassBalancedBuffer, ReplayBuffer
from .replay import ReplayStrategy, replay_batch_size, reservoir_for


class ExperienceReplay(ReplayStrategy):
    """ER (Chaudhry et al. 2019, "On tiny episodic memories"; mammoth's `er`).

    The memory holds (input, target, task id) rows: a uniform sample of the stream (reservoir)
    or equal slots per class (class_balanced). A row joins the memory after the update that
    first sees it, so it is never replayed in that update.

    Attributes:
        buffer: The replay memory.
        replay_batch_size: Replayed rows per update.
        replay_weight: None: one cross-entropy over the new and replayed rows together.
            w: (1 - w) * CE(new) + w * CE(replayed). While the memory is empty (the very first
            update) the loss is CE(new) either way.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        device: torch.device,
        buffer: ReplayBuffer,
        replay_batch_size: int,
        replay_weight: float | None = None,
        *,
        units_table: torch.Tensor | None = None,
    ):
        super().__init__(
            model, optimizer, device, buffer, replay_batch_size, units_table=units_table
        )
        self.replay_weight = replay_weight

    @classmethod
    def from_spec(cls, spec: ERSpec, ctx: BuildContext) -> ExperienceReplay:
        """Builds ER; the replay batch defaults to the training batch size."""
        buffer: ReplayBuffer
        if spec.buffer_policy == "class_balanced":
            generator = make_generator(ctx.seed, "er/buffer")
            buffer = ClassBalancedBuffer(
                spec.buffer_size, ctx.device, generator, n_classes=ctx.benchmark.n_outputs
            )
        else:
            buffer = reservoir_for(spec, ctx.device, ctx.seed)
        return cls(
            ctx.model,
            ctx.optimizer,
            ctx.device,
            buffer,
            replay_batch_size(spec, ctx.training),
            spec.replay_weight,
            units_table=ctx.units_table,
        )

    def observe(self, x: torch.Tensor, y: torch.Tensor, task_id: int) -> torch.Tensor:
        """One update on the new batch plus a replayed one, then offers the new batch to memory."""
        if len(self.buffer) == 0:
            loss = self.cross_entropy_step(x, y, task_id)
        else:
            replay_x, replay_y, replay_task = self.buffer.sample(self.replay_batch_size)
            task_ids = self.joined_task_ids(task_id, len(x), replay_task)
            logits = self.logits(torch.cat([x, replay_x]), task_ids)
            if self.replay_weight is None:
                objective = nn.functional.cross_entropy(logits, torch.cat([y, replay_y]))
            else:
                new = nn.functional.cross_entropy(logits[: len(x)], y)
                replayed = nn.functional.cross_entropy(logits[len(x) :], replay_y)
                objective = (1 - self.replay_weight) * new + self.replay_weight * replayed
            loss = self.update(objective)
        self.buffer.add(x, y, self.task_column(task_id, len(x)))
        return loss
