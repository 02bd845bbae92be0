"""The worker's Celery app: the shared configuration plus this package's task.

Started with `gapwatch worker` (or `celery -A gapwatch_worker.app worker --concurrency=1`):
one run at a time, on `gapwatch_worker.solo.StoppableSoloPool`. Under `gapwatch up` it also
dies with its parent.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

from celery import signals

from gapwatch.config import get_settings
from gapwatch.queue import make_celery
from gapwatch_worker.solo import EX_INTERRUPTED, StoppableSoloPool

# `gapwatch up` passes its pid: its worker must not outlive it (an orphan would go on taking
# runs that the next start also sends, with no API left to report to).
PARENT_PID_VARIABLE = "GAPWATCH_PARENT_PID"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

log = logging.getLogger(__name__)

celery_app = make_celery(get_settings())
celery_app.conf.include = ["gapwatch_worker.tasks"]
celery_app.conf.worker_pool = f"{StoppableSoloPool.__module__}:{StoppableSoloPool.__qualname__}"

# One line per HTTP request (several a second per run) would drown the worker's own log.
logging.getLogger("httpx").setLevel(logging.WARNING)


def _parent_gone(parent_pid: int) -> None:
    # The API lived in the parent: nothing is left to report to, so no clean-up to wait for.
    # The run keeps its checkpoint and is resumed by the next `gapwatch up`.
    with contextlib.suppress(OSError, ValueError):  # its output may have gone with it
        print(f"gapwatch worker: its gapwatch up (pid {parent_pid}) is gone; stopping", flush=True)
    os._exit(EX_INTERRUPTED)


def _watch_parent(parent_pid: int, interval_s: float = 1.0) -> None:
    while os.getppid() == parent_pid:
        time.sleep(interval_s)
    _parent_gone(parent_pid)


def die_with_parent(parent_pid: int) -> None:
    """End this process when `parent_pid` ends.

    On Linux the kernel sends SIGKILL when the parent dies (PR_SET_PDEATHSIG); a daemon thread
    that compares `os.getppid()` every second does the same elsewhere. A parent that died
    before the first was set is caught by the check right after it (the orphan's parent is
    then another process). PR_SET_PDEATHSIG follows the parent's *thread*: `gapwatch up`
    starts the worker from its main thread, which lives as long as it does.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    if os.getppid() != parent_pid:
        _parent_gone(parent_pid)
    threading.Thread(
        target=_watch_parent, args=(parent_pid,), name="gapwatch-parent-watch", daemon=True
    ).start()


@signals.worker_init.connect
def _on_worker_init(**_kwargs: Any) -> None:
    parent = os.environ.get(PARENT_PID_VARIABLE)
    if parent:
        die_with_parent(int(parent))
