"""The boundary-aligned view of the stability gap (METRICS.md, "Boundary-aligned view").

a_j(s_k + t) − before for t in [−m, w_k], for every eligible (j, k), averaged over boundaries,
tasks and seeds with a 95% confidence band: the picture of the gap that a paper shows.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gapwatch.analytics.curves import Curve, FloatArray, IntArray, Schedule
from gapwatch.analytics.gap import DEFAULT_GAP_WINDOW
from gapwatch.analytics.summary import UNKNOWN_CLASSES, TaskClasses, stability_gaps
from gapwatch.analytics.uncertainty import mean_ci

DEFAULT_MARGIN = 20
"""m: iterations shown before each boundary, so the curve starts from where the task stood."""


@dataclass(frozen=True)
class AlignedRows:
    """One run's aligned curves, on the union of the offsets at which any was evaluated.

    Attributes:
        offsets: t, iterations since the boundary, increasing (may be negative down to −m).
        rows: a_j(s_k + t) − before per eligible (j, k) (shape rows × offsets); NaN where
            task j was not evaluated at s_k + t.
    """

    offsets: IntArray
    rows: FloatArray

    @classmethod
    def empty(cls) -> AlignedRows:
        return cls(np.empty(0, np.int64), np.empty((0, 0), np.float64))


@dataclass(frozen=True)
class AlignedBand:
    """The aligned view averaged with its 95% band.

    Attributes:
        offsets: t per column.
        mean, lower, upper: Mean change of accuracy and its 95% interval (NaN: undefined).
        n: How many values each mean averages (runs; rows when there is one run).
    """

    offsets: IntArray
    mean: FloatArray
    lower: FloatArray
    upper: FloatArray
    n: IntArray


def aligned_rows(
    curves: Sequence[Curve],
    schedule: Schedule,
    *,
    classes: TaskClasses = UNKNOWN_CLASSES,
    gap_window: int = DEFAULT_GAP_WINDOW,
    margin: int = DEFAULT_MARGIN,
) -> AlignedRows:
    """Every eligible (j, k)'s a_j(s_k + t) − before, t in [−margin, w_k]."""
    pieces: list[tuple[IntArray, FloatArray]] = []
    for boundary in stability_gaps(curves, schedule, gap_window=gap_window, classes=classes):
        for j, row in boundary.rows:
            if row is None or not row.eligible:
                continue
            near = curves[j].between(boundary.start - margin, boundary.start + boundary.window)
            pieces.append((near.steps - boundary.start, near.values - row.before))
    if not pieces:
        return AlignedRows.empty()
    offsets = np.unique(np.concatenate([steps for steps, _ in pieces]))
    rows = np.full((len(pieces), offsets.size), np.nan)
    for r, (steps, values) in enumerate(pieces):
        rows[r, np.searchsorted(offsets, steps)] = values
    return AlignedRows(offsets, rows)


def aligned_band(per_run: Sequence[AlignedRows]) -> AlignedBand:
    """Mean ± 95% CI of the aligned view.

    Several runs (seeds): each run's mean over its rows first, then the interval across runs,
    since the rows of one run are not independent of each other. One run: across its rows.
    """
    runs = [r for r in per_run if r.rows.size]
    if not runs:
        empty = np.empty(0, np.float64)
        return AlignedBand(np.empty(0, np.int64), empty, empty, empty, np.empty(0, np.int64))
    offsets = np.unique(np.concatenate([r.offsets for r in runs]))
    if len(runs) == 1:
        table = np.full((runs[0].rows.shape[0], offsets.size), np.nan)
        table[:, np.searchsorted(offsets, runs[0].offsets)] = runs[0].rows
    else:
        table = np.full((len(runs), offsets.size), np.nan)
        for i, run in enumerate(runs):
            with warnings.catch_warnings():  # an all-NaN column is a NaN mean, as intended
                warnings.simplefilter("ignore", RuntimeWarning)
                table[i, np.searchsorted(offsets, run.offsets)] = np.nanmean(run.rows, axis=0)
    spreads = [mean_ci(table[:, c].tolist()) for c in range(offsets.size)]
    mean = np.array([s.mean for s in spreads])
    half = np.array([np.nan if s.half_width is None else s.half_width for s in spreads])
    return AlignedBand(
        offsets,
        mean,
        mean - half,
        mean + half,
        np.array([s.n for s in spreads], dtype=np.int64),
    )
