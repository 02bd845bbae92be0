"""Runs: submit, list, read, cancel, retry; and the worker's claim, heartbeat and finish."""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError

from gapwatch.server.access import service as access
from gapwatch.server.deps import (
    MAX_ROW_ID,
    CacheDep,
    Caller,
    RunEditor,
    RunId,
    RunQueueDep,
    RunViewer,
    RunWriter,
    SessionDep,
    SettingsDep,
    SubmitRateLimit,
    WorkerAuth,
)
from gapwatch.server.runs import listing, service
from gapwatch.server.runs.repository import SORT_KEYS, RunFilter
from gapwatch.server.runs.schemas import (
    ClaimRequest,
    ClaimResponse,
    FinishRequest,
    HeartbeatRequest,
    HeartbeatResponse,
    LoopRunRequest,
    OpenedRunResponse,
    ResumeRequest,
    RunKindName,
    RunPage,
    RunRead,
    RunStatusName,
)
from gapwatch.spec import PROJECT_NAME_PATTERN, RunSpec, Text

router = APIRouter(prefix="/runs", tags=["runs"])


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=RunRead, operation_id="runs-create"
)
def create_run(
    spec: RunSpec,
    caller: Caller,
    _rate: SubmitRateLimit,
    session: SessionDep,
    run_queue: RunQueueDep,
    settings: SettingsDep,
) -> RunRead:
    """Submit a run (editor); it is queued for a worker."""
    return RunRead.from_row(service.create_run(session, caller, spec, run_queue, settings))


@router.post(
    "/init",
    status_code=status.HTTP_201_CREATED,
    response_model=OpenedRunResponse,
    operation_id="runs-init",
    responses={200: {"model": OpenedRunResponse, "description": "The client_key's run, resumed."}},
)
def open_loop_run(
    body: LoopRunRequest,
    caller: Caller,
    _rate: SubmitRateLimit,
    session: SessionDep,
    response: Response,
) -> OpenedRunResponse:
    """Open a run for your own training loop (editor; `gapwatch.init`): it is running at once,
    and the token writes its metrics, events, heartbeats and finish. A `client_key` seen before
    in the project resumes that run instead (200)."""
    run, token, created = service.open_loop_run(session, caller, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return OpenedRunResponse(run=RunRead.from_row(run), token=token)


@router.post("/{run_id}/resume", response_model=OpenedRunResponse, operation_id="runs-resume")
def resume_loop_run(body: ResumeRequest, run: RunEditor, session: SessionDep) -> OpenedRunResponse:
    """Continue a loop run (editor; `gapwatch.init(resume=ID)`) with a fresh token; the old
    token stops working. 409 for engine runs and cancelled runs."""
    run, token = service.resume_loop_run(session, run, host=body.host)
    return OpenedRunResponse(run=RunRead.from_row(run), token=token)


NameQuery = Annotated[str | None, Query(max_length=64, pattern=r"^[a-z0-9_]+$")]
CONFIG_PARAM = re.compile(r"^config((?:\.[A-Za-z0-9_-]{1,64}){1,8})$")
MAX_CONFIG_FILTERS = 8


def config_filters(request: Request) -> list[tuple[tuple[str, ...], Any]]:
    """`?config.optimizer.lr=0.01` pairs: the value is read as JSON when it is JSON (0.01,
    true, null, "a"), else as text. A malformed name or value is a 422 naming it."""
    found: list[tuple[tuple[str, ...], Any]] = []
    for name, raw in request.query_params.multi_items():
        if not name.startswith("config"):
            continue
        match = CONFIG_PARAM.match(name)
        problem = None
        if match is None:
            problem = "config filters are config.<key>[.<key>...]=<value>, keys of [A-Za-z0-9_-]"
        elif len(raw) > 200 or "\x00" in raw:
            problem = "a config filter's value has at most 200 characters and no NUL"
        elif len(found) == MAX_CONFIG_FILTERS:
            problem = f"at most {MAX_CONFIG_FILTERS} config filters"
        if problem or match is None:
            raise RequestValidationError(
                [{"type": "value_error", "loc": ("query", name), "msg": problem, "input": raw}]
            )
        try:
            value: Any = json.loads(raw, parse_constant=_not_json, parse_float=_finite)
        except (ValueError, RecursionError):
            value = raw
        found.append((tuple(match.group(1)[1:].split(".")), value))
    return found


def _not_json(name: str) -> Any:
    """NaN and Infinity, which Python's parser reads but JSON has not: the value is text."""
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    """A JSON number as a float; one beyond float range (1e400) makes the value text too."""
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is beyond float range")
    return number


SortKey = Literal[SORT_KEYS]  # type: ignore[valid-type]


@router.get("", response_model=RunPage, operation_id="runs-list")
def list_runs(
    request: Request,
    session: SessionDep,
    caller: Caller,
    status: RunStatusName | None = None,
    project: Annotated[str | None, Query(pattern=PROJECT_NAME_PATTERN)] = None,
    group: Annotated[str | None, Query(max_length=200), Text] = None,
    benchmark: NameQuery = None,
    strategy: NameQuery = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=64), Text] = None,
    kind: RunKindName | None = None,
    sweep: Annotated[
        int | None, Query(ge=1, le=MAX_ROW_ID, description="Only the runs of this sweep.")
    ] = None,
    sort: Annotated[
        SortKey,
        Query(
            description="Order: a column name, descending with a leading '-'; runs without "
            "the number come last."
        ),
    ] = "-created_at",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    # The database counts rows in 64 bits: a larger offset is a 422, not a database error.
    offset: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0,
) -> RunPage:
    """List the runs of the caller's projects (newest first by default), filtered and sorted.

    A loop run's config is searched with `config.<path>=<value>` parameters
    (`?config.lr=0.01&config.optimizer.name=adam`), compared as JSON values.
    """
    where = RunFilter(
        status=status,
        project=project,
        group=group,
        benchmark=benchmark,
        strategy=strategy,
        tag=tag,
        kind=kind,
        sweep=sweep,
        config=config_filters(request),
        visible_projects=access.visible_project_ids(session, caller),
    )
    rows, total = listing.list_runs(session, where, sort=sort, limit=limit, offset=offset)
    return RunPage(
        items=[RunRead.from_row(r) for r in rows], total=total, limit=limit, offset=offset
    )


