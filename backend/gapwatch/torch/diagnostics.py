"""Plasticity diagnostics: how much of a network is still able to learn (METRICS.md).

Pure functions with hand-checkable semantics, and `ProbeDiagnostics`, which captures a fixed
probe batch's hidden activations with forward hooks during a forward the caller makes anyway
(the continual evaluation's no-grad pass) and returns every value as one device tensor, so that
an evaluation still costs one device-to-host copy.

- Dormant units (Dohare et al., "Loss of plasticity in deep continual learning", Nature 2024;
  released code `lop/algos/cbp_linear.py` / `lop/utils/miscellaneous.py`): a unit is dormant
  when its mean |activation| over the probe batch, divided by the mean of that over its layer,
  is at most tau.
- Effective rank (Roy & Vetterli 2007, as used by Dohare et al. 2024 and Kumar et al. 2021):
  exp of the entropy of the normalised singular values p_i = s_i / sum_j s_j of the layer's
  (probe rows x units) feature matrix. Stable rank: sum s_i^2 / s_max^2.
- Weight magnitude: mean |w| and the 2-norm of the flattened weight (Frobenius norm) of every
  module that holds a `weight` parameter of two or more dimensions (Linear, Conv, Embedding:
  not the per-channel scales of normalisation layers), in `model.modules()` order.
- Gradient norm: ||g||_2 over all parameters' `.grad` after the last update.
- Plasticity of an update (Elsayed & Mahmood, "Addressing loss of plasticity and catastrophic
  forgetting in continual learning", ICLR 2024): clamp(1 - loss_after / loss_before, 0, 1), the
  loss measured on the update's own batch before and after it.

Convolutional activations (N, C, H, W): a channel is a unit. Its activity is the mean |a| over
the batch and the spatial positions; the rank is taken over the (N, C) matrix of the channels'
spatially averaged activations (one feature per channel and probe row). Any other shape with
more than two dimensions is flattened to (N, features).

Singular values come from the eigenvalues of the smaller Gram matrix (A A^T or A^T A): about 3x
cheaper than an SVD on a CPU; eigenvalues that rounding makes negative are clamped at 0.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn

from gapwatch.components import (
    DIAG_DORMANT,
    DIAG_GRAD_NORM,
    DIAG_PLASTICITY,
    diag_key,
)

# Modules whose outputs are the hidden features the diagnostics look at.
ACTIVATIONS: tuple[type[nn.Module], ...] = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.RReLU,
    nn.ELU,
    nn.CELU,
    nn.SELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Softplus,
    nn.Tanh,
    nn.Sigmoid,
    nn.Hardtanh,
    nn.Hardswish,
    nn.Hardsigmoid,
)


def unit_activity(activations: torch.Tensor) -> torch.Tensor:
    """Mean |activation| of each unit over the batch (and space, for (N, C, ...) maps).

    Args:
        activations: (N, D) features, or (N, C, ...) maps whose channels are the units.

    Returns:
        (units,) float tensor.
    """
    a = activations.abs()
    if a.dim() == 2:
        return a.mean(dim=0)
    if a.dim() > 2:
        return a.flatten(2).mean(dim=(0, 2))
    raise ValueError(f"activations need a batch and a unit dimension, got {tuple(a.shape)}")


def dormant_mask(activations: torch.Tensor, tau: float) -> torch.Tensor:
    """Which units are dormant: activity / (the layer's mean activity) <= tau.

    A layer whose every unit is silent (mean 0) is all dormant.
    """
    activity = unit_activity(activations).float()
    mean = activity.mean()
    score = activity / mean.clamp_min(torch.finfo(torch.float32).tiny)
    return score <= tau


def dormant_share(activations: torch.Tensor, tau: float = 0.01) -> torch.Tensor:
    """Share of dormant units of one layer, a 0-dim tensor in [0, 1]."""
    return dormant_mask(activations, tau).float().mean()


def feature_matrix(activations: torch.Tensor) -> torch.Tensor:
    """The (N, units) matrix the ranks are taken over: the features themselves for (N, D); the
    channels' spatial means for (N, C, H, W); (N, rest) flattened otherwise."""
    if activations.dim() == 4:
        return activations.mean(dim=(2, 3))
    return activations.flatten(1)


def gram(matrix: torch.Tensor) -> torch.Tensor:
    """The smaller Gram matrix of a 2-D matrix: A A^T (rows <= columns) or A^T A, in float64.

    Squaring the matrix squares its condition number: in float32 every singular value below
    about sqrt(eps32) * s_max (3e-4 s_max) would come out near that floor instead of near 0,
    which lifts the effective rank of exactly the collapsed, low-rank features loss of
    plasticity produces (a rank-2 1000x1000 matrix read as 2.8). float64 puts the floor at
    1e-8 s_max."""
    a = matrix.double()
    return a @ a.T if a.shape[0] <= a.shape[1] else a.T @ a


def singular_values_of_grams(grams: torch.Tensor) -> torch.Tensor:
    """Singular values (descending) from Gram matrices (..., k, k): sqrt(max(lambda_i, 0)).

    The symmetric eigensolver can fail to converge on matrices with many repeated eigenvalues
    (a layer whose units are mostly dead has many zero rows: a common late state of loss of
    plasticity); the singular values of a positive semi-definite matrix are its eigenvalues,
    and the SVD's solver then takes over.
    """
    try:
        eigenvalues = torch.linalg.eigvalsh(grams)
    except torch.linalg.LinAlgError:
        return torch.linalg.svdvals(grams).clamp_min(0).sqrt()
    return eigenvalues.clamp_min(0).sqrt().flip(-1)


def singular_values(matrix: torch.Tensor) -> torch.Tensor:
    """Singular values of a 2-D matrix (descending), via the smaller Gram matrix's eigenvalues.

    s_i = sqrt(max(lambda_i, 0)), lambda the eigenvalues of A A^T or A^T A (whichever is smaller).
    """
    return singular_values_of_grams(gram(matrix))


def effective_rank(s: torch.Tensor) -> torch.Tensor:
    """exp(-sum p_i log p_i), p_i = s_i / sum s (0 log 0 = 0); 0 for an all-zero matrix.

    `s` may hold several layers' values along its last dimension (one rank per row).
    """
    total = s.sum(dim=-1, keepdim=True)
    p = s / total.clamp_min(torch.finfo(s.dtype).tiny)
    entropy = -(torch.special.xlogy(p, p)).sum(dim=-1)
    return torch.where(total.squeeze(-1) > 0, entropy.exp(), 0.0)


def stable_rank(s: torch.Tensor) -> torch.Tensor:
    """sum s_i^2 / max s_i^2; 0 for an all-zero matrix (per row, like `effective_rank`)."""
    squares = s.square()
    top = squares.amax(dim=-1)
    ratio = squares.sum(dim=-1) / top.clamp_min(torch.finfo(s.dtype).tiny)
    return torch.where(top > 0, ratio, 0.0)


def weight_layers(model: nn.Module) -> list[nn.Module]:
    """Modules with a `weight` parameter of at least two dimensions, in `modules()` order:
    layer_<i> of the diagnostics keys."""
    return [
        m
        for m in model.modules()
        if isinstance(getattr(m, "weight", None), nn.Parameter) and m.weight.dim() >= 2
    ]


def weight_magnitudes(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean |w|, ||w||_2 of the flattened weight)."""
    w = weight.detach().float()
    return w.abs().mean(), torch.linalg.vector_norm(w)


def gradient_norm(parameters: Iterable[torch.Tensor]) -> torch.Tensor | None:
    """||g||_2 over every parameter's `.grad` (those without one skipped); None if none has one."""
    grads = [p.grad.detach().float() for p in parameters if p.grad is not None]
    if not grads:
        return None
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))


