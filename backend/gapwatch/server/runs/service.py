"""Decisions about runs: creation, the claim protocol and the status lifecycle.

Engine runs: queued -> running -> succeeded | failed | cancelled, executed by a worker.
Loop runs (a user's own training loop, `gapwatch.init`): running at creation -> succeeded |
failed | cancelled, or crashed when the loop's heartbeats stop; resuming one makes it running
again. Services flush; the request commits.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from datetime import timedelta

from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from gapwatch.config import Settings
from gapwatch.queue import RunQueue
from gapwatch.resources import DatasetShape, check_limits
from gapwatch.server.access import service as access
from gapwatch.server.access.principal import Principal
from gapwatch.server.access.tokens import hash_secret, new_secret
from gapwatch.server.datasets import service as datasets
from gapwatch.server.db import call_after_commit
from gapwatch.server.errors import AttemptsExhausted, Conflict, NotFound, first_line
from gapwatch.server.models import Project, Role, Run, RunKind, RunStatus
from gapwatch.server.models.base import utcnow
from gapwatch.server.runs import repository
from gapwatch.server.runs.schemas import FinishRequest, HeartbeatRequest, LoopRunRequest
from gapwatch.spec import RunSpec

log = logging.getLogger(__name__)


def get_run(session: Session, run_id: int) -> Run:
    """The run, or NotFound (for the worker's side, whose tokens were checked already)."""
    run = repository.get(session, run_id)
    if run is None:
        raise NotFound(f"run {run_id} not found")
    return run


def check_resources(spec: RunSpec, settings: Settings, dataset: DatasetShape | None = None) -> None:
    """422 naming the part of the spec whose estimated cost is over a GAPWATCH_MAX_* cap
    (a custom benchmark's estimated over its `dataset`)."""
    refused = check_limits(
        spec,
        max_parameters=settings.max_parameters,
        max_eval_rows=settings.max_eval_rows,
        max_memory_bytes=settings.max_memory_bytes,
        dataset=dataset,
    )
    if refused:
        raise RequestValidationError(
            [
                {"type": "resource_limit", "loc": r.loc, "msg": r.message, "input": r.estimate}
                for r in refused
            ]
        )


def submission_project(session: Session, caller: Principal, name: str | None) -> Project:
    """The project a run or a sweep is submitted to: `name`, else the caller's default.

    Raises:
        NotFound: The caller is not in the project (or it does not exist).
        Forbidden: The caller is only a viewer there.
    """
    name = name or access.default_project_name(session, caller)
    project, _ = access.authorize_project(session, caller, name, Role.editor)
    return project


def create_run(
    session: Session, caller: Principal, spec: RunSpec, run_queue: RunQueue, settings: Settings
) -> Run:
    """Store a queued run in its project and enqueue it once the transaction has committed.

    Raises:
        NotFound: The caller is not in the spec's project (or it does not exist).
        Forbidden: The caller is only a viewer there.
        RequestValidationError: The spec's estimated cost is over a cap, or its custom
            benchmark does not fit its dataset.
    """
    project = submission_project(session, caller, spec.project)
    spec, shape = resolve_datasets(session, project, spec)
    check_resources(spec, settings, shape)
    return queue_runs(session, project, [spec], run_queue)[0]


def resolve_datasets(
    session: Session, project: Project, spec: RunSpec
) -> tuple[RunSpec, DatasetShape | None]:
    """The spec as it is stored: a custom benchmark's dataset found in `project` and its
    content digest filled in (what the worker checks the file against); with the dataset's
    shape for the resource check (None for other benchmarks).

    Raises:
        RequestValidationError: No such dataset in the project, a given digest that differs,
            split classes that are not its labels, or image-only parts over non-images (each
            naming the field).
    """
    try:
        return datasets.resolve_spec(session, project, spec)
    except datasets.SpecInvalid as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors]
        ) from None


def queue_runs(
    session: Session,
    project: Project,
    specs: Sequence[RunSpec],
    run_queue: RunQueue,
    *,
    sweep_id: int | None = None,
) -> list[Run]:
    """Store queued runs of `specs` in `project` (the caller's right to submit there and the
    specs' costs already checked), in one statement, and enqueue them, in order, once the
    transaction has committed."""
    runs = []
    for spec in specs:
        spec = spec.model_copy(update={"project": project.name})
        runs.append(
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
                sweep_id=sweep_id,
            )
        )
    repository.add_all(session, runs)
    send_all_after_commit(
        session, run_queue, [(run.id, spec.queue) for run, spec in zip(runs, specs, strict=True)]
    )
    return runs


