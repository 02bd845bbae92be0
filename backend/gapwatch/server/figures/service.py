"""What each figure shows, read through the summaries' cache, then drawn by `render`.

A run's curves are loaded once per fingerprint by `summaries.service.derived` (with its
summary and gap table as companions), and only what a figure draws is kept in the cache: the
M4 points of each curve, a few thousand per task however long the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.orm import Session

from gapwatch import analytics
from gapwatch.server.cache import AnalysisCache
from gapwatch.server.figures import render
from gapwatch.server.figures.render import FigureFormat, Line, Span, Trough
from gapwatch.server.models import Run, Sweep
from gapwatch.server.summaries import service as summaries
from gapwatch.server.summaries.schemas import AlignedBandRead
from gapwatch.server.sweeps import service as sweeps
from gapwatch.sweep_plan import format_value


def run_label(run: Run) -> str:
    """A run as a figure names it: its name and its id."""
    return f"{run.name} (run {run.id})" if run.name else f"run {run.id}"


@dataclass(frozen=True)
class Drawing:
    """A run's curves as a figure draws them (downsampled), and its task spans.

    Attributes:
        tasks: The task index j of each line.
    """

    lines: list[Line]
    tasks: list[int]
    spans: list[Span]


def _spans(schedule: analytics.Schedule) -> list[Span]:
    return [
        Span(k, start, end)
        for k, (start, end) in enumerate(zip(schedule.starts, schedule.ends, strict=True))
    ]


def _drawn(lines: list[Line], spans: Sequence[Span]) -> list[Line]:
    """Each line's M4 points over the figure's extent (what `render` would draw of it)."""
    extent = render.extent(lines, spans)
    if extent is None:
        return lines
    lo, hi = extent
    out = []
    for line in lines:
        points = render.downsample(line.steps, line.values, lo, hi, render.COLUMNS)
        out.append(Line(line.label, points.steps, points.values))
    return out


def _accuracy_drawing(data: summaries.RunCurves) -> Drawing:
    tasks = [j for j, curve in enumerate(data.curves) if len(curve)]
    lines = [Line(f"task {j}", data.curves[j].steps, data.curves[j].values) for j in tasks]
    spans = _spans(data.schedule)
    return Drawing(_drawn(lines, spans), tasks, spans)


def accuracy_figure(session: Session, run: Run, cache: AnalysisCache, fmt: FigureFormat) -> bytes:
    """Every task's accuracy over iterations, the task boundaries, and a marker at the trough
    of every measured dip of the run's gap table."""
    drawing: Drawing = summaries.derived(
        session, run, cache, ("figure", "accuracy"), _accuracy_drawing
    )
    line_of = {task: i for i, task in enumerate(drawing.tasks)}
    troughs = [
        Trough(line_of[row.task], boundary.start + row.trough_at, row.trough)
        for boundary in summaries.gaps(session, run, cache).boundaries
        for row in boundary.rows
        if row.evaluated
        and row.eligible  # a task at chance has nothing to lose (METRICS.md)
        and row.task in line_of
        and row.trough is not None
        and row.trough_at is not None
        and row.depth is not None
        and row.depth > 0  # no dip, no marker (both as on the run page)
    ]
    return render.accuracy_figure(
        run_label(run), drawing.lines, spans=drawing.spans, troughs=troughs, fmt=fmt
    )


