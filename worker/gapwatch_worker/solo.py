"""The worker's pool: Celery's solo pool, one run at a time in the worker's main thread, that
can stop the run it executes.

A module of its own: Celery's banner names the pool after its module (`concurrency: 1 (solo)`).
"""

from __future__ import annotations

import os
from typing import Any

from celery.concurrency.solo import TaskPool as SoloTaskPool
from celery.exceptions import WorkerTerminate

# The worker's exit status when it stopped in the middle of a run (Celery's cold shutdown).
EX_INTERRUPTED = 1


class StoppableSoloPool(SoloTaskPool):
    """Celery's solo pool (the run executes in the worker's main thread), which can stop it.

    A cold shutdown (SIGQUIT, a second Ctrl-C, SIGTERM under `REMAP_SIGTERM=SIGQUIT`) cancels
    the active task through `terminate_job`, which the solo pool does not implement: Celery's
    signal handler runs in the thread that executes the run, so its NotImplementedError was
    raised inside the run, which then reported itself failed. Here the handler unwinds the run
    with WorkerTerminate instead: its `with` blocks close (the points measured so far are sent),
    Celery's tracer and pool re-raise it, the message stays unacknowledged (the broker gets it
    back) and the worker terminates. The run stays claimed and resumes from its checkpoint.
    """

    def terminate_job(self, pid: int, signal: Any = None) -> None:  # noqa: ARG002 - Celery's API
        if pid == os.getpid():
            raise WorkerTerminate(EX_INTERRUPTED)
