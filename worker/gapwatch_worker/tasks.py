"""The Celery task that executes one run: claim it, train it, report it, close it.

Thin on purpose: the engine (`gapwatch_worker.cl`) knows nothing of Celery or HTTP, and the
client knows nothing of torch. The task takes only a run id; everything else comes from the
API, so a GPU box needs the broker URL, the API URL and the worker token, nothing more.

Outages of the API or its database are ridden out for `GAPWATCH_WORKER_OUTAGE_S`: the claim,
every batch of points, the heartbeats and the finish are retried with exponential backoff and
jitter while training goes on (points wait in memory, then on disk). Past that budget the
worker gives the run up without a word to the API, which it cannot reach: the run's heartbeat
goes stale, the API's sweep queues it again and the next worker resumes it from its checkpoint.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Any

import httpx
from celery.utils.log import get_task_logger

from gapwatch.client import (
    ClaimedRun,
    GapwatchAPIError,
    GapwatchClient,
    NotAllowed,
    RetryPolicy,
    RunConflict,
    RunLogger,
    RunNotFound,
    call_with_retries,
    describe_error,
    is_transient,
)
from gapwatch.components import CustomBenchmarkSpec
from gapwatch.config import get_settings
from gapwatch.datasets.arrays import dataset_path, read_verified
from gapwatch.queue import RUN_TASK_NAME
from gapwatch.sdk.spill import DiskSpill
from gapwatch_worker.app import celery_app
from gapwatch_worker.cl.checkpoint import CheckpointStore
from gapwatch_worker.cl.loop import run_experiment

# Celery's task logger: its lines reach the worker's log whatever the root logger's setup.
log: logging.Logger = get_task_logger(__name__)

# The worker's error text is shorter than the API allows: the engine's tracebacks are deep.
MAX_ERROR_CHARS = 8_000
# The longest wait between two tries during an outage: a worker comes back within this time of
# the API, well before the API's heartbeat timeout (120 s by default) takes its run away.
MAX_RETRY_DELAY_S = 10.0
# A claim that found no API for the whole outage budget: the message goes back to the broker
# and is tried again this much later (the run is still queued; nothing else would send it).
CLAIM_AGAIN_AFTER_S = 60.0


def worker_name() -> str:
    """Identifies this process in the claim: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def outage_policy() -> RetryPolicy:
    """Retries through an unreachable API or database for GAPWATCH_WORKER_OUTAGE_S: delays
    double from 0.5 s to MAX_RETRY_DELAY_S, each drawn from its upper half (jitter), so that
    the workers that one outage cut off do not all come back in the same instant."""
    return RetryPolicy(
        max_retries=None,
        give_up_after_s=get_settings().worker_outage_s,
        initial_delay_s=0.5,
        max_delay_s=MAX_RETRY_DELAY_S,
        jitter=0.5,
    )


@celery_app.task(name=RUN_TASK_NAME, bind=True, max_retries=None)
def execute_run(self: Any, run_id: int) -> str:
    """Execute run `run_id`; returns what became of it (for the worker's log)."""
    settings = get_settings()
    policy = outage_policy()
    with GapwatchClient(settings.resolved_api_url) as api:
        try:
            claim = call_with_retries(
                lambda: api.claim_run(
                    run_id,
                    worker=worker_name(),
                    worker_token=settings.worker_token.get_secret_value(),
                ),
                policy,
            )
        except (RunConflict, RunNotFound) as refusal:
            # Already done, cancelled, out of attempts, or alive on another worker.
            log.info("run %s not executed: %s", run_id, refusal.detail)
            return "skipped"
        except (httpx.TransportError, GapwatchAPIError) as error:
            if not is_transient(error):
                raise
            log.warning(
                "run %s not claimed: the API was unreachable for %g s (%s); trying again in %g s",
                run_id,
                settings.worker_outage_s,
                error,
                CLAIM_AGAIN_AFTER_S,
            )
            raise self.retry(countdown=CLAIM_AGAIN_AFTER_S) from None
        log.info("run %s claimed (attempt %d)", run_id, claim.attempts)
        return execute_claimed_run(api, claim, policy)


