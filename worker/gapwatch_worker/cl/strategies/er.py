"""Experience replay: every update mixes the new batch with one drawn from a memory buffer."""

from __future__ import annotations

import torch
from torch import nn

from gapwatch.components import ERSpec

from ..benchmarks.base import TaskData
from .base import BuildContext
from .buffer import ClassBalancedBuffer, ReplayBuffer
from .replay import ReplayStrategy, replay_batch_size, reservoir_for


class ExperienceReplay(ReplayStrategy):
    """ER (Chaudhry et al. 2019, "On tiny episodic memories"; mammoth's `er`).

    The memory holds (input, target, task id) rows. Which rows, by `buffer_policy`:
    - reservoir: every batch is offered after its update; the memory is a uniform sample of
      the stream, the current task included;
    - class_balanced: every batch is offered after its update; equal slots per class seen;
    - task_end: nothing is offered per batch. At each task's end its whole train set is
      offered to a class-balanced memory, so that the memory is a uniform sample of each class
      seen so far, the older classes giving up slots at random (the buffer's seeded keys).
      Only earlier tasks are ever replayed, and nothing is replayed during the first task.
      This is De Lange et al.'s ER (ICLR 2023, github.com/mattdl/ContinualEvaluation,
      src/methods/replay.py: ERPlugin.after_training_exp updates an Avalanche
      ClassBalancedBuffer(adaptive_size=True) with the finished experience's dataset).
    A row offered per batch joins the memory after the update that first sees it, so it is
    never replayed in that update.

    Attributes:
        buffer: The replay memory.
        replay_batch_size: Replayed rows per update.
        replay_weight: None: one cross-entropy over the new and replayed rows together.
            w: (1 - w) * CE(new) + w * CE(replayed), and (1 - w) * CE(new) while the memory
            is empty: De Lange et al.'s loss with Lw_new = 1 - w (their ERStrategy weighs the
            new rows by Lw_new whether or not replayed rows follow, so under `task_end` the
            first task trains on (1 - w) * CE(new)).
        fill_at_task_end: The `task_end` policy: the memory is filled in `end_task` only.
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
        fill_at_task_end: bool = False,
        units_table: torch.Tensor | None = None,
    ):
        super().__init__(
            model, optimizer, device, buffer, replay_batch_size, units_table=units_table
        )
        self.replay_weight = replay_weight
        self.fill_at_task_end = fill_at_task_end

    @classmethod
    def from_spec(cls, spec: ERSpec, ctx: BuildContext) -> ExperienceReplay:
        """Builds ER; the replay batch defaults to the training batch size."""
        buffer: ReplayBuffer
        if spec.buffer_policy in ("class_balanced", "task_end"):
            buffer = ClassBalancedBuffer(
                spec.buffer_size,
                ctx.device,
                ctx.generator("er/buffer"),
                n_classes=ctx.benchmark.n_outputs,
            )
        else:
            buffer = reservoir_for(spec, ctx)
        return cls(
            ctx.model,
            ctx.optimizer,
            ctx.device,
            buffer,
            replay_batch_size(spec, ctx.training),
            spec.replay_weight,
            fill_at_task_end=spec.buffer_policy == "task_end",
            units_table=ctx.units_table,
        )

    def observe(self, x: torch.Tensor, y: torch.Tensor, task_id: int) -> torch.Tensor:
        """One update on the new batch plus a replayed one; then, unless the memory is filled
        at task ends, offers the new batch to the memory."""
        if len(self.buffer) == 0:
            objective = self.cross_entropy(self.logits(x, task_id), y)
            if self.replay_weight is not None:
                objective = (1 - self.replay_weight) * objective
        else:
            replay_x, replay_y, replay_task = self.buffer.sample(self.replay_batch_size)
            task_ids = self.joined_task_ids(task_id, len(x), replay_task)
            logits = self.logits(torch.cat([x, replay_x]), task_ids)
            if self.replay_weight is None:
                objective = self.cross_entropy(logits, torch.cat([y, replay_y]), len(x))
            else:
                new = self.cross_entropy(logits[: len(x)], y)
                replayed = nn.functional.cross_entropy(logits[len(x) :], replay_y)
                objective = (1 - self.replay_weight) * new + self.replay_weight * replayed
        loss = self.update(objective)
        if not self.fill_at_task_end:
            self.buffer.add(x, y, self.task_column(task_id, len(x)))
        return loss

    def end_task(self, task_id: int, task_data: TaskData) -> None:
        """`task_end` policy: offers the finished task's whole train set to the memory."""
        if not self.fill_at_task_end:
            return
        n = len(task_data.train_y)
        task_ids = torch.full((n,), task_id, dtype=torch.int64, device=self.device)
        self.buffer.add(task_data.train_x, task_data.train_y, task_ids)
