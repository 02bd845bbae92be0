"""Every query the run summaries need: accuracy series, task-boundary events, a fingerprint."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gapwatch.server.metrics import repository as metrics_repository
from gapwatch.server.models import RunEvent
from gapwatch.spec import EVENT_TASK_END, EVENT_TASK_START

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
