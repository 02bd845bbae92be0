"""Compare runs: their summaries side by side, the spread across them, aligned series."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from gapwatch.analytics import across_runs
from gapwatch.server.access import service as access
from gapwatch.server.access.principal import Principal
from gapwatch.server.cache import AnalysisCache
from gapwatch.server.compare import repository
from gapwatch.server.compare.schemas import (
    AlignedSeries,
    Comparison,
    Spread,
    SummarySpread,
    WindowSpread,
)
from gapwatch.server.errors import GapwatchError, NotFound
from gapwatch.server.metrics import service as metrics_service
from gapwatch.server.models import Run, RunStatus
from gapwatch.server.runs.schemas import RunRead
from gapwatch.server.summaries import service as summaries
from gapwatch.server.summaries.schemas import RunSummary

MAX_RUNS = 50


class TooManyRuns(GapwatchError):
    """A group larger than one comparison holds: name the runs instead."""

    status_code = 422


def select_runs(
    session: Session, caller: Principal, ids: Sequence[int] | None, group: str | None
) -> list[Run]:
    """The runs named by id (in that order) or the runs of a group (oldest first), among
    those the caller may read: another project's run is not found, as everywhere."""
    visible = access.visible_project_ids(session, caller)
    if ids is not None:
        found = repository.runs_by_id(session, ids, visible)
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFound(f"run {missing[0]} not found")
        return [found[i] for i in ids]
    assert group is not None
    runs = repository.runs_in_group(session, group, MAX_RUNS, visible)
    if not runs:
        raise NotFound(f"no runs in group {group!r}")
    if len(runs) > MAX_RUNS:
        raise TooManyRuns(f"group {group!r} has more than {MAX_RUNS} runs; name them with `runs`")
    return runs


def defined(value: float | None) -> bool:
    """Whether a run's number exists (None and NaN are a number the run does not have)."""
    return value is not None and not math.isnan(value)


def spread(values: Sequence[float | None], runs: Sequence[Run]) -> dict[str, Any]:
    """Mean ± std of one number over the runs where it is defined (`values` in `runs` order):
    n and run_ids name those runs, per number; provisional if one of them has not ended."""
    contributing = [run for run, value in zip(runs, values, strict=True) if defined(value)]
    s = across_runs(values)
    return {
        "mean": summaries.num(s.mean),
        "std": summaries.num(s.std),
        "n": len(contributing),
        "run_ids": [run.id for run in contributing],
        "provisional": any(not RunStatus(run.status).is_terminal for run in contributing),
    }


def _summary_spread(
    items: list[RunSummary], runs: Sequence[Run], windows: Sequence[int]
) -> SummarySpread:
    fields = (
        "acc", "bwt", "fwt", "forgetting", "forgetting_from_learned",
        "learning_accuracy", "min_acc", "wc_acc",
    )  # fmt: skip
    scalar = {f: Spread(**spread([getattr(s, f).value for s in items], runs)) for f in fields}

    def windowed(name: str) -> list[WindowSpread]:
        out = []
        for index, w in enumerate(windows):
            values = [getattr(s, name).windows[index].value for s in items]
            out.append(WindowSpread(w=w, **spread(values, runs)))
        return out

    ids = list(dict.fromkeys(key for item in items for key in item.metrics))
    metrics = {
        key: Spread(**spread([m.value if (m := s.metrics.get(key)) else None for s in items], runs))
        for key in ids
    }
    return SummarySpread(**scalar, wf=windowed("wf"), wp=windowed("wp"), metrics=metrics)


def _aligned(
    session: Session,
    runs: list[Run],
    key: str,
    start: int | None,
    end: int | None,
    points: int,
) -> AlignedSeries:
    slices = metrics_service.read_aligned(
        session, [run.id for run in runs], key, start=start, end=end, points=points
    )
    parts = [s.points.steps for s in slices if s is not None]
    steps = np.unique(np.concatenate(parts)) if parts else np.empty(0, np.int64)
    grid = np.full((len(runs), steps.size), np.nan)
    for row, piece in enumerate(slices):
        if piece is not None and len(piece.points):
            grid[row, np.searchsorted(steps, piece.points.steps)] = piece.points.values
    count = np.sum(~np.isnan(grid), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, np.nansum(grid, axis=0) / np.maximum(count, 1), np.nan)
        centred = np.where(np.isnan(grid), 0.0, grid - mean)
        std = np.where(
            count > 1, np.sqrt(np.sum(centred**2, axis=0) / np.maximum(count - 1, 1)), np.nan
        )
    return AlignedSeries(
        key=key,
        steps=steps.tolist(),
        values=[summaries.nums(row) for row in grid],
        mean=summaries.nums(mean),
        std=summaries.nums(std),
        count=count.tolist(),
        downsampled=any(s is not None and s.downsampled for s in slices),
    )


def compare(
    session: Session,
    cache: AnalysisCache,
    caller: Principal,
    *,
    ids: Sequence[int] | None,
    group: str | None,
    keys: Sequence[str],
    start: int | None,
    end: int | None,
    points: int,
    windows: Sequence[int],
) -> Comparison:
    """Summaries side by side, their spread, and `keys` of every run on a shared step axis."""
    runs = select_runs(session, caller, ids, group)
    items = [summaries.summarize(session, run, cache, windows) for run in runs]
    return Comparison(
        run_ids=[run.id for run in runs],
        runs=[RunRead.from_row(run) for run in runs],
        group=group,
        summaries=items,
        spread=_summary_spread(items, runs, windows),
        series=[_aligned(session, runs, key, start, end, points) for key in keys],
        costs=summaries.cost_totals(session, runs),
    )