def seen_average(
    curves: Sequence[analytics.Curve], schedule: analytics.Schedule
) -> tuple[np.ndarray, np.ndarray]:
    """ACC_seen(i) = mean over the tasks j trained before i (s_j < i) of a_j(i), at every
    iteration i where each of them was evaluated: the average accuracy over the tasks seen so
    far, as papers plot it over training. Steps without a seen task, or with a seen task not
    evaluated there, are left out."""
    parts = [curve.steps for curve in curves if len(curve)]
    if not parts or not schedule.starts:
        return np.empty(0, np.int64), np.empty(0, np.float64)
    steps = np.unique(np.concatenate(parts))
    total = np.zeros(steps.size)
    evaluated = np.zeros(steps.size, np.int64)
    for j, start in enumerate(schedule.starts):
        curve = curves[j] if j < len(curves) else analytics.Curve.empty()
        seen = curve.steps > start
        at = np.searchsorted(steps, curve.steps[seen])
        total[at] += curve.values[seen]
        evaluated[at] += 1
    expected = np.searchsorted(np.sort(np.asarray(schedule.starts)), steps, "left")
    keep = (expected > 0) & (evaluated == expected)
    return steps[keep], total[keep] / np.maximum(evaluated[keep], 1)


def _seen_drawing(data: summaries.RunCurves) -> Drawing:
    steps, values = seen_average(data.curves, data.schedule)
    spans = _spans(data.schedule)
    return Drawing(_drawn([Line("", steps, values)], spans), [], spans)


def compare_figure(
    session: Session, runs: Sequence[Run], cache: AnalysisCache, fmt: FigureFormat
) -> bytes:
    """The average accuracy over seen tasks of each run, one line per run; the boundaries
    that every run shares."""
    drawings: list[Drawing] = [
        summaries.derived(session, run, cache, ("figure", "seen-average"), _seen_drawing)
        for run in runs
    ]
    lines = [
        Line(run_label(run), d.lines[0].steps, d.lines[0].values)
        for run, d in zip(runs, drawings, strict=True)
    ]
    spans = drawings[0].spans if drawings else []
    for d in drawings[1:]:
        theirs = {(s.task, s.start) for s in d.spans}
        spans = [s for s in spans if (s.task, s.start) in theirs]
    title = "Average accuracy over seen tasks"
    return render.accuracy_figure(
        title, lines, spans=spans, y_label="average accuracy over seen tasks (%)", fmt=fmt
    )


def aligned_figure(
    session: Session,
    run: Run,
    cache: AnalysisCache,
    fmt: FigureFormat,
    *,
    gap_window: int | None,
    margin: int,
) -> bytes:
    """The run's boundary-aligned view: mean change since each boundary over its eligible
    (boundary, earlier task) rows, with the 95% band."""
    rows = summaries.aligned_rows_of(session, run, cache, gap_window=gap_window, margin=margin)
    band = analytics.aligned_band([rows])
    label = f"mean over {rows.rows.shape[0]} boundary rows"
    return render.aligned_figure(run_label(run), [(label, band)], fmt=fmt)


def _band(read: AlignedBandRead) -> analytics.AlignedBand:
    """A band as the API answers it (null where undefined) back in arrays (NaN there)."""
    return analytics.AlignedBand(
        np.asarray(read.offsets, np.int64),
        np.array(read.mean, dtype=np.float64),
        np.array(read.lower, dtype=np.float64),
        np.array(read.upper, dtype=np.float64),
        np.asarray(read.n, np.int64),
    )


def config_label(config: dict[str, object]) -> str:
    """A sweep configuration as a legend names it: `strategy.name=er, optimizer.lr=0.01`."""
    return ", ".join(f"{path}={format_value(v)}" for path, v in config.items()) or "all runs"


def sweep_figure(
    session: Session,
    sweep: Sweep,
    cache: AnalysisCache,
    fmt: FigureFormat,
    *,
    gap_window: int | None,
    margin: int,
) -> bytes:
    """The sweep's boundary-aligned view: one mean line and 95% band per configuration (its
    seeds averaged, as on the sweep page)."""
    answer = sweeps.aligned(session, sweep, cache, gap_window=gap_window, margin=margin)
    series = [
        (f"{config_label(c.config)} (n = {len(c.run_ids)})", _band(c.band)) for c in answer.configs
    ]
    return render.aligned_figure(f"{sweep.name} (sweep {sweep.id})", series, fmt=fmt)
