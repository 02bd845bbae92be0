"""The strategy base class: one required method, `observe`, that makes one update."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gapwatch.spec import TrainingSpec

from ..benchmarks.base import TaskData


class Strategy:
    """A continual-learning method: how one batch of the current task updates the model.

    Subclasses implement `observe` and, when they need to, `begin_task` / `end_task` and the
    state methods. They own nothing of the loop: no evaluation, no reporting, no batching.

    Attributes:
        model: The network being trained (already on `device`).
        optimizer: The run's optimizer, built once for the whole run.
        device: Where the model and the task tensors live.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, device: torch.device):
        self.model = model
        self.optimizer = optimizer
        self.device = device

    @classmethod
    def from_spec(
        cls,
        spec: Any,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        training: TrainingSpec,
        device: torch.device,
        seed: int,
    ) -> Strategy:
        """Builds the strategy from its spec; strategies with options override this."""
        return cls(model, optimizer, device)

    def observe(self, x: torch.Tensor, y: torch.Tensor, task_id: int) -> torch.Tensor:
        """Makes one update on a batch of task `task_id`.

        Returns:
            The detached training loss, still on the device: calling `.item()` here would make
            CUDA wait for the update at every iteration.
        """
        raise NotImplementedError

    def begin_task(self, task_id: int, task_data: TaskData) -> None:
        """Called before the first update on task `task_id`."""

    def end_task(self, task_id: int, task_data: TaskData) -> None:
        """Called after the last update on task `task_id`."""

    def state_dict(self) -> dict[str, Any]:
        """The strategy's own state (not the model's or the optimizer's), for checkpoints."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what `state_dict` returned."""

    def cross_entropy_step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One optimizer step on the mean cross-entropy of `(x, y)`; returns the detached loss."""
        self.optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(self.model(x), y)
        loss.backward()
        self.optimizer.step()
        return loss.detach()