@router.get("/{run_id}", response_model=RunRead, operation_id="runs-get")
def get_run(run: RunViewer) -> RunRead:
    """One run with its spec, status, timestamps, progress and (once ended) headline numbers."""
    return RunRead.from_row(run)


@router.post("/{run_id}/cancel", response_model=RunRead, operation_id="runs-cancel")
def cancel_run(run: RunEditor, session: SessionDep, cache: CacheDep) -> RunRead:
    """Cancel a queued or running run (editor); its headline numbers are written once the
    cancel has committed."""
    run = service.cancel_run(session, run)
    listing.record_headlines_after_commit(session, run.id, cache)
    return RunRead.from_row(run)


@router.post("/{run_id}/retry", response_model=RunRead, operation_id="runs-retry")
def retry_run(run: RunEditor, session: SessionDep, run_queue: RunQueueDep) -> RunRead:
    """Queue a failed or cancelled engine run again (editor): it resumes from its last
    checkpoint, with its attempts counted afresh. 409 for other states and loop runs."""
    return RunRead.from_row(service.retry_run(session, run, run_queue))


@router.post("/{run_id}/claim", response_model=ClaimResponse, operation_id="runs-claim")
def claim_run(
    run_id: RunId, body: ClaimRequest, session: SessionDep, settings: SettingsDep, _: WorkerAuth
) -> ClaimResponse:
    """Worker only: take the run and receive its run-scoped token."""
    run, token = service.claim_run(
        session,
        run_id,
        worker=body.worker,
        heartbeat_timeout_s=settings.heartbeat_timeout_s,
        max_attempts=settings.max_attempts,
    )
    return ClaimResponse(run=RunRead.from_row(run), token=token)


@router.post("/{run_id}/heartbeat", response_model=HeartbeatResponse, operation_id="runs-heartbeat")
def heartbeat(body: HeartbeatRequest, run: RunWriter, session: SessionDep) -> HeartbeatResponse:
    """Worker only: report progress; the answer says whether to go on."""
    run = service.record_heartbeat(session, run, body)
    return HeartbeatResponse(status=run.status)  # type: ignore[arg-type]


@router.post("/{run_id}/finish", response_model=RunRead, operation_id="runs-finish")
def finish_run(
    body: FinishRequest, run: RunWriter, session: SessionDep, cache: CacheDep
) -> RunRead:
    """Worker only: mark the run succeeded or failed."""
    run = service.finish_run(session, run, body)
    listing.record_headlines_after_commit(session, run.id, cache)
    return RunRead.from_row(run)
