"""Continual-evaluation metrics: every evaluated iteration counts (De Lange et al., ICLR 2023).

Tasks are 0-based; see `curves`. With 0-based k, METRICS.md's "end of task k" (1-based) is the
end of task k here plus one, so its weight 1/k becomes 1/(k+1).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gapwatch.analytics.curves import Curve, FloatArray

MIN_ACC = "min_acc"
WC_ACC = "worst_case_accuracy"
WINDOWED_FORGETTING = "windowed_forgetting"
WINDOWED_PLASTICITY = "windowed_plasticity"
DEFAULT_WINDOWS = (10, 100)


def min_acc_of_task(curve: Curve, end: int, until: int | None = None) -> float:
    """min-ACC of one task: min of a_j(i) over evaluated i >= e_j (and i <= until, if given).

    Definition (METRICS.md): the minimum of a_j(i) over evaluated i ≥ e_j, after its own
    training ended. NaN if the task has no evaluation in that range.
    """
    window = curve.between(end, until)
    return float(np.min(window.values)) if len(window) else float("nan")


def min_acc_per_task(
    curves: Sequence[Curve], ends: Sequence[int], until: int | None = None
) -> FloatArray:
    """min-ACC of each ended task j (over e_j <= i <= until)."""
    return np.array([min_acc_of_task(curves[j], int(e), until) for j, e in enumerate(ends)])


def min_acc_at_boundary(curves: Sequence[Curve], ends: Sequence[int], k: int) -> float:
    """min-ACC at the end of task k: the mean over tasks j < k of min_{e_j <= i <= e_k} a_j(i).

    Definition (METRICS.md): min-ACC at the end of task k = mean over j < k; evaluations after
    e_k have not happened yet at that time, so they do not count. NaN for k = 0 (no earlier
    task) and when an earlier task has no evaluation in its range.
    """
    if k == 0:
        return float("nan")
    return float(np.mean(min_acc_per_task(curves[:k], ends[:k], until=int(ends[k]))))


def wc_acc(learning_acc_k: float, min_acc_k: float, k: int) -> float:
    """WC-ACC at the end of task k: (1/(k+1))·R[k][k] + (1 − 1/(k+1))·min-ACC(k), 0-based k.

    Definition (METRICS.md, 1-based k): WC-ACC = (1/k)·R[k][k] + (1 − 1/k)·min-ACC(k). At the
    first task the second term has weight 0, so WC-ACC = R[0][0].
    """
    if k == 0:
        return float(learning_acc_k)
    weight = 1.0 / (k + 1)
    return float(weight * learning_acc_k + (1.0 - weight) * min_acc_k)


def _sliding_max(x: FloatArray, width: int) -> FloatArray:
    """out[t] = max(x[t : t + width]) for t = 0 .. len(x) - width, in O(n log width)."""
    out = x
    span = 1
    while span * 2 <= width:
        out = np.maximum(out[:-span], out[span:])
        span *= 2
    if span == width:
        return out
    return np.maximum(out[: x.size - width + 1], out[width - span :])


def largest_drop(values: FloatArray, w: int) -> float:
    """max of values[p] − values[q] over p < q <= p + w − 1, clamped at 0; NaN if < 2 values."""
    if w < 2:
        raise ValueError("a window needs at least two evaluations")
    n = values.size
    if n < 2:
        return float("nan")
    width = min(w - 1, n - 1)
    padded = np.concatenate([np.full(width - 1, -np.inf), values[:-1]])
    earlier_max = _sliding_max(padded, width)  # max of the `width` evaluations before q
    return max(0.0, float(np.max(earlier_max - values[1:])))


def largest_rise(values: FloatArray, w: int) -> float:
    """max of values[q] − values[p] over p < q <= p + w − 1, clamped at 0; NaN if < 2 values."""
    return largest_drop(-values, w)


def windowed_forgetting(curve: Curve, end: int, w: int, until: int | None = None) -> float:
    """WF^w of task j: the largest drop a_j(i) − a_j(l), i < l, within w consecutive evaluations.

    Definition (METRICS.md): over the run after task j was first trained, i.e. evaluations
    i >= e_j (and <= until, if given). 0 when no evaluation is below an earlier one of its
    window; NaN with fewer than two evaluations.
    """
    return largest_drop(curve.between(end, until).values, w)


def windowed_plasticity(curve: Curve, start: int, end: int, w: int) -> float:
    """WP^w of task k: the largest rise a_k(l) − a_k(i), i < l, within w consecutive evaluations
    while task k is trained (evaluations s_k <= i <= e_k).

    Definition (METRICS.md): windowed plasticity, averaged over tasks elsewhere. 0 when the
    accuracy never rises; NaN with fewer than two evaluations.
    """
    return largest_rise(curve.between(start, end).values, w)
