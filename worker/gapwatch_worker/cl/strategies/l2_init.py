"""L2-Init (Kumar, Marklund & Van Roy 2023): regularise toward the initial weights."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gapwatch.components import L2InitSpec

from .base import BuildContext, Strategy


class L2Init(Strategy):
    """Cross-entropy plus lambda * sum ||theta - theta_0||^2 over all parameters.

    Kumar, Marklund & Van Roy, "Maintaining plasticity in continual learning via regenerative
    regularization" (2023): unlike L2 toward zero (weight decay), the pull toward the weights
    the network started with keeps it near a point from which it could learn, so the loss of
    plasticity that weight growth and dormant units bring is held back. theta_0 is copied when
    the strategy is built (the model is freshly initialised then) and saved in `state_dict`, so
    a resumed run regularises toward the same point. The penalty has no 1/2 factor, as in the
    paper: its gradient is 2 lambda (theta - theta_0).

    Attributes:
        initial: Per parameter name, theta_0.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        device: torch.device,
        *,
        l2_init_lambda: float = 0.01,
        units_table: torch.Tensor | None = None,
    ):
        super().__init__(model, optimizer, device, units_table=units_table)
        self.l2_init_lambda = l2_init_lambda
        self.initial = {
            name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad
        }

    @classmethod
    def from_spec(cls, spec: L2InitSpec, ctx: BuildContext) -> L2Init:
        """Builds L2-Init from its spec, anchored at the model's current (initial) weights."""
        return cls(
            ctx.model,
            ctx.optimizer,
            ctx.device,
            l2_init_lambda=spec.l2_init_lambda,
            units_table=ctx.units_table,
        )

    def penalty(self) -> torch.Tensor:
        """lambda * sum over parameters of ||theta - theta_0||^2."""
        total = torch.zeros((), device=self.device)
        for name, p in self.model.named_parameters():
            if name in self.initial:
                total = total + (p - self.initial[name]).pow(2).sum()
        return self.l2_init_lambda * total

    def observe(self, x: torch.Tensor, y: torch.Tensor, task_id: int) -> torch.Tensor:
        """One update on cross-entropy + penalty; returns that total, detached."""
        loss = nn.functional.cross_entropy(self.logits(x, task_id), y)
        if self.l2_init_lambda > 0:
            loss = loss + self.penalty()
        return self.update(loss)

    def state_dict(self) -> dict[str, Any]:
        """The initial weights theta_0."""
        return {"initial": self.initial}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores theta_0 on this strategy's device."""
        self.initial = {n: t.to(self.device).clone() for n, t in state["initial"].items()}