def checkpoint_store(run_id: int) -> CheckpointStore:
    """Where run `run_id` keeps its checkpoint: shared by every worker that may resume it."""
    return CheckpointStore(get_settings().artifacts_dir / "runs" / str(run_id))


def execute_claimed_run(
    api: GapwatchClient, claim: ClaimedRun, policy: RetryPolicy | None = None
) -> str:
    """Train a claimed run and report its end; the run's status row stays true either way.

    A run claimed again after its worker died resumes from its last checkpoint; its points up
    to that checkpoint are already stored, and ingestion ignores the ones sent twice. Returns
    succeeded, failed, cancelled (the run stopped taking data: cancelled, or taken for dead
    and queued again), taken (another worker claimed it since) or abandoned (the API stayed
    out of reach for the whole outage budget).
    """
    policy = policy or outage_policy()
    if claim.spec is None:  # it names a plugin this worker lacks: say so on the run
        log.warning("run %s refused: %s", claim.run_id, claim.spec_error)
        error = (claim.spec_error or "unreadable spec")[:MAX_ERROR_CHARS]
        return _finish(api, claim, policy, error=error)
    spill = DiskSpill()
    # keepalive: a long evaluation that reports no new step still beats, and so does the
    # dataset's download (or its retries through an outage) before the first step.
    logger = api.run_logger(claim, retry=policy, keepalive=True, spill=spill)
    try:
        with logger:
            _fetch_dataset_of(api, claim, policy)
            outcome = run_experiment(
                claim.spec,
                logger,
                should_stop=logger.should_stop,
                data_dir=get_settings().data_dir,
                checkpoints=checkpoint_store(claim.run_id),
            )
    except DatasetUnavailable as refusal:
        stopped = _stopped(claim, logger)  # cancelled or taken meanwhile: nothing to report
        if stopped is not None:
            return stopped
        log.warning("run %s failed: %s", claim.run_id, refusal)
        return _finish(api, claim, policy, error=str(refusal))
    except _FetchAbandoned as outage:
        _give_up(claim, outage.error, what=" before its dataset was fetched")
        return "abandoned"
    except Exception as error:  # noqa: BLE001 - any failure of the run is reported on the run
        stopped = _stopped(claim, logger)
        if stopped is not None:
            return stopped
        log.exception("run %s failed", claim.run_id)
        return _finish(api, claim, policy, error=describe_error(error, MAX_ERROR_CHARS))
    finally:
        spill.remove()
    if outcome.stopped or logger.stop_requested:
        return _stopped(claim, logger) or "cancelled"
    status = _finish(api, claim, policy, error=None)
    if status == "succeeded":
        # A finished run resumes nothing; its buffers can be large. Others keep theirs.
        checkpoint_store(claim.run_id).clear()
    return status


class DatasetUnavailable(Exception):
    """The run's uploaded dataset could not be fetched as its spec names it."""


