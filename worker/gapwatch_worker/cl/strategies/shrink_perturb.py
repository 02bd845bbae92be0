"""Shrink & Perturb (Ash & Adams 2020), after every update as Dohare et al. (2024) use it."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gapwatch.components import ShrinkPerturbSpec

from ..benchmarks.base import TaskData
from .base import BuildContext, Strategy


class ShrinkPerturb(Strategy):
    """Plain cross-entropy updates; the weights are shrunk and perturbed,
    theta <- shrink * theta + noise_std * eps with eps ~ N(0, 1) drawn per weight.

    Ash & Adams, "On warm-starting neural network training" (NeurIPS 2020) apply it once when
    new data arrives (`at: task_start`: when each task after the first begins). Dohare et al.,
    "Loss of plasticity in deep continual learning" (Nature 2024), apply it after every update
    (`at: update`); in their released code (github.com/shibhansh/loss-of-plasticity,
    lop/algos/bp.py) the shrink is SGD's weight decay (shrink = 1 - step_size * weight_decay)
    and the noise is added to every layer's weight and bias after each step.

    Every parameter is shrunk and perturbed, in `model.parameters()` order, with noise from the
    strategy's own generator (its state in `state_dict`). Task starts are counted in the state
    too, so beginning the task in progress again after a resume perturbs nothing.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        device: torch.device,
        generator: torch.Generator,
        *,
        shrink: float = 0.9999,
        noise_std: float = 1e-4,
        at: str = "update",
        units_table: torch.Tensor | None = None,
    ):
        super().__init__(model, optimizer, device, units_table=units_table)
        if at not in ("update", "task_start"):
            raise ValueError(f"at must be 'update' or 'task_start', not {at!r}")
        self.generator = generator
        self.shrink = shrink
        self.noise_std = noise_std
        self.at = at
        self.last_task_started = -1

    @classmethod
    def from_spec(cls, spec: ShrinkPerturbSpec, ctx: BuildContext) -> ShrinkPerturb:
        """Builds Shrink & Perturb with a generator on the model's device seeded as stream
        "shrink_perturb" (on the CPU it is that stream's generator; on CUDA the noise is drawn
        where the weights are, with no copy per update)."""
        return cls(
            ctx.model,
            ctx.optimizer,
            ctx.device,
            ctx.generator("shrink_perturb", ctx.device),
            shrink=spec.shrink,
            noise_std=spec.noise_std,
            at=spec.at,
            units_table=ctx.units_table,
        )

    @torch.no_grad()
    def shrink_and_perturb(self) -> None:
        """theta <- shrink * theta + noise_std * eps for every parameter (noise drawn on the
        generator's device)."""
        device = self.generator.device
        for p in self.model.parameters():
            p.mul_(self.shrink)
            if self.noise_std > 0:
                noise = torch.randn(p.shape, generator=self.generator, device=device, dtype=p.dtype)
                p.add_(noise.to(p.device), alpha=self.noise_std)

    def observe(self, x: torch.Tensor, y: torch.Tensor, task_id: int) -> torch.Tensor:
        """One cross-entropy update, then (at: update) shrink and perturb."""
        loss = self.cross_entropy_step(x, y, task_id)
        if self.at == "update":
            self.shrink_and_perturb()
        return loss

    def begin_task(self, task_id: int, task_data: TaskData) -> None:
        """at: task_start: shrink and perturb when a task after the first begins (once)."""
        if self.at == "task_start" and task_id > max(self.last_task_started, 0):
            self.shrink_and_perturb()
        self.last_task_started = max(self.last_task_started, task_id)

    def state_dict(self) -> dict[str, Any]:
        """The generator's state and the last task begun."""
        return {"rng": self.generator.get_state(), "last_task_started": self.last_task_started}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what `state_dict` returned."""
        self.generator.set_state(state["rng"].cpu())
        self.last_task_started = int(state["last_task_started"])
