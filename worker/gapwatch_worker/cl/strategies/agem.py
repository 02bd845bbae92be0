"""A-GEM: averaged gradient episodic memory (Chaudhry et al., ICLR 2019)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gapwatch.components import AGEMSpec

from ..benchmarks.base import TaskData
from .base import BuildContext, Strategy, flat_gradient
from .buffer import ClassBalancedBuffer, distinct_indices, to_device


class AGEM(Strategy):
    """Projects each update so that, to first order, the loss on the memory cannot rise.

    g is the gradient on the new batch, g_ref the gradient on `reference_batch_size` rows drawn
    from the memory. If g . g_ref < 0 the update uses g - (g . g_ref / g_ref . g_ref) g_ref,
    else g itself; the choice is made on the device, without a host synchronisation.

    The memory is filled at each task's end, as in the paper: a uniform sample of the finished
    task's train set is offered to a memory balanced over tasks, so that after k tasks each
    holds buffer_size / k rows (the older tasks give up rows at random). While the first task
    trains the memory is empty and the update is plain SGD.

    Attributes:
        memory: (input, target, task id) rows, balanced over task ids.
        reference_batch_size: Memory rows per reference gradient.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        device: torch.device,
        memory: ClassBalancedBuffer,
        reference_batch_size: int,
        *,
        units_table: torch.Tensor | None = None,
    ):
        super().__init__(model, optimizer, device, units_table=units_table)
        self.memory = memory
        self.reference_batch_size = reference_batch_size

    @classmethod
    def from_spec(cls, spec: AGEMSpec, ctx: BuildContext) -> AGEM:
        """Builds A-GEM with a memory of buffer_size rows balanced over the tasks."""
        memory = ClassBalancedBuffer(
            spec.buffer_size,
            ctx.device,
            ctx.generator("agem/memory"),
            n_classes=len(ctx.benchmark.tasks),
            label_field=2,
        )
        return cls(
            ctx.model,
            ctx.optimizer,
            ctx.device,
            memory,
            spec.reference_batch_size,
            units_table=ctx.units_table,
        )

    def observe(self, x: torch.Tensor, y: torch.Tensor, task_id: int) -> torch.Tensor:
        """One update along the new batch's gradient, projected when it conflicts with memory."""
        loss = nn.functional.cross_entropy(self.logits(x, task_id), y)
        if len(self.memory) == 0:
            return self.update(loss)
        params = [p for p in self.model.parameters() if p.requires_grad]
        memory_x, memory_y, memory_task = self.memory.sample(self.reference_batch_size)
        reference_loss = nn.functional.cross_entropy(self.logits(memory_x, memory_task), memory_y)
        gradient = flat_gradient(loss, params)
        reference = flat_gradient(reference_loss, params)
        projected = project_gradient(gradient, reference)
        self.step_on_flat_gradient(params, projected)
        return loss.detach()

    def end_task(self, task_id: int, task_data: TaskData) -> None:
        """Offers a uniform sample of the task's train set (up to buffer_size rows) to memory."""
        n_train = len(task_data.train_y)
        rows = distinct_indices(n_train, min(self.memory.capacity, n_train), self.memory.generator)
        index = to_device(rows, task_data.train_y.device)
        self.memory.add(
            task_data.train_x[index], task_data.train_y[index], self.task_column(task_id, len(rows))
        )

    def state_dict(self) -> dict[str, Any]:
        """The memory and its generator."""
        return {"memory": self.memory.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores the memory."""
        self.memory.load_state_dict(state["memory"])


def project_gradient(gradient: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """A-GEM's projection of a flat gradient against a flat reference gradient.

    Returns `gradient` unchanged when gradient . reference >= 0, else its projection on the
    half-space where that product is zero: gradient - (g . r / r . r) r.
    """
    dot = torch.dot(gradient, reference)
    # Both branches are computed; the one divided by a zero r . r (then dot = 0) is discarded.
    scale = torch.where(dot < 0, dot / torch.dot(reference, reference), torch.zeros_like(dot))
    return gradient - scale * reference