class _FetchAbandoned(Exception):
    """The API stayed out of reach for the whole outage budget while the dataset was being
    fetched (`error`: the last transient failure)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _fetch_dataset_of(api: GapwatchClient, claim: ClaimedRun, policy: RetryPolicy) -> None:
    """`fetch_dataset`, its outage told apart from the run's own failures.

    Raises:
        DatasetUnavailable: As `fetch_dataset`.
        _FetchAbandoned: The API stayed out of reach.
    """
    try:
        fetch_dataset(api, claim, policy)
    except (httpx.TransportError, GapwatchAPIError) as error:
        if not is_transient(error):
            raise
        raise _FetchAbandoned(error) from None


def fetch_dataset(api: GapwatchClient, claim: ClaimedRun, policy: RetryPolicy) -> None:
    """Make sure the dataset of a custom benchmark is in this worker's data folder
    (`dataset_path`) with the content digest its spec names, downloading it with the run's
    token otherwise (beside its place, checked, then renamed in). Other runs need nothing.

    Raises:
        DatasetUnavailable: The API refused it (deleted, say) or sent other content.
        httpx.TransportError | GapwatchAPIError: The API stayed out of reach (transient).
    """
    assert claim.spec is not None  # execute_claimed_run finishes a run without one first
    bench = claim.spec.benchmark
    if not isinstance(bench, CustomBenchmarkSpec) or bench.digest is None:
        # Without a digest there is nothing to fetch: the engine fails the run, saying so.
        return
    path = dataset_path(get_settings().data_dir, bench.digest)
    if _holds(path, bench.digest):
        return
    what = f"dataset {bench.dataset} (digest {bench.digest[:12]}...)"
    partial = path.with_name(f".{path.name}.{os.getpid()}.download")
    try:
        try:
            call_with_retries(
                lambda: api.download_dataset(
                    bench.dataset, partial, token=claim.token, run_id=claim.run_id
                ),
                policy,
            )
        except GapwatchAPIError as refusal:
            if is_transient(refusal):
                raise
            raise DatasetUnavailable(f"{what} could not be fetched: {refusal.detail}") from None
        if not _holds(partial, bench.digest):
            raise DatasetUnavailable(
                f"{what} as the API sent it has other content (its arrays' digest differs)"
            )
        os.replace(partial, path)
        log.info("run %s: %s fetched to %s", claim.run_id, what, path)
    finally:
        partial.unlink(missing_ok=True)


def _holds(path: Path, digest: str) -> bool:
    """Whether `path` is a readable canonical .npz whose arrays have `digest`."""
    if not path.is_file():
        return False
    try:
        read_verified(path, digest)
    except ValueError as error:
        log.warning("%s is not the dataset file it should be (%s)", path, error)
        return False
    return True


def _stopped(claim: ClaimedRun, logger: RunLogger) -> str | None:
    """Why the run stopped if not by its own error, said in one line (no traceback: nothing
    went wrong here), or None when the run itself failed."""
    failure = logger.failure
    if isinstance(failure, RunConflict):
        # The API refused its data: cancelled, or queued again when it took us for dead.
        log.info("run %s stopped (%s)", claim.run_id, failure.detail)
        return "cancelled"
    if logger.stop_requested:
        log.info("run %s stopped: it was cancelled", claim.run_id)
        return "cancelled"
    if isinstance(failure, NotAllowed):
        log.warning("run %s stopped: another worker claimed it since (%s)", claim.run_id, failure)
        return "taken"
    if failure is not None and is_transient(failure):
        _give_up(claim, failure)
        return "abandoned"
    return None


def _give_up(claim: ClaimedRun, error: BaseException, what: str = "") -> None:
    log.error(
        "run %s given up%s: the API was unreachable for %g s (%s); it resumes from its "
        "checkpoint once the API takes its silence for a stopped worker",
        claim.run_id,
        what,
        get_settings().worker_outage_s,
        error,
    )


def _finish(
    api: GapwatchClient, claim: ClaimedRun, policy: RetryPolicy, *, error: str | None
) -> str:
    """The run's last word, retried through an outage like every other call (a repeated finish
    is answered as the first was), so that a failed run's error is not lost."""
    try:
        call_with_retries(lambda: api.finish_run(claim.run_id, claim.token, error=error), policy)
    except RunConflict as refusal:  # cancelled while we were finishing
        log.info("run %s stopped (%s)", claim.run_id, refusal.detail)
        return "cancelled"
    except NotAllowed as refusal:
        log.warning("run %s stopped: another worker claimed it since (%s)", claim.run_id, refusal)
        return "taken"
    except (httpx.TransportError, GapwatchAPIError) as failure:
        if not is_transient(failure):
            raise
        ending = "failed: " + error.partition("\n")[0] if error else "succeeded"
        _give_up(claim, failure, what=f" before its end ({ending}) was recorded")
        return "abandoned"
    return "failed" if error else "succeeded"
