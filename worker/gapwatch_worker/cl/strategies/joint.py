"""Incremental joint training: every batch drawn from all tasks seen so far (the upper bound)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from gapwatch.components import JointSpec

from ..benchmarks.base import TaskData
from .base import BuildContext, Strategy
from .buffer import distinct_indices, to_device


class Joint(Strategy):
    """Trains on uniform batches of the union of the train sets of every task seen so far.

    The batch the loop passes (of the current task) only gives the batch size: each update
    draws its own batch of that size, distinct rows uniformly from the union, with a seeded CPU
    generator. The union is kept as references to the tasks' preloaded tensors, never copied.

    Attributes:
        tasks: Every task of the benchmark, in order.
        seen_tasks: Indices of the tasks in the union, in the order they were added.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        device: torch.device,
        tasks: Sequence[TaskData],
        generator: torch.Generator,
        *,
        units_table: torch.Tensor | None = None,
    ):
        super().__init__(model, optimizer, device, units_table=units_table)
        self.tasks = tuple(tasks)
        self.generator = generator
        self.seen_tasks: list[int] = []
        self._offsets = torch.zeros(1, dtype=torch.int64)  # start row of each seen task
        self._n_rows = 0

    @classmethod
    def from_spec(cls, spec: JointSpec, ctx: BuildContext) -> Joint:
        """Builds joint training over the benchmark's tasks."""
        return cls(
            ctx.model,
            ctx.optimizer,
            ctx.device,
            ctx.benchmark.tasks,
            ctx.generator("joint/batches"),
            units_table=ctx.units_table,
        )

    def begin_task(self, task_id: int, task_data: TaskData) -> None:
        """Adds the task to the union (once)."""
        self._include(task_id)

    def _include(self, task_id: int) -> None:
        if task_id in self.seen_tasks:
            return
        self.seen_tasks.append(task_id)
        sizes = [len(self.tasks[k].train_y) for k in self.seen_tasks]
        self._offsets = torch.tensor([0, *sizes[:-1]], dtype=torch.int64).cumsum(0)
        self._n_rows = sum(sizes)

    def draw_batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A uniform batch of distinct rows of the union: inputs, targets, and each row's task.

        The rows come grouped by task (the order does not matter to a mean loss). Raises
        ValueError if no task was added yet.
        """
        if not self.seen_tasks:
            raise ValueError("no task seen yet")
        rows = distinct_indices(self._n_rows, min(size, self._n_rows), self.generator)
        if len(self.seen_tasks) == 1:
            self.last_new_rows = len(rows)
            task = self.tasks[self.seen_tasks[0]]
            index = to_device(rows, self.device)
            return (
                task.train_x[index],
                task.train_y[index],
                self.task_column(task_id=self.seen_tasks[0], n=len(rows)),
            )
        # All bookkeeping on the CPU; one transfer of the local indices, one gather per task.
        position = torch.bucketize(rows, self._offsets, right=True) - 1
        order = torch.argsort(position, stable=True)
        rows, position = rows[order], position[order]
        local = to_device(rows - self._offsets[position], self.device)
        counts = torch.bincount(position, minlength=len(self.seen_tasks)).tolist()
        self.last_new_rows = counts[-1]  # the task included last is the current one
        xs, ys = [], []
        for k, part in zip(self.seen_tasks, torch.split(local, counts), strict=True):
            if len(part):
                xs.append(self.tasks[k].train_x[part])
                ys.append(self.tasks[k].train_y[part])
        task_ids = to_device(
            torch.tensor(self.seen_tasks, dtype=torch.int64)[position], self.device
        )
        return torch.cat(xs), torch.cat(ys), task_ids

    def observe(self, x: torch.Tensor, y: torch.Tensor, task_id: int) -> torch.Tensor:
        """One cross-entropy update on a batch of len(x) rows drawn from the union."""
        self._include(task_id)
        batch_x, batch_y, task_ids = self.draw_batch(len(x))
        return self.cross_entropy_step(batch_x, batch_y, task_ids)

    def memory_bytes(self) -> int:
        """Retraining keeps every seen task's train split (the benchmark's tensors)."""
        return sum(
            self.tasks[k].train_x.nbytes + self.tasks[k].train_y.nbytes for k in self.seen_tasks
        )

    def state_dict(self) -> dict[str, Any]:
        """The tasks in the union and the batch generator's state (the data are the benchmark's)."""
        return {"seen_tasks": list(self.seen_tasks), "rng": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores the union and the generator."""
        self.seen_tasks = []
        for task_id in state["seen_tasks"]:
            self._include(int(task_id))
        self.generator.set_state(state["rng"])