def send_after_commit(
    session: Session, run_queue: RunQueue, run_id: int, queue: str | None
) -> None:
    """Send the run to the broker once the transaction has committed (`send_all_after_commit`)."""
    send_all_after_commit(session, run_queue, [(run_id, queue)])


def send_all_after_commit(
    session: Session, run_queue: RunQueue, runs: Sequence[tuple[int, str | None]]
) -> None:
    """Send the runs, (id, queue) pairs, to the broker once the transaction has committed, in
    order, then note on those sent that they went (`enqueued_at`): the sweep sends again the
    queued runs it was never sent for.

    The note is written with the same session after its transaction ended (a new one), in one
    statement. Failing to write it loses nothing: a run is at worst sent twice, and a duplicate
    delivery is refused by the claim. A send that fails (BrokerUnavailable) stops the rest,
    which stay unmarked and are sent again later; those sent before it are noted all the same.
    """
    pending = list(runs)

    def send() -> None:
        sent: list[int] = []
        try:
            for run_id, queue in pending:
                run_queue.enqueue_run(run_id, queue)
                sent.append(run_id)
        finally:
            _mark_sent(session, sent)

    call_after_commit(session, send)


def _mark_sent(session: Session, run_ids: Sequence[int]) -> None:
    try:
        if run_ids:
            repository.mark_enqueued(session, run_ids, utcnow())
            session.commit()
    except SQLAlchemyError as error:
        shown = ", ".join(map(str, run_ids[:10])) + (" ..." if len(run_ids) > 10 else "")
        log.warning("runs %s were sent but not marked as sent: %s", shown, first_line(error))
        with contextlib.suppress(SQLAlchemyError):
            session.rollback()
    finally:
        session.close()


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
    run.headline_at = None  # the numbers are written again when it ends again
    run.headlines.clear()  # and until then it sorts with the runs that have none
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


def exhausted_reason(attempts: int) -> str:
    """Why a run is failed at its claim: every attempt ended without a word from its worker."""
    plural = "attempt" if attempts == 1 else "attempts"
    return f"failed after {attempts} {plural}: the worker stopped (out of memory?) each time"


def claim_run(
    session: Session,
    run_id: int,
    *,
    worker: str,
    heartbeat_timeout_s: float,
    max_attempts: int | None = None,
) -> tuple[Run, str]:
    """Hand the run to `worker` with a fresh run token, unless it is finished or still alive.

    A running run may be claimed again only when its heartbeat is stale (its worker died and
    the broker redelivered it), whatever worker name the claim gives: a name is no credential.
    A run claimed `max_attempts` times already (each of its workers died: out of memory, a
    crash that kills the process) is failed instead, so that it does not take workers down
    for ever; `retry_run` gives it as many attempts again.

    Raises:
        AttemptsExhausted: The run had its attempts; it is now failed (the refusal commits).
        Conflict: It is finished, a loop run, or alive on another worker.
    """
    run = get_run(session, run_id)
    if RunStatus(run.status).is_terminal:
        raise Conflict(f"run {run_id} is already {run.status}")
    if run.kind != RunKind.engine:
        raise Conflict(f"run {run_id} is logged by its own loop; no worker executes it")
    token = new_secret()
    now = utcnow()
    stale_before = now - timedelta(seconds=heartbeat_timeout_s)
    if max_attempts is not None and run.attempts >= max_attempts:
        reason = exhausted_reason(run.attempts)
        if repository.fail_exhausted(
            session, run, stale_before=stale_before, now=now, error=reason
        ):
            raise AttemptsExhausted(f"run {run_id} {reason}")
        session.refresh(run)
        raise Conflict(f"run {run_id} is {run.status} on worker {run.worker!r}")
    claimed = repository.claim(
        session,
        run,
        worker=worker,
        token_hash=hash_secret(token),
        now=now,
        stale_before=stale_before,
    )
    if not claimed:
        session.refresh(run)
        raise Conflict(f"run {run_id} is {run.status} on worker {run.worker!r}")
    return run, token


