"""The run's optimizer, built once for the whole run (never rebuilt at task boundaries)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from gapwatch.components import OptimizerSpec

from .seeding import make_generator


class UPGD(torch.optim.Optimizer):
    """Utility-based perturbed gradient descent (Elsayed & Mahmood, ICLR 2024, "Addressing loss
    of plasticity and catastrophic forgetting in continual learning"), the first-order global
    variant of the released code (github.com/mohmdelsayed/upgd,
    core/optim/weight_upgd/first_order.py, `FirstOrderGlobalUPGD`).

    Each weight keeps a running utility trace u <- beta u + (1 - beta) (-grad * param) (the
    first-order estimate of how much the loss would rise if the weight were zeroed). A step:

        s = sigmoid((u / (1 - beta^t)) / m),   m = max over all weights of the trace u
        param <- param * (1 - lr * weight_decay) - lr * (grad + sigma * noise) * (1 - s)

    so weights of high utility are protected (s near 1) and useless ones get the full gradient
    plus Gaussian noise that keeps them plastic. As in the released code, the global maximum m
    is taken over the traces before bias correction (the numerator is bias-corrected), so
    early on with beta near 1 the scaled utilities saturate; the paper's Algorithm 1 takes the
    maximum of the corrected utilities, which differs from this by the factor 1 - beta^t only.
    A maximum of exactly 0 (all traces zero, e.g. all-zero weights) is replaced by 1 to avoid
    0/0, which the released code does not guard against. Parameters without a gradient are
    skipped (their trace and step count stay as they are).

    The noise comes from a generator of this optimizer on the parameters' device, seeded from
    `seed`; its state is part of `state_dict`, so a resumed run draws the same noise as an
    uninterrupted one (independently of torch's global RNG).
    """

    def __init__(
        self,
        params: Iterable[nn.Parameter] | Iterable[dict[str, Any]],
        lr: float = 0.01,
        weight_decay: float = 0.0,
        beta_utility: float = 0.999,
        sigma: float = 0.001,
        *,
        seed: int,
    ):
        defaults = {
            "lr": lr,
            "weight_decay": weight_decay,
            "beta_utility": beta_utility,
            "sigma": sigma,
        }
        super().__init__(params, defaults)
        first = next(p for group in self.param_groups for p in group["params"])
        self.generator = make_generator(seed, "upgd", first.device)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """One UPGD step on the gradients the parameters hold."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        maxima = []
        for group in self.param_groups:
            beta = group["beta_utility"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["avg_utility"] = torch.zeros_like(p)
                state["step"] += 1
                state["avg_utility"].mul_(beta).add_(-p.grad * p, alpha=1 - beta)
                maxima.append(state["avg_utility"].max())
        if not maxima:
            return loss
        global_max = torch.stack(maxima).max()
        global_max = torch.where(global_max == 0, torch.ones_like(global_max), global_max)
        for group in self.param_groups:
            lr, sigma = group["lr"], group["sigma"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                bias_correction = 1 - group["beta_utility"] ** state["step"]
                scaled = torch.sigmoid(state["avg_utility"] / bias_correction / global_max)
                direction = p.grad
                if sigma > 0:
                    noise = torch.randn(
                        p.shape, generator=self.generator, device=p.device, dtype=p.dtype
                    )
                    direction = direction + sigma * noise
                p.mul_(1 - lr * group["weight_decay"]).add_(direction * (1 - scaled), alpha=-lr)
        return loss

    def state_dict(self) -> dict[str, Any]:
        """torch's optimizer state plus the noise generator's state."""
        state = super().state_dict()
        state["noise_rng"] = self.generator.get_state()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores what `state_dict` returned (the generator too, when it is there)."""
        state_dict = dict(state_dict)
        rng = state_dict.pop("noise_rng", None)
        super().load_state_dict(state_dict)
        if rng is not None:
            self.generator.set_state(rng.cpu())


def build_optimizer(
    spec: OptimizerSpec, parameters: Iterable[nn.Parameter], *, seed: int
) -> torch.optim.Optimizer:
    """Builds the run's optimizer from its spec.

    Args:
        spec: The optimizer part of the run spec.
        parameters: What it optimizes.
        seed: The run's seed: UPGD draws its noise from its stream "upgd".
    """
    if spec.name == "sgd":
        return torch.optim.SGD(
            parameters, lr=spec.lr, momentum=spec.momentum, weight_decay=spec.weight_decay
        )
    if spec.name == "adam":
        return torch.optim.Adam(parameters, lr=spec.lr, weight_decay=spec.weight_decay)
    if spec.name == "upgd":
        return UPGD(
            parameters,
            lr=spec.lr,
            weight_decay=spec.weight_decay,
            beta_utility=spec.beta_utility,
            sigma=spec.sigma,
            seed=seed,
        )
    raise ValueError(f"unknown optimizer {spec.name!r}")
