"""The strategy base class: one required method, `observe`, that makes one update."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from gapwatch.components import TrainingSpec

from ..benchmarks.base import Benchmark, TaskData
from ..benchmarks.scenarios import mask_logits, units_table
from ..cost import tensor_bytes
from ..seeding import make_generator

if TYPE_CHECKING:
    from .mitigations import Mitigations

TaskIds = int | torch.Tensor
"""The task of a batch: one int for a batch of one task, or an int64 tensor with one per row."""


@dataclass(frozen=True)
class BuildContext:
    """What a strategy is built around, shared by every strategy (built-in or plugin).

    Attributes:
        model: The network, already on `device`.
        optimizer: The run's optimizer over the model's parameters.
        training: Batch size and training length (some strategies size things from it).
        device: Where the model lives; memories are preallocated there.
        seed: The run's seed; each strategy derives its own random streams from it.
        benchmark: The run's tasks: their scenario (the task-incremental mask, the units LwF
            distils), output count, and train sets (joint training, A-GEM's memory).
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    training: TrainingSpec
    device: torch.device
    seed: int
    benchmark: Benchmark

    @cached_property
    def units_table(self) -> torch.Tensor | None:
        """Task-incremental: row k is task k's [start, end) output units; else None."""
        return units_table(self.benchmark)

    def generator(self, stream: str, device: torch.device | None = None) -> torch.Generator:
        """A generator seeded from the run's seed and `stream` (one stream per use, so that
        adding a draw to one part of a strategy changes no other part's numbers); on the CPU,
        or on `device` for noise drawn where the weights are."""
        return make_generator(self.seed, stream, device)


class Strategy:
    """A continual-learning method: how one batch of the current task updates the model.

    Subclasses implement `observe` and, when they need to, `begin_task` / `end_task` and the
    state methods. They own nothing of the loop: no evaluation, no reporting, no batching. Every
    loss goes through `logits`, which applies the task-incremental mask.

    Resuming: `load_state_dict` restores everything a strategy accumulated (memories and their
    generators, importances, anchors, old models); `begin_task` may be called again for the task
    in progress after it without changing anything.

    Attributes:
        model: The network being trained (already on `device`).
        optimizer: The run's optimizer, built once for the whole run.
        device: Where the model and the task tensors live.
        units_table: Task-incremental only: row k is task k's [start, end) output units, on
            `device`; None in the other scenarios (no mask).
        mitigations: The stability-gap mitigations `build_strategy` applies around a replay
            strategy whose spec asks for any (see `mitigations.py`); None otherwise.
    """

    mitigations: Mitigations | None = None

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        device: torch.device,
        *,
        units_table: torch.Tensor | None = None,
    ):
        self.model = model
        self.optimizer = optimizer
        self.device = device
        self.units_table = None if units_table is None else units_table.to(device)
        self._task_columns: dict[tuple[int, int], torch.Tensor] = {}

    @classmethod
    def from_spec(cls, spec: Any, ctx: BuildContext) -> Strategy:
        """Builds the strategy from its spec; strategies with options override this."""
        return cls(ctx.model, ctx.optimizer, ctx.device, units_table=ctx.units_table)

    def observe(self, x: torch.Tensor, y: torch.Tensor, task_id: int) -> torch.Tensor:
        """Makes one update on a batch of task `task_id`.

        Returns:
            The detached training loss, still on the device: calling `.item()` here would make
            CUDA wait for the update at every iteration.
        """
        raise NotImplementedError

    def begin_task(self, task_id: int, task_data: TaskData) -> None:
        """Called before the first update on task `task_id` (and again after a resume)."""

    def end_task(self, task_id: int, task_data: TaskData) -> None:
        """Called after the last update on task `task_id`."""

    # Rows of the last update that were the current task's, for a strategy that trains on rows
    # of its own choosing instead of the loop's batch (`joint`); None: the loop's batch.
    last_new_rows: int | None = None

    def memory_bytes(self) -> int:
        """Bytes of what the strategy keeps beyond the model (its memory, anchors, old models),
        the cost card's replay memory: by default the tensors of `state_dict()`, generator
        states left out."""
        return tensor_bytes(self.state_dict())

    def state_dict(self) -> dict[str, Any]:
        """The strategy's own state (not the model's or the optimizer's), for checkpoints.

        Tensors are returned by reference, for a checkpoint that saves them at once.
        """
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what `state_dict` returned."""

    # --- helpers for subclasses -------------------------------------------------------------

    def mask(self, logits: torch.Tensor, task_ids: TaskIds) -> torch.Tensor:
        """Task-incremental: fills the logits outside each row's task head with -1e9."""
        if self.units_table is None:
            return logits
        return mask_logits(logits, task_ids, self.units_table)

    def logits(self, x: torch.Tensor, task_ids: TaskIds) -> torch.Tensor:
        """The model's logits for `x`, masked to each row's task head when task-incremental."""
        return self.mask(self.model(x), task_ids)

    def task_column(self, task_id: int, n: int) -> torch.Tensor:
        """An int64 device tensor of n copies of task_id (cached: one per task and size)."""
        column = self._task_columns.get((task_id, n))
        if column is None:
            column = torch.full((n,), task_id, dtype=torch.int64, device=self.device)
            self._task_columns[(task_id, n)] = column
        return column

    def joined_task_ids(self, task_id: int, n: int, *others: torch.Tensor) -> TaskIds:
        """Task ids of a batch of n rows of task_id followed by rows with task ids `others`.

        Only the task-incremental mask reads them, so in the other scenarios no tensor is built.
        """
        if self.units_table is None:
            return task_id
        return torch.cat([self.task_column(task_id, n), *others])

    def update(self, loss: torch.Tensor) -> torch.Tensor:
        """One optimizer step on `loss`; returns it detached."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def cross_entropy(
        self, logits: torch.Tensor, y: torch.Tensor, n_new: int | None = None
    ) -> torch.Tensor:
        """Mean cross-entropy of `logits` against targets `y`, whose first `n_new` rows (all by
        default) are the current task's new rows: those get the soft targets of the
        `soft_targets` mitigation when it is on. A strategy calls this for every loss term that
        holds new rows, so that the mitigation applies to it."""
        if self.mitigations is None or not self.mitigations.soft_targets:
            return nn.functional.cross_entropy(logits, y)
        return self.mitigations.cross_entropy(logits, y, len(y) if n_new is None else n_new)

    def cross_entropy_step(
        self, x: torch.Tensor, y: torch.Tensor, task_ids: TaskIds
    ) -> torch.Tensor:
        """One optimizer step on the mean cross-entropy of `(x, y)`; returns the detached loss."""
        return self.update(self.cross_entropy(self.logits(x, task_ids), y))

    def step_on_flat_gradient(self, params: list[nn.Parameter], flat: torch.Tensor) -> None:
        """Sets the parameters' gradients from one flat vector (as `flat_gradient` makes it)
        and steps the optimizer: the update of the gradient-projecting strategies."""
        for p, g in zip(params, flat.split([p.numel() for p in params]), strict=True):
            p.grad = g.view_as(p)
        self.optimizer.step()


def flat_gradient(loss: torch.Tensor, params: list[nn.Parameter]) -> torch.Tensor:
    """d loss / d params, concatenated; zeros for parameters the loss does not reach."""
    grads = torch.autograd.grad(loss, params, materialize_grads=True)
    return torch.cat([g.reshape(-1) for g in grads])
