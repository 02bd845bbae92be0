"""Run events: batched ingest (worker) and listing (task boundaries for the charts)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gapwatch.server.access.service import require_writable
from gapwatch.server.deps import RunId, RunViewer, RunWriter, SessionDep
from gapwatch.server.events import repository
from gapwatch.server.events.schemas import (
    EVENT_KIND_PATTERN,
    EVENTS_BODY_LIMIT,
    EventBatch,
    EventIngestResult,
    EventRead,
    EventsRead,
)
from gapwatch.server.metrics.schemas import Step

router = APIRouter(prefix="/runs/{run_id}/events", tags=["events"])


@router.post(
    "",
    response_model=EventIngestResult,
    operation_id="events-ingest",
    max_body_size=EVENTS_BODY_LIMIT,
)
def ingest_events(batch: EventBatch, run: RunWriter, session: SessionDep) -> EventIngestResult:
    """Worker or user loop: store events (idempotent per run, kind and step)."""
    require_writable(run.id, run.status)
    stored = repository.insert_events(session, run.id, [e.model_dump() for e in batch.events])
    return EventIngestResult(received=len(batch.events), stored=stored)


@router.get("", response_model=EventsRead, operation_id="events-list")
def list_events(
    run_id: RunId,
    _run: RunViewer,
    session: SessionDep,
    kind: Annotated[str | None, Query(pattern=EVENT_KIND_PATTERN)] = None,
    start: Annotated[
        Step | None,
        Query(description="First step (inclusive): a live page asks only for what it lacks."),
    ] = None,
) -> EventsRead:
    """A run's events by step, e.g. `task_start` with its task index."""
    rows = repository.list_events(session, run_id, kind, start)
    return EventsRead(
        run_id=run_id,
        events=[
            EventRead(step=e.step, kind=e.kind, payload=e.payload, created_at=e.created_at)
            for e in rows
        ],
    )