def retry_run(session: Session, run: Run, run_queue: RunQueue) -> Run:
    """Queue a failed or cancelled engine run again: its next worker resumes it from its last
    checkpoint (workers keep it unless the run succeeded), with its attempts counted afresh
    and its error cleared.

    Raises:
        Conflict: The run is a loop run (its own code resumes it), or it is queued, running
            or succeeded.
    """
    if run.kind != RunKind.engine:
        raise Conflict(
            f"run {run.id} is logged by its own loop; its code resumes it with "
            f"gapwatch.init(resume={run.id})"
        )
    if run.status not in (RunStatus.failed, RunStatus.cancelled):
        raise Conflict(f"run {run.id} is {run.status}; only a failed or cancelled run is retried")
    run.status = RunStatus.queued
    run.error = None
    run.finished_at = None
    run.heartbeat_at = None
    run.attempts = 0
    run.enqueued_at = None
    run.headline_at = None  # the numbers are written again when it ends again
    run.headlines.clear()  # and until then it sorts with the runs that have none
    session.flush()
    send_after_commit(session, run_queue, run.id, (run.spec or {}).get("queue"))
    return run


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
    """The worker's last word: succeeded, or failed with the error text. The same word again
    (a retry whose first answer was lost) is answered with the run as it is."""
    if run.status == finish.status and run.status in (RunStatus.succeeded, RunStatus.failed):
        return run
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


def recover_runs(
    session: Session, run_queue: RunQueue, *, requeue_running: bool
) -> tuple[int, int]:
    """At start-up: send `queued` runs again and, in embedded mode, resume interrupted ones.

    A queued run's message may be lost (a broker that was down at submission, the filesystem
    broker's files); sending it again is safe because a duplicate delivery is refused by the
    claim. `requeue_running` only where the starting service owns the only worker (embedded):
    a run still `running` there was interrupted by a crash of the service (a clean stop
    already released it, see `release_stopped_runs`). It goes back to `queued` and is sent;
    its next claim resumes it from its checkpoint and counts as one more attempt, so that a
    run that brings the whole service down every time is failed at its claim once it has had
    GAPWATCH_MAX_ATTEMPTS. Loop runs are left alone: only their own code resumes them.
    Returns (interrupted runs queued again, runs sent).
    """
    interrupted = (
        repository.with_status(session, RunStatus.running, kind=RunKind.engine)
        if requeue_running
        else []
    )
    for run in interrupted:
        run.status = RunStatus.queued
        run.enqueued_at = None
    session.flush()
    queued = [
        (run.id, (run.spec or {}).get("queue"))
        for run in repository.with_status(session, RunStatus.queued, kind=RunKind.engine)
    ]
    for run_id, queue in queued:
        send_after_commit(session, run_queue, run_id, queue)
    return len(interrupted), len(queued)


def release_stopped_runs(session: Session) -> int:
    """At a clean stop of the embedded service, once its worker has stopped: the engine runs
    it was executing go back to `queued` (the next start sends them; they resume from their
    checkpoints) and the attempt is given back, since the service stopped them, not a fault
    of theirs. Returns how many."""
    stopped = repository.with_status(session, RunStatus.running, kind=RunKind.engine)
    for run in stopped:
        run.status = RunStatus.queued
        run.attempts = max(0, run.attempts - 1)
        run.enqueued_at = None
    session.flush()
    return len(stopped)


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
        send_after_commit(session, run_queue, run_id, queue)
    return len(requeued)


# Runs sent again per sweep at most: a long broker outage's backlog goes over a few sweeps.
MAX_RESENT_PER_SWEEP = 1000
# A run this new may still be on its way to the broker (the request that made it sends it after
# its commit): the sweep leaves it to that send.
UNSENT_GRACE_S = 10.0


def send_unsent_runs(session: Session, run_queue: RunQueue) -> int:
    """Send again the queued runs whose message never reached the broker (it was down when
    they were submitted, retried or requeued) and only those; returns how many.

    The sends happen after the commit, in order, and stop at the first that fails (the broker
    is still down): the rest wait for the next sweep. A run sent twice all the same (its own
    send was under way during a sweep) is harmless: the claim refuses the second delivery.
    """
    unsent = repository.never_enqueued(
        session,
        created_before=utcnow() - timedelta(seconds=UNSENT_GRACE_S),
        limit=MAX_RESENT_PER_SWEEP,
    )
    for run_id, queue in unsent:
        send_after_commit(session, run_queue, run_id, queue)
    return len(unsent)


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
