"""The stability gap at each task boundary (METRICS.md, "The stability gap, per boundary")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gapwatch.analytics.curves import Curve

STABILITY_GAP = "stability_gap"
RECOVERY_TOLERANCE = 0.01
"""One percentage point, as a fraction: recovered means a_j >= before − 1 point."""
_FLOAT_SLACK = 1e-12  # 0.9 − 0.01 is 0.8900000000000001 in binary; 0.89 has recovered


@dataclass(frozen=True)
class GapRow:
    """How earlier task j fared while task k was trained, k >= 1.

    Attributes:
        task: j, the earlier task.
        before: a_j(s_k), its accuracy at the boundary, before the first update on task k.
        trough: min of a_j(i) over evaluated i in [s_k, e_k].
        trough_at: The first iteration of that minimum, counted from s_k.
        depth: before − trough, as a fraction (x100 for percentage points); never negative.
        relative_depth: depth / before; None when before is 0.
        recovered_at: The first evaluated iteration after the trough with a_j >= before − 1
            point, counted from s_k; None if it does not come back within the task.
        area: Σ over evaluations i in [s_k, e_k] of max(0, before − a_j(i)) times the
            iterations since the previous evaluation: accuracy-iterations lost.
        evaluations: How many evaluations of task j fell in [s_k, e_k].
    """

    task: int
    before: float
    trough: float
    trough_at: int
    depth: float
    relative_depth: float | None
    recovered_at: int | None
    area: float
    evaluations: int


def gap_row(
    curve: Curve,
    start: int,
    end: int | None,
    task: int,
    tolerance: float = RECOVERY_TOLERANCE,
) -> GapRow | None:
    """The gap of one earlier task over the boundary [s_k, e_k].

    Args:
        curve: a_j of the earlier task j.
        start: s_k.
        end: e_k; None while task k is still trained (the window then ends at the last
            evaluation so far, and the row may still change).
        task: j, copied into the row.
        tolerance: How close to `before` counts as recovered (default one point, 0.01).

    Returns:
        The row, or None if task j was not evaluated at exactly s_k (no `before`), or if the
        boundary has no window (a malformed schedule whose e_k comes before s_k).
    """
    before = curve.at(start)
    if np.isnan(before):
        return None
    window = curve.between(start, end)
    if len(window) == 0:
        return None
    values = window.values
    trough_index = int(np.argmin(values))
    trough = float(values[trough_index])
    depth = before - trough
    threshold = before - tolerance - _FLOAT_SLACK
    later = np.flatnonzero(values[trough_index + 1 :] >= threshold)
    recovered_at = int(window.steps[trough_index + 1 + later[0]]) - start if later.size else None
    previous = curve.previous_step(start)
    gaps = np.diff(window.steps, prepend=start if previous is None else previous)
    area = float(np.sum(np.maximum(0.0, before - values) * gaps))
    return GapRow(
        task=task,
        before=before,
        trough=trough,
        trough_at=int(window.steps[trough_index]) - start,
        depth=depth,
        relative_depth=depth / before if before > 0 else None,
        recovered_at=recovered_at,
        area=area,
        evaluations=len(window),
    )


def gap_table(
    curves: Sequence[Curve], start: int, end: int | None, k: int
) -> list[tuple[int, GapRow | None]]:
    """The gap of every earlier task j < k over task k's training [s_k, e_k].

    Definition (METRICS.md): before = a_j(s_k); trough = min over evaluated i in [s_k, e_k];
    trough_at = argmin − s_k; depth = before − trough; relative depth = depth / before;
    recovered_at = first evaluation after the trough with a_j ≥ before − 1 point, from s_k;
    area = Σ max(0, before − a_j(i)) · (iterations since the previous evaluation).

    Returns:
        (j, row) for j = 0 .. k-1; row is None when task j has no evaluation at s_k.
    """
    return [(j, gap_row(curves[j], start, end, j) if j < len(curves) else None) for j in range(k)]
