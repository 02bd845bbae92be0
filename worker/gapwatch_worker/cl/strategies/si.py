"""SI: synaptic intelligence (Zenke, Poole & Ganguli, ICML 2017)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gapwatch.components import SISpec

from ..benchmarks.base import TaskData
from .base import BuildContext, Strategy


class SI(Strategy):
    """Cross-entropy plus si_c * sum_i Omega_i (theta_i - theta_prev,i)^2.

    During a task each parameter's path integral omega accumulates -g * delta_theta at every
    update, g being the gradient of the task's own loss (the cross-entropy, without the penalty,
    as in the paper's code) at the parameters before the update and delta_theta what the
    optimizer changed. At the task's end the importance grows by
    omega / ((theta_end - theta_start)^2 + epsilon), omega restarts from zero and theta_prev
    becomes theta_end.

    Attributes:
        omega: Per parameter, the running path integral of the current task.
        importance: Per parameter, Omega summed over the finished tasks.
        previous: Per parameter, its value at the end of the previous task (the anchor), which
            is also where the current task started.
        n_consolidated: Tasks folded into `importance`.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        device: torch.device,
        *,
        si_c: float = 0.1,
        epsilon: float = 1e-3,
        units_table: torch.Tensor | None = None,
    ):
        super().__init__(model, optimizer, device, units_table=units_table)
        self.si_c = si_c
        self.epsilon = epsilon
        self._params = [p for p in model.parameters() if p.requires_grad]
        self._names = [n for n, p in model.named_parameters() if p.requires_grad]
        self.omega = [torch.zeros_like(p) for p in self._params]
        self.importance = [torch.zeros_like(p) for p in self._params]
        self.previous = [p.detach().clone() for p in self._params]
        self.n_consolidated = 0
        self._before = [torch.empty_like(p) for p in self._params]  # reused every update

    @classmethod
    def from_spec(cls, spec: SISpec, ctx: BuildContext) -> SI:
        """Builds SI; the first task starts from the model's parameters at this call."""
        return cls(
            ctx.model,
            ctx.optimizer,
            ctx.device,
            si_c=spec.si_c,
            epsilon=spec.epsilon,
            units_table=ctx.units_table,
        )

    def penalty(self) -> torch.Tensor:
        """si_c * sum_i Omega_i (theta_i - theta_prev,i)^2."""
        total = torch.zeros((), device=self.device)
        for p, importance, previous in zip(
            self._params, self.importance, self.previous, strict=True
        ):
            total = total + (importance * (p - previous) ** 2).sum()
        return self.si_c * total

    def observe(self, x: torch.Tensor, y: torch.Tensor, task_id: int) -> torch.Tensor:
        """One update on cross-entropy + penalty, accumulating the path integral."""
        loss = nn.functional.cross_entropy(self.logits(x, task_id), y)
        penalised = self.n_consolidated > 0 and self.si_c > 0
        if penalised:
            loss = loss + self.penalty()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            torch._foreach_copy_(self._before, self._params)
            grads = [torch.zeros_like(p) if p.grad is None else p.grad for p in self._params]
            if penalised:
                # The task loss's gradient: the total's minus the penalty's, 2 c Omega (t - t_prev).
                penalty_grads = torch._foreach_sub(self._before, self.previous)
                torch._foreach_mul_(penalty_grads, self.importance)
                torch._foreach_mul_(penalty_grads, 2 * self.si_c)
                grads = torch._foreach_sub(grads, penalty_grads)
            self.optimizer.step()
            # omega += -g * (after - before) = g * (before - after)
            torch._foreach_sub_(self._before, self._params)
            torch._foreach_addcmul_(self.omega, grads, self._before)
        return loss.detach()

    def end_task(self, task_id: int, task_data: TaskData) -> None:
        """Folds the task's path integral into the importance and moves the anchor."""
        with torch.no_grad():
            for p, omega, importance, previous in zip(
                self._params, self.omega, self.importance, self.previous, strict=True
            ):
                importance += omega / ((p - previous) ** 2 + self.epsilon)
                previous.copy_(p)
                omega.zero_()
        self.n_consolidated += 1

    def state_dict(self) -> dict[str, Any]:
        """Path integral, importance, anchor and the number of finished tasks, by parameter name."""
        return {
            "omega": dict(zip(self._names, self.omega, strict=True)),
            "importance": dict(zip(self._names, self.importance, strict=True)),
            "previous": dict(zip(self._names, self.previous, strict=True)),
            "n_consolidated": self.n_consolidated,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what `state_dict` returned, on this strategy's device."""
        for key in ("omega", "importance", "previous"):
            tensors = getattr(self, key)
            for name, tensor in zip(self._names, tensors, strict=True):
                tensor.copy_(state[key][name])
        self.n_consolidated = int(state["n_consolidated"])
