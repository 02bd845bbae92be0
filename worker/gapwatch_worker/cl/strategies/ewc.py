"""EWC (Kirkpatrick et al. 2017) and online EWC (Schwarz et al. 2018)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from gapwatch.components import EWCSpec

from ..benchmarks.base import TaskData
from .base import BuildContext, Strategy
from .buffer import distinct_indices, to_device

# Per-sample gradients are computed in chunks of at most this many numbers (about 128 MB in
# float32), so that 1,024 samples of a 1M-parameter network never hold 4 GB at once.
FISHER_CHUNK_ELEMENTS = 2**25


class EWC(Strategy):
    """Cross-entropy plus a quadratic pull towards the parameters of earlier tasks.

    At each task's end the diagonal empirical Fisher F is computed from `fisher_samples` rows
    of the task's train set: per-sample gradients of the cross-entropy at the true targets,
    squared and averaged. The penalty is ewc_lambda / 2 * sum_t sum_i F_t,i (theta_i - a_t,i)^2
    over the finished tasks t with anchors a_t (the parameters at t's end).

    Offline (the default), the per-task quadratics are summed exactly into one: F = sum_t F_t,
    anchor = sum_t F_t a_t / F and a constant, so an update costs the same after 2 tasks or 100.
    Online: one running Fisher F <- gamma F + F_new and the latest parameters as the anchor.

    Attributes:
        fisher: Per parameter name, the (summed or running) Fisher; None before the first task
            ends.
        anchor: Per parameter name, the anchor of the penalty.
        penalty_offset: Offline: the constant that makes the merged quadratic equal the sum.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        device: torch.device,
        generator: torch.Generator,
        *,
        ewc_lambda: float = 100.0,
        online: bool = False,
        gamma: float = 1.0,
        fisher_samples: int = 1024,
        units_table: torch.Tensor | None = None,
    ):
        super().__init__(model, optimizer, device, units_table=units_table)
        self.generator = generator
        self.ewc_lambda = ewc_lambda
        self.online = online
        self.gamma = gamma
        self.fisher_samples = fisher_samples
        self.fisher: dict[str, torch.Tensor] | None = None
        self.anchor: dict[str, torch.Tensor] = {}
        self.penalty_offset = torch.zeros((), device=device)

    @classmethod
    def from_spec(cls, spec: EWCSpec, ctx: BuildContext) -> EWC:
        """Builds EWC or online EWC from the spec."""
        return cls(
            ctx.model,
            ctx.optimizer,
            ctx.device,
            ctx.generator("ewc/fisher"),
            ewc_lambda=spec.ewc_lambda,
            online=spec.online,
            gamma=spec.gamma,
            fisher_samples=spec.fisher_samples,
            units_table=ctx.units_table,
        )

    def observe(self, x: torch.Tensor, y: torch.Tensor, task_id: int) -> torch.Tensor:
        """One update on cross-entropy + penalty; returns that total, detached."""
        loss = nn.functional.cross_entropy(self.logits(x, task_id), y)
        if self.fisher is not None and self.ewc_lambda > 0:
            loss = loss + self.penalty()
        return self.update(loss)

    def penalty(self) -> torch.Tensor:
        """ewc_lambda / 2 * the sum over finished tasks of the Fisher-weighted squared distance."""
        if self.fisher is None:
            return torch.zeros((), device=self.device)
        total = self.penalty_offset
        for name, p in self.model.named_parameters():
            if name in self.fisher:
                total = total + (self.fisher[name] * (p - self.anchor[name]) ** 2).sum()
        return self.ewc_lambda / 2 * total

    def end_task(self, task_id: int, task_data: TaskData) -> None:
        """Computes the task's Fisher at the current parameters and folds it into the penalty."""
        new_fisher = self.empirical_fisher(task_id, task_data)
        params = {
            name: p.detach().clone()
            for name, p in self.model.named_parameters()
            if name in new_fisher
        }
        if self.fisher is None or self.online:
            if self.fisher is not None:
                new_fisher = {n: self.gamma * self.fisher[n] + f for n, f in new_fisher.items()}
            self.fisher, self.anchor = new_fisher, params
            return
        # Offline: F1 (t - a1)^2 + F2 (t - a2)^2 = F (t - a)^2 + c with F = F1 + F2,
        # a = (F1 a1 + F2 a2) / F and c = F1 a1^2 + F2 a2^2 - F a^2 (>= 0), per parameter.
        offset = self.penalty_offset.double()
        for name, f_new in new_fisher.items():
            f_old, a_old, a_new = self.fisher[name], self.anchor[name], params[name]
            f_sum = f_old + f_new
            weighted = f_old * a_old + f_new * a_new
            anchor = torch.where(f_sum > 0, weighted / f_sum, a_new)
            offset = offset + (
                (f_old.double() * a_old.double() ** 2).sum()
                + (f_new.double() * a_new.double() ** 2).sum()
                - (f_sum.double() * anchor.double() ** 2).sum()
            )
            self.fisher[name], self.anchor[name] = f_sum, anchor
        self.penalty_offset = offset.clamp(min=0).to(torch.float32)

    def empirical_fisher(self, task_id: int, task_data: TaskData) -> dict[str, torch.Tensor]:
        """Mean squared per-sample gradients of the cross-entropy on a sample of the train set.

        The model runs in eval mode for it (batch-norm statistics frozen, no dropout), on
        min(fisher_samples, n_train) distinct rows drawn with the strategy's generator.
        """
        n_train = len(task_data.train_y)
        rows = distinct_indices(n_train, min(self.fisher_samples, n_train), self.generator)
        index = to_device(rows, task_data.train_y.device)
        x, y = task_data.train_x[index], task_data.train_y[index]
        params = {n: p.detach() for n, p in self.model.named_parameters() if p.requires_grad}
        buffers = dict(self.model.named_buffers())

        def sample_loss(
            params: dict[str, torch.Tensor], xi: torch.Tensor, yi: torch.Tensor
        ) -> torch.Tensor:
            logits = functional_call(self.model, (params, buffers), (xi.unsqueeze(0),))
            return nn.functional.cross_entropy(self.mask(logits, task_id), yi.unsqueeze(0))

        per_sample_grads = vmap(grad(sample_loss), in_dims=(None, 0, 0))
        n_params = sum(p.numel() for p in params.values())
        chunk = max(1, FISHER_CHUNK_ELEMENTS // max(n_params, 1))
        fisher = {n: torch.zeros_like(p) for n, p in params.items()}
        was_training = self.model.training
        self.model.eval()
        try:
            for start in range(0, len(y), chunk):
                grads = per_sample_grads(params, x[start : start + chunk], y[start : start + chunk])
                for name, g in grads.items():
                    fisher[name] += (g * g).sum(0)
        finally:
            self.model.train(was_training)
        return {n: f / len(y) for n, f in fisher.items()}

    def state_dict(self) -> dict[str, Any]:
        """Fisher, anchor, offset and the sampling generator's state."""
        return {
            "fisher": self.fisher,
            "anchor": self.anchor,
            "penalty_offset": self.penalty_offset,
            "rng": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what `state_dict` returned, on this strategy's device."""
        fisher = state["fisher"]
        self.fisher = (
            None if fisher is None else {n: f.to(self.device).clone() for n, f in fisher.items()}
        )
        self.anchor = {n: a.to(self.device).clone() for n, a in state["anchor"].items()}
        self.penalty_offset = state["penalty_offset"].to(self.device).clone()
        self.generator.set_state(state["rng"])
