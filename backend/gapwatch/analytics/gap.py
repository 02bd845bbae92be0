"""The stability gap at each task boundary (METRICS.md, "The stability gap, per boundary").

A drop after a boundary is a stability gap only in the part that comes back: a task that is
forgotten and stays forgotten (fine-tuning) has a deep drop and no gap, and a task already at
chance has nothing to lose. Each row therefore keeps depth, gap and forgetting apart, and says
whether the earlier task was eligible at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gapwatch.analytics.curves import Curve

STABILITY_GAP = "stability_gap"
RECOVERY_TOLERANCE = 0.01
"""One percentage point, as a fraction: recovered means a_j >= before − 1 point."""
ELIGIBILITY_MARGIN = 0.05
"""A task is eligible when before − chance >= 5 points: it still knew something to lose."""
DEFAULT_GAP_WINDOW = 200
"""w: the gap is looked for in the first min(L_k, w) iterations of task k (De Lange et al.'s dip
lies in its first tens of iterations)."""
MAX_GAP_WINDOW = 10_000_000
_FLOAT_SLACK = 1e-12  # 0.9 − 0.01 is 0.8900000000000001 in binary; 0.89 has recovered


@dataclass(frozen=True)
class GapRow:
    """How earlier task j fared while task k was trained, k >= 1 (fractions; x100 = points).

    Attributes:
        task: j, the earlier task.
        before: a_j(s_k), before the first update on task k.
        after: a_j(e_k); while task k is trained, its last evaluation so far (provisional).
        chance: chance_j, 1 / the classes the head can answer for task j's samples (0 when the
            classes are unknown).
        eligible: before − chance >= 0.05. Rows that are not are listed but left out of means.
        trough: min of a_j over evaluated i in (s_k, s_k + w_k].
        trough_at: The first iteration of that minimum, counted from s_k.
        depth: before − trough, the whole drop inside the window (0 when the task only rose).
        forgetting: max(0, before − after): what did not come back by the end of task k.
        gap: max(0, min(depth, after − trough)): the part of the drop that came back.
        recovered_at: The first evaluated iteration from the trough on, within task k, with
            a_j >= before − ε, counted from s_k (the trough itself when it is within ε of
            before: no dip); None if it does not come back.
        area: Σ over evaluations i in (s_k, e_k] of max(0, before − a_j(i)) times the
            iterations since the previous evaluation: accuracy-iterations lost.
        evaluations: How many evaluations of task j fell in the window (s_k, s_k + w_k].
    """

    task: int
    before: float
    after: float
    chance: float
    eligible: bool
    trough: float
    trough_at: int
    depth: float
    forgetting: float
    gap: float
    recovered_at: int | None
    area: float
    evaluations: int


def window_length(start: int, end: int | None, gap_window: int) -> int:
    """w_k = min(L_k, gap_window), L_k = e_k − s_k; gap_window while task k is trained."""
    return gap_window if end is None else max(0, min(end - start, gap_window))


def gap_row(
    curve: Curve,
    start: int,
    end: int | None,
    task: int,
    *,
    gap_window: int = DEFAULT_GAP_WINDOW,
    chance: float = 0.0,
    tolerance: float = RECOVERY_TOLERANCE,
) -> GapRow | None:
    """The gap of one earlier task j over the boundary s_k.

    Args:
        curve: a_j of the earlier task j.
        start: s_k.
        end: e_k; None while task k is still trained (after, recovery and area then use the
            evaluations so far, and the row may still change).
        task: j, copied into the row.
        gap_window: The window's cap in iterations (METRICS.md's gap_window, default 200).
        chance: chance_j at s_k.
        tolerance: ε, how close to `before` counts as recovered (default one point, 0.01).

    Returns:
        The row, or None when it cannot be measured: task j was not evaluated at exactly s_k
        (no `before`), or not once inside the window (no trough), or e_k comes before s_k.
    """
    before = curve.at(start)
    if np.isnan(before) or (end is not None and end < start):
        return None
    w = window_length(start, end, gap_window)
    window = curve.between(start + 1, start + w)
    if len(window) == 0:
        return None
    trough_index = int(np.argmin(window.values))
    trough = float(window.values[trough_index])
    trough_step = int(window.steps[trough_index])

    task_k = curve.between(start + 1, end)  # (s_k, e_k], or every evaluation so far
    after = curve.at(end) if end is not None else float("nan")
    if np.isnan(after):  # not evaluated at exactly e_k (or still running): its last value
        after = float(task_k.values[-1])

    threshold = before - tolerance - _FLOAT_SLACK
    # From the trough on: a trough already within ε of before never left, and counts as
    # recovered there (else every row without a dip would read "not recovered").
    later = task_k.between(trough_step, None)
    back = np.flatnonzero(later.values >= threshold)
    recovered_at = int(later.steps[back[0]]) - start if back.size else None

    spacing = np.diff(task_k.steps, prepend=start)
    area = float(np.sum(np.maximum(0.0, before - task_k.values) * spacing))
    depth = max(0.0, before - trough)
    return GapRow(
        task=task,
        before=before,
        after=after,
        chance=chance,
        eligible=before - chance >= ELIGIBILITY_MARGIN - _FLOAT_SLACK,
        trough=trough,
        trough_at=trough_step - start,
        depth=depth,
        forgetting=max(0.0, before - after),
        gap=max(0.0, min(depth, after - trough)),
        recovered_at=recovered_at,
        area=area,
        evaluations=len(window),
    )


def chance_level(
    classes: Sequence[Sequence[int] | None], j: int, k: int, *, class_incremental: bool
) -> float:
    """chance_j at s_k: 1 / the classes the head can answer for task j's samples.

    Class-incremental: every class of tasks 0..k (the new task's included); otherwise the
    classes of task j. 0.0 when a needed task's classes are unknown (a loop run that did not
    send them): eligibility then only asks for 5 points of accuracy.
    """
    needed = range(k + 1) if class_incremental else (j,)
    answerable: set[int] = set()
    for task in needed:
        known = classes[task] if task < len(classes) else None
        if not known:
            return 0.0
        answerable.update(known)
    return 1.0 / len(answerable)


def gap_table(
    curves: Sequence[Curve],
    start: int,
    end: int | None,
    k: int,
    *,
    gap_window: int = DEFAULT_GAP_WINDOW,
    chance: Sequence[float] = (),
) -> list[tuple[int, GapRow | None]]:
    """The gap of every earlier task j < k over boundary s_k (see `gap_row`).

    Args:
        chance: chance_j for j < k (0.0 for any not given).

    Returns:
        (j, row) for j = 0 .. k-1; row is None when task j cannot be measured there.
    """
    return [
        (
            j,
            gap_row(
                curves[j],
                start,
                end,
                j,
                gap_window=gap_window,
                chance=chance[j] if j < len(chance) else 0.0,
            )
            if j < len(curves)
            else None,
        )
        for j in range(k)
    ]
