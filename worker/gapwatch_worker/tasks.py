"""The Celery task that executes one run: claim it, train it, report it, close it.

Thin on purpose: the engine (`gapwatch_worker.cl`) knows nothing of Celery or HTTP, and the
client knows nothing of torch. The task takes only a run id; everything else comes from the
API, so a GPU box needs the broker URL, the API URL and the worker token, nothing more.
"""

from __future__ import annotations

import logging
import os
import socket

import httpx
from celery.utils.log import get_task_logger

from gapwatch.client import (
    ClaimedRun,
    GapwatchClient,
    RunConflict,
    RunNotFound,
    describe_error,
)
from gapwatch.config import get_settings
from gapwatch.queue import RUN_TASK_NAME
from gapwatch_worker.app import celery_app
from gapwatch_worker.cl.checkpoint import CheckpointStore
from gapwatch_worker.cl.loop import run_experiment

# Celery's task logger: its lines reach the worker's log whatever the root logger's setup.
log: logging.Logger = get_task_logger(__name__)

# The worker's error text is shorter than the API allows: the engine's tracebacks are deep.
MAX_ERROR_CHARS = 8_000


def worker_name() -> str:
    """Identifies this process in the claim: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


@celery_app.task(
    name=RUN_TASK_NAME,
    bind=True,
    # Only the API being unreachable is transient; a bug in a run fails that run, once.
    autoretry_for=(httpx.TransportError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=8,
)
def execute_run(self: object, run_id: int) -> str:
    """Execute run `run_id`; returns what became of it (for the worker's log)."""
    settings = get_settings()
    with GapwatchClient(settings.resolved_api_url) as api:
        try:
            claim = api.claim_run(
                run_id, worker=worker_name(), worker_token=settings.worker_token.get_secret_value()
            )
        except (RunConflict, RunNotFound) as refusal:
            # Already done, cancelled, or alive on another worker: a duplicate delivery.
            log.info("run %s not executed: %s", run_id, refusal.detail)
            return "skipped"
        log.info("run %s claimed (attempt %d)", run_id, claim.attempts)
        return execute_claimed_run(api, claim)


def checkpoint_store(run_id: int) -> CheckpointStore:
    """Where run `run_id` keeps its checkpoint: shared by every worker that may resume it."""
    return CheckpointStore(get_settings().artifacts_dir / "runs" / str(run_id))


def execute_claimed_run(api: GapwatchClient, claim: ClaimedRun) -> str:
    """Train a claimed run and report its end; the run's status row stays true either way.

    A run claimed again after its worker died resumes from its last checkpoint; its points up
    to that checkpoint are already stored, and ingestion ignores the ones sent twice.
    """
    logger = api.run_logger(claim)
    try:
        with logger:
            outcome = run_experiment(
                claim.spec,
                logger,
                should_stop=logger.should_stop,
                data_dir=get_settings().data_dir,
                checkpoints=checkpoint_store(claim.run_id),
            )
    except Exception as error:  # noqa: BLE001 - any failure of the run is reported on the run
        if logger.stop_requested:
            return "cancelled"
        log.exception("run %s failed", claim.run_id)
        return _finish(api, claim, error=describe_error(error, MAX_ERROR_CHARS))
    if outcome.stopped or logger.stop_requested:
        return "cancelled"
    status = _finish(api, claim, error=None)
    # A finished run resumes nothing; its buffers can be large. Failed runs keep theirs.
    checkpoint_store(claim.run_id).clear()
    return status


def _finish(api: GapwatchClient, claim: ClaimedRun, *, error: str | None) -> str:
    try:
        api.finish_run(claim.run_id, claim.token, error=error)
    except RunConflict:  # cancelled while we were finishing
        return "cancelled"
    return "failed" if error else "succeeded"
