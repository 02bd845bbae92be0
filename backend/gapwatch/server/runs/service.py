"""Decisions about runs: creation, the claim protocol and the status lifecycle.

Engine runs: queued -> running -> succeeded | failed | cancelled, executed by a worker.
Loop runs (a user's own training loop, `gapwatch.init`): running at creation -> succeeded |
failed | cancelled, or crashed when the loop's heartbeats stop; resuming one makes it running
again. Services flush; the request commits.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gapwatch.config import Settings
from gapwatch.queue import RunQueue
from gapwatch.resources import check_limits
from gapwatch.server.access import service as access
from gapwatch.server.access.principal import Principal
from gapwatch.server.access.tokens import hash_secret, new_secret
from gapwatch.server.db import call_after_commit
from gapwatch.server.errors import Conflict, NotFound
from gapwatch.server.models import Role, Run, RunKind, RunStatus
from gapwatch.server.models.base import utcnow
from gapwatch.server.runs import repository
from gapwatch.server.runs.schemas import FinishRequest, HeartbeatRequest, LoopRunRequest
from gapwatch.spec import RunSpec


def get_run(session: Session, run_id: int) -> Run:
    """The run, or NotFound (for the worker's side, whose tokens were checked already)."""
    run = repository.get(session, run_id)
    if run is None:
        raise NotFound(f"run {run_id} not found")
    return run


def check_resources(spec: RunSpec, settings: Settings) -> None:
    """422 naming the part of the spec whose estimated cost is over a GAPWATCH_MAX_* cap."""
    refused = check_limits(
        spec,
        max_parameters=settings.max_parameters,
        max_eval_rows=settings.max_eval_rows,
        max_memory_bytes=settings.max_memory_bytes,
    )
    if refused:
        raise RequestValidationError(
            [
                {"type": "resource_limit", "loc": r.loc, "msg": r.message, "input": r.estimate}
                for r in refused
            ]
        )


def create_run(
    session: Session, caller: Principal, spec: RunSpec, run_queue: RunQueue, settings: Settings
) -> Run:
    """Store a queued run in its project and enqueue it once the transaction has committed.

    Raises:
        NotFound: The caller is not in the spec's project (or it does not exist).
        Forbidden: The caller is only a viewer there.
        RequestValidationError: The spec's estimated cost is over a cap.
    """
    name = spec.project or access.default_project_name(session, caller)
    project, _ = access.authorize_project(session, caller, name, Role.editor)
    check_resources(spec, settings)
    spec = spec.model_copy(update={"project": project.name})
    run = repository.add(
        session,
        Run(
            project_id=project.id,
            name=spec.name,
            group_name=spec.group,
            tags=list(spec.tags),
            spec=spec.model_dump(mode="json"),
            benchmark=spec.benchmark.name,
            strategy=spec.strategy.name,
            status=RunStatus.queued,
            progress_step=0,
            attempts=0,
        ),
    )
    run_id = run.id
    call_after_commit(session, lambda: run_queue.enqueue_run(run_id, spec.queue))
    return run


def open_loop_run(
    session: Session, caller: Principal, request: LoopRunRequest
) -> tuple[Run, str, bool]:
    """A running loop run in the caller's project, with the token its loop writes with, and
    whether it was created (False: the request's client_key named a run opened before, which
    is resumed with a fresh token).

    Raises:
        NotFound: The caller is not in the project (or it does not exist).
        Forbidden: The caller is only a viewer there.
        Conflict: The client_key names a run that was cancelled.
    """
    name = request.project or access.default_project_name(session, caller)
    project, _ = access.authorize_project(session, caller, name, Role.editor)
    if request.client_key is not None:
        known = repository.by_client_key(session, project.id, request.client_key)
        if known is not None:
            return (*resume_loop_run(session, known, host=request.host), False)
    token = new_secret()
    now = utcnow()
    run = Run(
        project_id=project.id,
        kind=RunKind.loop,
        name=request.name,
        group_name=request.group,
        tags=list(request.tags),
        spec=None,
        config=request.config,
        client_key=request.client_key,
        status=RunStatus.running,
        started_at=now,
        heartbeat_at=now,
        worker=request.host,
        progress_step=0,
        attempts=1,
        token_hash=hash_secret(token),
    )
    try:
        with session.begin_nested():  # two openings with one client_key: the second resumes
            repository.add(session, run)
    except IntegrityError:
        if request.client_key is None:
            raise
        known = repository.by_client_key(session, project.id, request.client_key)
        if known is None:
            raise
        return (*resume_loop_run(session, known, host=request.host), False)
    return run, token, True


def resume_loop_run(session: Session, run: Run, *, host: str | None) -> tuple[Run, str]:
    """Running again, with a fresh token: the previous one (a crashed process's) stops working.

    Raises:
        Conflict: The run is an engine run (a worker resumes those) or was cancelled.
    """
    if run.kind != RunKind.loop:
        raise Conflict(f"run {run.id} is executed by a worker; only loop runs are resumed here")
    if run.status == RunStatus.cancelled:
        raise Conflict(f"run {run.id} was cancelled")
    token = new_secret()
    now = utcnow()
    run.status = RunStatus.running
    run.error = None
    run.finished_at = None
    run.heartbeat_at = now
    run.worker = host or run.worker
    run.attempts += 1
    run.token_hash = hash_secret(token)
    run.headline_at = None  # the numbers are computed again when it ends again
    session.flush()
    return run, token


def cancel_run(session: Session, run: Run) -> Run:
    """Cancel a queued or running run; the worker sees it at its next heartbeat."""
    run_id = run.id
    if RunStatus(run.status).is_terminal:
        raise Conflict(f"run {run_id} is already {run.status}")
    run.status = RunStatus.cancelled
    run.finished_at = utcnow()
    session.flush()
    return run


def claim_run(
    session: Session, run_id: int, *, worker: str, heartbeat_timeout_s: float
) -> tuple[Run, str]:
    """Hand the run to `worker` with a fresh run token, unless it is finished or still alive.

    A running run may be claimed again only when its heartbeat is stale (its worker died and
    the broker redelivered it), whatever worker name the claim gives: a name is no credential.
    """
    run = get_run(session, run_id)
    if RunStatus(run.status).is_terminal:
        raise Conflict(f"run {run_id} is already {run.status}")
    if run.kind != RunKind.engine:
        raise Conflict(f"run {run_id} is logged by its own loop; no worker executes it")
    token = new_secret()
    now = utcnow()
    claimed = repository.claim(
        session,
        run,
        worker=worker,
        token_hash=hash_secret(token),
        now=now,
        stale_before=now - timedelta(seconds=heartbeat_timeout_s),
    )
    if not claimed:
        session.refresh(run)
        raise Conflict(f"run {run_id} is {run.status} on worker {run.worker!r}")
    return run, token


def record_heartbeat(session: Session, run: Run, beat: HeartbeatRequest) -> Run:
    """Note the worker's progress; a cancelled run answers its status so the worker stops."""
    if run.status == RunStatus.cancelled:
        return run
    if run.status != RunStatus.running:
        raise Conflict(f"run {run.id} is {run.status}, not running")
    run.heartbeat_at = utcnow()
    run.progress_step = beat.step
    run.total_steps = beat.total_steps if beat.total_steps is not None else run.total_steps
    run.iterations_per_s = beat.iterations_per_s
    session.flush()
    return run


def finish_run(session: Session, run: Run, finish: FinishRequest) -> Run:
    """The worker's last word: succeeded, or failed with the error text."""
    if run.status != RunStatus.running:
        raise Conflict(f"run {run.id} is {run.status}, not running")
    run.status = RunStatus(finish.status)
    run.error = finish.error if finish.status == "failed" else None
    run.finished_at = utcnow()
    if finish.status == "succeeded" and run.total_steps:
        run.progress_step = run.total_steps
    session.flush()
    return run


def require_writable(run: Run) -> None:
    """Points and events are accepted only while the run is running."""
    if run.status != RunStatus.running:
        raise Conflict(f"run {run.id} is {run.status}; it accepts no more data")


def recover_runs(session: Session, run_queue: RunQueue, *, fail_running: bool) -> tuple[int, int]:
    """At start-up: send `queued` runs again and, in embedded mode, fail interrupted ones.

    A queued run's message may be lost (a broker that was down at submission, the filesystem
    broker's files); sending it again is safe because a duplicate delivery is refused by the
    claim. `fail_running` only where the starting service owns the only worker (embedded): a
    run still `running` there was interrupted by the stop. Returns (failed, requeued).
    """
    interrupted = (
        repository.with_status(session, RunStatus.running, kind=RunKind.engine)
        if fail_running
        else []
    )
    for run in interrupted:
        run.status = RunStatus.failed
        run.error = "interrupted: the service stopped while this run was executing"
        run.finished_at = utcnow()
    queued = [
        (run.id, (run.spec or {}).get("queue"))
        for run in repository.with_status(session, RunStatus.queued, kind=RunKind.engine)
    ]
    session.flush()
    for run_id, queue in queued:
        call_after_commit(session, lambda r=run_id, q=queue: run_queue.enqueue_run(r, q))
    return len(interrupted), len(queued)


def requeue_stale_runs(session: Session, run_queue: RunQueue, *, heartbeat_timeout_s: float) -> int:
    """Send running runs whose worker went silent back to the queue; returns how many.

    Without this, a run whose message the broker already redelivered and a live worker
    acknowledged (its claim was refused) would stay `running` forever once its first worker
    died. The next claim resumes it from its checkpoint; a worker that was only slow learns of
    it from the 409 on its next write and stops.
    """
    stale_before = utcnow() - timedelta(seconds=heartbeat_timeout_s)
    requeued = repository.requeue_stale(session, stale_before)
    for run_id, queue in requeued:
        call_after_commit(session, lambda r=run_id, q=queue: run_queue.enqueue_run(r, q))
    return len(requeued)


def mark_crashed_loop_runs(session: Session, *, heartbeat_timeout_s: float) -> list[int]:
    """Loop runs whose process went silent are `crashed` (no worker can take them over; the
    user's code resumes them with `gapwatch.init(resume=ID)`). Returns their ids."""
    now = utcnow()
    silent_since = now - timedelta(seconds=heartbeat_timeout_s)
    return repository.crash_silent_loop_runs(
        session,
        silent_since,
        now=now,
        error=f"crashed: no heartbeat from the training loop for {heartbeat_timeout_s:g} s",
    )