def plasticity(loss_before: torch.Tensor, loss_after: torch.Tensor) -> torch.Tensor:
    """clamp(1 - after / before, 0, 1): the share of the batch's loss one update removed.

    A zero `loss_before` (nothing left to learn) gives 0.
    """
    before = loss_before.double()
    ratio = loss_after.double() / before.clamp_min(torch.finfo(torch.float64).tiny)
    return torch.where(before > 0, (1 - ratio).clamp(0, 1), torch.zeros_like(ratio))


def batch_loss(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    logits_fn: Any = None,
) -> torch.Tensor:
    """Mean cross-entropy of (x, y), without gradients, in eval mode (BatchNorm statistics and
    dropout untouched), the model put back in the mode it was in. The plasticity's loss.

    Args:
        logits_fn: Maps x to logits (default: the model), e.g. a strategy's masked `logits`.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model(x) if logits_fn is None else logits_fn(x)
            return nn.functional.cross_entropy(logits, y).detach()
    finally:
        model.train(was_training)


class ProbeDiagnostics:
    """Captures a probe batch's hidden activations during a forward and computes every
    diagnostic from them.

    The probe rows are rows [start, stop) of the stream of inputs the model receives while
    `capture` is active, counted across calls (a chunked evaluation forwards consecutive
    chunks), so the probe costs no extra forward. Hidden layers are the activation modules
    (`ACTIVATIONS`) in the order they run (hidden_<i>); a module's output that is the model's
    own output is not hidden. A module called several times in one forward counts once (its
    first call). A model without activation modules (one applying `torch.relu` functionally,
    as the reduced ResNet-18 does) has one hidden layer instead: the input of its last weight
    layer (the penultimate features, where Dohare et al. 2024 measure the effective rank).

    Args:
        model: The network (its activation modules get hooks only inside `capture`).
        dormant_threshold: tau of the dormant-unit test.
    """

    def __init__(self, model: nn.Module, dormant_threshold: float = 0.01):
        self.model = model
        self.tau = dormant_threshold
        self._activations = [m for m in model.modules() if isinstance(m, ACTIVATIONS)]
        self._weight_layers = weight_layers(model)
        # Without activation modules: the last weight layer's input is the one hidden layer.
        self._penultimate = (
            self._weight_layers[-1] if not self._activations and self._weight_layers else None
        )
        self._captured: dict[int, list[torch.Tensor]] = {}
        self._order: list[int] = []
        self._outputs: dict[int, torch.Tensor] = {}
        self._offset = 0
        self._chunk_rows = 0
        self._rows = (0, 0)

    @contextlib.contextmanager
    def capture(self, start: int, stop: int) -> Iterator[None]:
        """Inside, the hooks keep rows [start, stop) of each hidden activation's output."""
        self._captured, self._order, self._offset, self._rows = {}, [], 0, (start, stop)
        handles = [self.model.register_forward_pre_hook(self._begin_forward)]
        handles += [m.register_forward_hook(self._hook(i)) for i, m in enumerate(self._activations)]
        if self._penultimate is not None:
            keep = self._hook(0)
            handles.append(
                self._penultimate.register_forward_pre_hook(
                    lambda module, args: keep(module, args, args[0] if args else None)
                )
            )
        handles.append(self.model.register_forward_hook(self._end_forward))
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()
            self._outputs = {}

    def _begin_forward(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        self._outputs = {}  # this forward's full outputs, by activation index
        self._chunk_rows = int(args[0].shape[0]) if args and torch.is_tensor(args[0]) else 0

    def _hook(self, index: int) -> Any:
        def keep(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            if index in self._outputs or not torch.is_tensor(output):
                return  # a second call of the same module in one forward
            self._outputs[index] = output
            start, stop = self._rows
            lo, hi = max(start - self._offset, 0), min(stop - self._offset, output.shape[0])
            if lo < hi:
                if index not in self._captured:
                    self._captured[index] = []
                    self._order.append(index)
                # A copy, so the chunk's full activation is not kept alive.
                self._captured[index].append(output[lo:hi].clone())

        return keep

    def _end_forward(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        for index, activation in self._outputs.items():
            if activation is output and index in self._captured:  # the output activation
                self._captured[index].pop()
                if not self._captured[index]:
                    del self._captured[index]
                    self._order.remove(index)
        self._outputs = {}
        self._offset += self._chunk_rows

    def values(
        self,
        *,
        grad_norm: torch.Tensor | None = None,
        plasticity: torch.Tensor | None = None,
    ) -> tuple[list[str], torch.Tensor | None]:
        """Every diagnostic of the last capture, as keys and one float64 device tensor (None
        when there is nothing to report: no hidden layer, weight, gradient or plasticity).

        Args:
            grad_norm: ||g||_2 of the update that preceded this evaluation, if there was one.
            plasticity: Its plasticity, if measured.
        """
        keys: list[str] = []
        values: list[torch.Tensor] = []  # 1-D float32 pieces, concatenated once
        with torch.no_grad():
            layers = [f"hidden_{i}" for i in range(len(self._order))]
            features = [
                parts[0] if len(parts) == 1 else torch.cat(parts)
                for parts in (self._captured[index] for index in self._order)
            ]
            self._captured, self._order = {}, []
            if features:
                masks = [dormant_mask(f, self.tau) for f in features]
                counts = torch.stack([m.sum() for m in masks]).float()
                sizes = torch.tensor([m.numel() for m in masks], dtype=torch.float32)
                grams = [gram(feature_matrix(f)) for f in features]
                if len({g.shape for g in grams}) == 1:  # one batched eigenvalue solve
                    s = singular_values_of_grams(torch.stack(grams))
                    effective, stable = effective_rank(s), stable_rank(s)
                else:
                    ranks = [singular_values_of_grams(g) for g in grams]
                    effective = torch.stack([effective_rank(r) for r in ranks])
                    stable = torch.stack([stable_rank(r) for r in ranks])
                shares = counts / sizes.to(counts.device)
                keys += [diag_key("dormant", layer) for layer in layers]
                keys += [diag_key("eff_rank", layer) for layer in layers]
                keys += [diag_key("stable_rank", layer) for layer in layers]
                keys.append(DIAG_DORMANT)
                total = (counts.sum() / sizes.sum().item()).reshape(1)
                values += [shares, effective, stable, total]
            weights = [weight_magnitudes(m.weight) for m in self._weight_layers]
            for i in range(len(weights)):
                keys += [diag_key("w_abs", f"layer_{i}"), diag_key("w_norm", f"layer_{i}")]
            if weights:
                values.append(torch.stack([v for pair in weights for v in pair]))
            for key, value in ((DIAG_GRAD_NORM, grad_norm), (DIAG_PLASTICITY, plasticity)):
                if value is not None:
                    keys.append(key)
                    values.append(value.reshape(1).float())
            if not values:
                return keys, None
            return keys, torch.cat(values).to(torch.float64)
