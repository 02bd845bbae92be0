"""Live updates of one run as Server-Sent Events: one connection per open run page.

The server polls the database (one cheap query set a second) rather than keeping a pub/sub
channel, because the API may run as several processes and workers write over plain REST; a
second of latency is far below what a person watching a curve notices.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker

from gapwatch.server.access import service as access
from gapwatch.server.access.principal import Principal
from gapwatch.server.deps import Caller, RunId, RunViewer
from gapwatch.server.models import RunStatus
from gapwatch.server.runs.schemas import RunRead
from gapwatch.server.summaries import service as summaries

router = APIRouter(prefix="/runs/{run_id}", tags=["runs"])

POLL_INTERVAL_S = 1.0
# A comment line this often keeps proxies and browsers from closing an idle stream.
KEEPALIVE_S = 15.0
# What the browser waits before reconnecting after a dropped connection (SSE `retry:`).
RECONNECT_MS = 2000


class EventStream(StreamingResponse):
    """Names the stream's media type, so the OpenAPI document shows text/event-stream."""

    media_type = "text/event-stream"


class LiveRunEvent(BaseModel):
    """The `data` of each `run` event of GET /runs/{id}/live."""

    run: RunRead
    points: int = Field(description="Accuracy points stored: a change means new curve points.")
    events: int = Field(description="Task-boundary events stored.")


def _snapshot(
    session_factory: sessionmaker[Session], caller: Principal, run_id: int
) -> LiveRunEvent | None:
    """The run's state now; None once it is gone or the caller may no longer read it."""
    with session_factory() as session:
        run = access.run_still_readable(session, caller, run_id)
        if run is None:
            return None
        points, events = summaries.stored_counts(session, run_id)
        return LiveRunEvent(run=RunRead.from_row(run), points=points, events=events)


def _frame(event: LiveRunEvent) -> bytes:
    data = orjson.dumps(event.model_dump(mode="json"))
    return b"event: run\ndata: " + data + b"\n\n"


async def _stream(
    request: Request, session_factory: sessionmaker[Session], caller: Principal, run_id: int
) -> AsyncIterator[bytes]:
    yield f"retry: {RECONNECT_MS}\n\n".encode()
    last: tuple[Any, ...] | None = None
    quiet_s = 0.0
    while True:
        event = await asyncio.to_thread(_snapshot, session_factory, caller, run_id)
        if event is None:
            return
        run = event.run
        state = (run.status, run.progress.step, event.points, event.events)
        if state != last:
            last, quiet_s = state, 0.0
            yield _frame(event)
        if RunStatus(run.status).is_terminal:
            return
        if quiet_s >= KEEPALIVE_S:
            quiet_s = 0.0
            yield b": keep-alive\n\n"
        await asyncio.sleep(POLL_INTERVAL_S)
        quiet_s += POLL_INTERVAL_S
        if await request.is_disconnected():
            return


@router.get(
    "/live",
    operation_id="runs-live",
    response_model=LiveRunEvent,
    response_class=EventStream,
    responses={
        200: {
            "content": {
                "text/event-stream": {"schema": {"$ref": "#/components/schemas/LiveRunEvent"}}
            },
            "description": "`event: run` frames whose data is a LiveRunEvent: one at once, then "
            "one whenever status, progress, points or boundary events change (checked every "
            "second); the stream ends after the frame with a terminal status.",
        }
    },
)
def live_run(run_id: RunId, _run: RunViewer, caller: Caller, request: Request) -> EventStream:
    """Server-Sent Events of the run's status, progress and stored points."""
    # RunViewer: an unknown or unseen run is a 404 before the stream starts.
    return EventStream(
        _stream(request, request.app.state.session_factory, caller, run_id),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
