"""Sampling uncertainty of accuracies and spread across the runs of a group (METRICS.md)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np


def standard_error(p: float, n: int | None) -> float:
    """sqrt(p(1−p)/n): standard error of an accuracy p measured on n evaluation samples.

    NaN when p is NaN or n is unknown.
    """
    if n is None or n <= 0 or math.isnan(p):
        return float("nan")
    return math.sqrt(max(p * (1.0 - p), 0.0) / n)


def standard_error_of_mean(ps: Sequence[float], ns: Sequence[int | None]) -> float:
    """Standard error of the mean of accuracies measured on independent evaluation subsets.

    Each task has its own subset, so the errors add in quadrature: sqrt(Σ se_j²) / m.
    """
    if not ps:
        return float("nan")
    ses = [standard_error(p, n) for p, n in zip(ps, ns, strict=True)]
    return math.sqrt(sum(se * se for se in ses)) / len(ses)


def standard_error_of_weighted(terms: Sequence[tuple[float, float]]) -> float:
    """Standard error of Σ weight·x over independent estimates, given (weight, se) pairs."""
    return math.sqrt(sum((w * se) ** 2 for w, se in terms))


@dataclass(frozen=True)
class Spread:
    """A metric across the runs of a group (e.g. seeds).

    Attributes:
        mean: Mean over the runs where the metric is defined.
        std: Sample standard deviation (ddof=1); NaN with fewer than two runs.
        n: How many runs had the metric defined.
    """

    mean: float
    std: float
    n: int


def across_runs(values: Iterable[float | None]) -> Spread:
    """Mean ± std of one metric across runs; runs where it is undefined (None/NaN) are left out."""
    defined = np.array([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if defined.size == 0:
        return Spread(float("nan"), float("nan"), 0)
    std = float(np.std(defined, ddof=1)) if defined.size > 1 else float("nan")
    return Spread(float(np.mean(defined)), std, int(defined.size))


# Two-sided 95% quantiles of Student's t, t_{0.975, df}, df = 1..30 (standard tables).
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip
# Beyond the table: (df, t) at 40, 60, 120 and infinity, interpolated linearly in 1/df.
_T975_TAIL = ((30, 2.042), (40, 2.021), (60, 2.000), (120, 1.980), (None, 1.960))


def t_quantile_975(df: int) -> float:
    """t_{0.975, df}: the half-width of a 95% interval in standard errors, df >= 1."""
    if df < 1:
        raise ValueError("df must be at least 1")
    if df <= len(_T975):
        return _T975[df - 1]
    for (lo, t_lo), (hi, t_hi) in zip(_T975_TAIL, _T975_TAIL[1:], strict=False):
        if hi is None or df <= hi:
            x_lo, x_hi = 1 / lo, (1 / hi if hi is not None else 0.0)
            return t_lo + (t_hi - t_lo) * (x_lo - 1 / df) / (x_lo - x_hi)
    raise AssertionError("unreachable")  # pragma: no cover - the last bound is infinity


@dataclass(frozen=True)
class Spread95:
    """A mean with its 95% confidence interval (Student t over the values that contribute).

    Attributes:
        mean: Mean of the defined values; NaN when there are none.
        half_width: t_{0.975, n−1} · s / √n; None with fewer than two values.
        n: How many values contributed (undefined ones are left out).
    """

    mean: float
    half_width: float | None
    n: int


def mean_ci(values: Iterable[float | None]) -> Spread95:
    """Mean ± 95% CI of independent values (e.g. one metric over seeds); None/NaN left out."""
    defined = np.array([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    n = int(defined.size)
    if n == 0:
        return Spread95(float("nan"), None, 0)
    if n == 1:
        return Spread95(float(defined[0]), None, 1)
    sem = float(np.std(defined, ddof=1)) / math.sqrt(n)
    return Spread95(float(np.mean(defined)), t_quantile_975(n - 1) * sem, n)
