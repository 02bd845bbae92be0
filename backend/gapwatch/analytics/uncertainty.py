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
