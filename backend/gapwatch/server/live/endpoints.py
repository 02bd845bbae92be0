"""Live updates of runs as Server-Sent Events: one connection per open run page
(GET /runs/{id}/live), and one per open compare page for all its runs (GET /live?runs=1,2,3).

The server polls the database (one statement a second for every stream of the process: see
service.py) rather than keeping a pub/sub channel, because the API may run as several processes
and workers write over plain REST; a second of latency is far below what a person watching a
curve notices.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from gapwatch.server.access.principal import Principal
from gapwatch.server.deps import MAX_ROW_ID, Caller, RunId, RunViewer, SessionDep, run_for_viewer
from gapwatch.server.live.schemas import LiveRunEvent
from gapwatch.server.live.service import LivePoller, Snapshot, Subscriber

router = APIRouter(tags=["runs"])

# A comment line this often keeps proxies and browsers from closing an idle stream.
KEEPALIVE_S = 15.0
# What the browser waits before reconnecting after a dropped connection (SSE `retry:`).
RECONNECT_MS = 2000
# Most runs one stream of several follows: the compare page's (GET /compare's MAX_RUNS).
MAX_RUNS_PER_STREAM = 50

__all__ = ["KEEPALIVE_S", "RECONNECT_MS", "EventStream", "LiveRunEvent", "router"]


class EventStream(StreamingResponse):
    """Names the stream's media type, so the OpenAPI document shows text/event-stream."""

    media_type = "text/event-stream"


class _LiveStream(EventStream):
    """The stream of one subscriber, whose slot is freed however the answer ends: the run
    ended, the client went away (Starlette cancels the stream), or the send failed."""

    def __init__(self, poller: LivePoller, subscriber: Subscriber) -> None:
        super().__init__(
            _frames(subscriber), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
        self._poller = poller
        self._subscriber = subscriber

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._poller.unsubscribe(self._subscriber)


async def _frames(subscriber: Subscriber) -> AsyncIterator[bytes]:
    yield f"retry: {RECONNECT_MS}\n\n".encode()
    while True:
        item = await subscriber.next(KEEPALIVE_S)
        if item is None:
            return
        yield item.frame if isinstance(item, Snapshot) else item


def poller_of(app: FastAPI) -> LivePoller:
    """The app's one poller, made on the first stream (in the event loop, so no race)."""
    poller: LivePoller | None = getattr(app.state, "live_poller", None)
    if poller is None:
        settings = app.state.settings
        poller = LivePoller(
            app.state.session_factory,
            max_streams=settings.max_streams,
            max_streams_per_user=settings.max_streams_per_user,
        )
        app.state.live_poller = poller
    return poller


_RUN_FRAMES = (
    "`event: run` frames whose data is a LiveRunEvent: one at once, then one whenever status, "
    "progress, points or boundary events change (checked every second)"
)


def _frames_answer(description: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI answer of a stream of LiveRunEvent frames, described by `description`."""
    return {
        200: {
            "content": {
                "text/event-stream": {"schema": {"$ref": "#/components/schemas/LiveRunEvent"}}
            },
            "description": description,
        }
    }


def _stream(request: Request, caller: Principal, *run_ids: int) -> EventStream:
    """The caller's stream of `run_ids` (429 over a cap), from the app's one poller."""
    poller = poller_of(request.app)
    return _LiveStream(poller, poller.subscribe(caller, *run_ids))


@router.get(
    "/runs/{run_id}/live",
    operation_id="runs-live",
    response_model=LiveRunEvent,
    response_class=EventStream,
    responses=_frames_answer(
        _RUN_FRAMES + "; the stream ends after the frame with a terminal status."
    ),
)
async def live_run(run_id: RunId, _run: RunViewer, caller: Caller, request: Request) -> EventStream:
    """Server-Sent Events of the run's status, progress and stored points."""
    # RunViewer: an unknown or unseen run is a 404 before the stream starts; over a cap, 429.
    return _stream(request, caller, run_id)


def runs_for_viewer(
    session: SessionDep,
    caller: Caller,
    runs: Annotated[
        str, Query(description=f"Comma-separated run ids (1 to {MAX_RUNS_PER_STREAM}).")
    ],
) -> list[int]:
    """The ids of `runs`, each a run the caller may read (the same check as GET /runs/{id}/live:
    an unknown or unseen run is a 404), or a 422 naming `runs`."""
    try:
        ids = list(dict.fromkeys(int(r) for r in runs.split(",") if r.strip()))
    except ValueError:
        ids = []
    if not ids or len(ids) > MAX_RUNS_PER_STREAM or min(ids) < 1 or max(ids) > MAX_ROW_ID:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "runs"),
                    "msg": f"give 1 to {MAX_RUNS_PER_STREAM} comma-separated run ids",
                    "input": runs,
                }
            ]
        )
    for run_id in ids:
        run_for_viewer(run_id, session, caller)
    return ids


@router.get(
    "/live",
    operation_id="runs-live-many",
    response_model=LiveRunEvent,
    response_class=EventStream,
    responses=_frames_answer(
        _RUN_FRAMES + ", for each run (the event's run.id tells which); the stream ends once "
        "every run has sent its frame with a terminal status."
    ),
)
async def live_runs(
    run_ids: Annotated[list[int], Depends(runs_for_viewer)], caller: Caller, request: Request
) -> EventStream:
    """Server-Sent Events of several runs' status, progress and stored points, over ONE
    connection (the compare page's): one stream of the caller's cap, whatever the number of
    runs."""
    return _stream(request, caller, *run_ids)
