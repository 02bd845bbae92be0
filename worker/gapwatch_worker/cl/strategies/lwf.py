"""LwF: learning without forgetting (Li & Hoiem, ECCV 2016 / TPAMI 2017)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from gapwatch.components import LwFSpec

from ..benchmarks.base import TaskData
from ..benchmarks.scenarios import MASK_VALUE, TASK_INCREMENTAL, output_targets
from .base import BuildContext, Strategy


class LwF(Strategy):
    """Cross-entropy plus alpha * distillation from the model as it was at the last task's end.

    The distillation is T^2 * KL(softmax(old / T) || softmax(new / T)) on the current batch,
    averaged over rows, over the output units of the earlier tasks: the classes seen before
    (class- and domain-incremental, one softmax over them), or each earlier task's head with
    its own softmax, the terms summed (task-incremental, Li & Hoiem's multi-head setting). The
    frozen copy runs in eval mode.

    Attributes:
        old_model: The frozen copy, None before the first task ends.
        old_units: For each softmax group of earlier-task units, its unit indices.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        device: torch.device,
        task_units: Sequence[Sequence[int]],
        *,
        per_task_softmax: bool = False,
        alpha: float = 1.0,
        temperature: float = 2.0,
        units_table: torch.Tensor | None = None,
    ):
        super().__init__(model, optimizer, device, units_table=units_table)
        self.task_units = [tuple(units) for units in task_units]
        self.per_task_softmax = per_task_softmax
        self.alpha = alpha
        self.temperature = temperature
        self.old_model: nn.Module | None = None
        self.n_finished = 0
        self.old_units: list[tuple[int, ...]] = []
        self._group_index: torch.Tensor | None = None  # (groups, width) unit indices, padded
        self._group_padding: torch.Tensor | None = None  # True where the index is padding
        self._padded = False  # a host-side copy of _group_padding.any()

    @classmethod
    def from_spec(cls, spec: LwFSpec, ctx: BuildContext) -> LwF:
        """Builds LwF; each task's output units follow from the benchmark's scenario."""
        benchmark = ctx.benchmark
        targets, _, _ = output_targets(benchmark.scenario, [t.classes for t in benchmark.tasks])
        return cls(
            ctx.model,
            ctx.optimizer,
            ctx.device,
            [sorted(set(mapping.values())) for mapping in targets],
            per_task_softmax=ctx.benchmark.scenario == TASK_INCREMENTAL,
            alpha=spec.alpha,
            temperature=spec.temperature,
            units_table=ctx.units_table,
        )

    def observe(self, x: torch.Tensor, y: torch.Tensor, task_id: int) -> torch.Tensor:
        """One update on cross-entropy + alpha * distillation (cross-entropy alone on task 0)."""
        outputs = self.model(x)
        loss = nn.functional.cross_entropy(self.mask(outputs, task_id), y)
        if self.old_model is not None and self.alpha > 0:
            with torch.no_grad():
                old_outputs = self.old_model(x)
            loss = loss + self.alpha * self.distillation(outputs, old_outputs)
        return self.update(loss)

    def distillation(self, outputs: torch.Tensor, old_outputs: torch.Tensor) -> torch.Tensor:
        """T^2 * KL(old || new) of the tempered softmaxes over the earlier tasks' units.

        Zero when the two sets of logits are equal; both are the models' unmasked outputs.
        """
        if self._group_index is None or self._group_padding is None:
            return torch.zeros((), device=outputs.device)
        t = self.temperature
        new = outputs[:, self._group_index] / t  # (rows, groups, width)
        old = old_outputs[:, self._group_index] / t
        if self._padded:
            new = new.masked_fill(self._group_padding, MASK_VALUE)
            old = old.masked_fill(self._group_padding, MASK_VALUE)
        log_new = torch.log_softmax(new, dim=-1)
        log_old = torch.log_softmax(old, dim=-1)
        kl = (log_old.exp() * (log_old - log_new)).sum(-1)  # (rows, groups)
        return t * t * kl.sum(1).mean()

    def end_task(self, task_id: int, task_data: TaskData) -> None:
        """Freezes a copy of the model and adds the task's units to the distilled ones."""
        self.n_finished = task_id + 1
        self._freeze(self.model.state_dict())
        self._set_groups()

    def _freeze(self, weights: dict[str, torch.Tensor]) -> None:
        if self.old_model is None:
            self.old_model = copy.deepcopy(self.model)
            for p in self.old_model.parameters():
                p.requires_grad_(False)
                p.grad = None
        self.old_model.load_state_dict(weights)
        self.old_model.eval()

    def _set_groups(self) -> None:
        earlier = self.task_units[: self.n_finished]
        if self.per_task_softmax:
            groups = earlier
        else:
            groups = [tuple(sorted({unit for units in earlier for unit in units}))]
        self.old_units = groups
        width = max(len(g) for g in groups)
        index = torch.tensor([[*g, *[g[0]] * (width - len(g))] for g in groups], dtype=torch.int64)
        padding = torch.tensor([[i >= len(g) for i in range(width)] for g in groups])
        self._group_index = index.to(self.device)
        self._group_padding = padding.to(self.device)
        self._padded = bool(padding.any())

    def state_dict(self) -> dict[str, Any]:
        """The frozen model's weights and the number of finished tasks."""
        return {
            "old_model": None if self.old_model is None else self.old_model.state_dict(),
            "n_finished": self.n_finished,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores the frozen model and the distilled units."""
        self.n_finished = int(state["n_finished"])
        if state["old_model"] is not None:
            self._freeze(state["old_model"])
            self._set_groups()
