"""Every query on run events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gapwatch.server.dialect import upsert_insert
from gapwatch.server.models import RunEvent
from gapwatch.server.models.base import utcnow


def insert_events(session: Session, run_id: int, events: Sequence[dict[str, Any]]) -> int:
    """Insert events, skipping (run, kind, step) already stored; the count inserted."""
    now = utcnow()
    rows = [{"run_id": run_id, "created_at": now, **event} for event in events]
    statement = (
        upsert_insert(session, RunEvent)
        .on_conflict_do_nothing(index_elements=["run_id", "kind", "step"])
        .returning(RunEvent.id)
    )
    return len(session.execute(statement, rows).all())


def list_events(
    session: Session, run_id: int, kind: str | None, start: int | None = None
) -> Sequence[RunEvent]:
    query = select(RunEvent).where(RunEvent.run_id == run_id)
    if kind is not None:
        query = query.where(RunEvent.kind == kind)
    if start is not None:
        query = query.where(RunEvent.step >= start)
    return session.scalars(query.order_by(RunEvent.step, RunEvent.id)).all()
