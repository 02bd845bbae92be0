"""Every query the run summaries need: accuracy series, task-boundary events, a fingerprint."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from gapwatch.components import EVENT_TASK_END, EVENT_TASK_START
from gapwatch.server.metrics import repository as metrics_repository
from gapwatch.server.models import (
    MetricChunk,
    MetricSeries,
    Run,
    RunEvent,
    RunHeadline,
    RunKind,
    RunStatus,
)

ACCURACY_PREFIX = "eval/acc/task_"
_TASK_KEY = re.compile(r"^eval/acc/task_(\d{1,6})$")


def accuracy_series(session: Session, run_id: int) -> dict[int, int]:
    """{task j: series id} of the run's `eval/acc/task_<j>` series."""
    found = metrics_repository.series_with_prefix(session, run_id, ACCURACY_PREFIX)
    out = {}
    for key, series_id in found.items():
        match = _TASK_KEY.match(key)
        if match:
            out[int(match.group(1))] = series_id
    return out


@dataclass(frozen=True)
class BoundaryEvent:
    step: int
    kind: str
    payload: dict[str, Any]


def boundary_events(session: Session, run_id: int) -> list[BoundaryEvent]:
    """The run's task_start and task_end events, by step."""
    rows = session.execute(
        select(RunEvent.step, RunEvent.kind, RunEvent.payload)
        .where(RunEvent.run_id == run_id, RunEvent.kind.in_([EVENT_TASK_START, EVENT_TASK_END]))
        .order_by(RunEvent.step, RunEvent.id)
    )
    return [BoundaryEvent(step, kind, payload or {}) for step, kind, payload in rows]


def fingerprint(session: Session, run_id: int, series_ids: list[int]) -> tuple[int, int]:
    """(accuracy points stored, boundary events stored): both only grow, so a change in either
    means the summary must be computed again."""
    points = metrics_repository.point_count(session, series_ids)
    events = session.scalar(
        select(func.count())
        .select_from(RunEvent)
        .where(RunEvent.run_id == run_id, RunEvent.kind.in_([EVENT_TASK_START, EVENT_TASK_END]))
    )
    return points, int(events or 0)


def runs_with_counts(session: Session, run_ids: Collection[int]) -> dict[int, tuple[Run, int, int]]:
    """{run id: (run, accuracy points stored, boundary events stored)} of those of `run_ids`
    that exist: `fingerprint` for many runs in ONE statement (the live streams' poll), one row
    per (run, accuracy series)."""
    ids = list(run_ids)
    if not ids:
        return {}
    accuracy = (
        select(
            MetricSeries.run_id,
            MetricSeries.key,
            func.coalesce(func.sum(MetricChunk.n), 0).label("points"),
        )
        .outerjoin(MetricChunk, MetricChunk.series_id == MetricSeries.id)
        .where(
            MetricSeries.run_id.in_(ids),
            MetricSeries.key.startswith(ACCURACY_PREFIX, autoescape=True),
        )
        .group_by(MetricSeries.id, MetricSeries.run_id, MetricSeries.key)
        .subquery()
    )
    events = (
        select(RunEvent.run_id, func.count().label("events"))
        .where(RunEvent.run_id.in_(ids), RunEvent.kind.in_([EVENT_TASK_START, EVENT_TASK_END]))
        .group_by(RunEvent.run_id)
        .subquery()
    )
    rows = session.execute(
        select(Run, accuracy.c.key, accuracy.c.points, events.c.events)
        .outerjoin(accuracy, accuracy.c.run_id == Run.id)
        .outerjoin(events, events.c.run_id == Run.id)
        .where(Run.id.in_(ids))
    )
    out: dict[int, tuple[Run, int, int]] = {}
    for run, key, points, n_events in rows:
        _, stored, _ = out.get(run.id, (run, 0, 0))
        # The same series as `accuracy_series` (the prefix is matched in SQL, the index here).
        if key is not None and _TASK_KEY.match(key):
            stored += int(points)
        out[run.id] = (run, stored, int(n_events or 0))
    return out


def stored_headlines(
    session: Session, run_ids: Collection[int]
) -> dict[int, dict[str, float | None]]:
    """{run id: {metric: value}} of the stored headline rows of `run_ids` (runs with none are
    absent)."""
    ids = list(run_ids)
    out: dict[int, dict[str, float | None]] = {}
    if not ids:
        return out
    rows = session.execute(
        select(RunHeadline.run_id, RunHeadline.metric, RunHeadline.value).where(
            RunHeadline.run_id.in_(ids)
        )
    )
    for run_id, metric, value in rows:
        out.setdefault(run_id, {})[metric] = value
    return out


def replace_headlines(session: Session, run_id: int, values: dict[str, float | None]) -> None:
    """The run's headline rows become exactly `values`."""
    session.execute(delete(RunHeadline).where(RunHeadline.run_id == run_id))
    session.add_all(
        RunHeadline(run_id=run_id, metric=metric, value=value) for metric, value in values.items()
    )
    session.flush()


COST_PREFIX = "cost/"


def cost_series(session: Session, run_ids: Collection[int]) -> dict[int, dict[str, int]]:
    """{run id: {key: series id}} of the `cost/...` series of `run_ids`, in one query."""
    ids = list(run_ids)
    out: dict[int, dict[str, int]] = {run_id: {} for run_id in ids}
    if not ids:
        return out
    rows = session.execute(
        select(MetricSeries.run_id, MetricSeries.key, MetricSeries.id).where(
            MetricSeries.run_id.in_(ids),
            MetricSeries.key.startswith(COST_PREFIX, autoescape=True),
        )
    )
    for run_id, key, series_id in rows:
        out[run_id][key] = series_id
    return out


def joint_peers(session: Session, runs: Collection[Run], strategy: str) -> list[Run]:
    """The succeeded runs of `strategy`, and the succeeded loop runs (whose strategy is in their
    config), in the same project and the same group or sweep as any of `runs`: the candidates
    for their joint baseline. A failed, cancelled or unfinished joint run holds the cost of only
    part of the sequence, so it is no baseline."""
    groups = {(r.project_id, r.group_name) for r in runs if r.group_name is not None}
    sweeps = {r.sweep_id for r in runs if r.sweep_id is not None}
    if not groups and not sweeps:
        return []
    conditions = [
        (Run.project_id == project) & (Run.group_name == group) for project, group in groups
    ]
    if sweeps:
        conditions.append(Run.sweep_id.in_(sorted(sweeps)))
    query = (
        select(Run)
        .where(
            or_(Run.strategy == strategy, Run.kind == RunKind.loop.value),
            Run.status == RunStatus.succeeded.value,
            or_(*conditions),
        )
        .order_by(Run.id)
    )
    return list(session.scalars(query))
