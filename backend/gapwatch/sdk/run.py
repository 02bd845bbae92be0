"""`gapwatch.init` and `Run`: logging a training loop of one's own into Gapwatch.

    import gapwatch

    with gapwatch.init(project="cl-lab", name="my-er", config={"lr": 0.01}) as run:
        for task in range(n_tasks):
            run.task_start(task, step=step)
            ...
            run.log({"train/loss": loss}, step=step)          # never waits on the network
            run.log_eval({0: 0.97, 1: 0.12}, step=step)      # eval/acc/task_<j>
            run.task_end(task, step=step)
            if run.should_stop:                               # cancelled from the dashboard
                break

A `with` block finishes the run: succeeded, or failed with the exception's text (the exception
goes on). Without one, call `run.finish()`; a run still open when the interpreter exits is
finished then (failed if an exception ended the program, else succeeded).

A (key, step) logged twice keeps its first value, as the server does for a point it already
stored; an event kind at a step is stored once (so two `task_start` at one step are one event).
"""

from __future__ import annotations

import atexit
import logging
import operator
import os
import socket
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol

from gapwatch.client import (
    MAX_ERROR_CHARS,
    GapwatchClient,
    OpenedRun,
    RetryPolicy,
    call_with_retries,
    describe_error,
)
from gapwatch.components import (
    EVENT_TASK_END,
    EVENT_TASK_START,
    metric_key_eval_acc,
    metric_key_eval_loss,
)
from gapwatch.sdk.credentials import resolve
from gapwatch.sdk.offline import DEFAULT_DIR, OfflineWriter, new_run_dir, now_iso
from gapwatch.sdk.online import OnlineBackend, outage_policy
from gapwatch.sdk.validation import (
    MAX_PROGRESS_STEP,
    check_config,
    check_event,
    check_key,
    check_run_fields,
    check_step,
    check_task,
    check_value,
)

log = logging.getLogger("gapwatch.sdk")

MODE_ENV = "GAPWATCH_MODE"
Mode = Literal["online", "offline"]
# Opening the run is not worth a long wait: a server that does not answer in a minute is
# better reported at once (or logged offline).
INIT_RETRY = RetryPolicy(max_retries=None, give_up_after_s=60.0, max_delay_s=8.0, jitter=0.5)
# Keys already checked: the check is a regular expression, and a loop logs the same few keys.
KNOWN_KEYS_LIMIT = 10_000


class Backend(Protocol):
    """Where a Run's points and events go: the server (`OnlineBackend`) or a directory."""

    def report_scalars(self, step: int, values: Mapping[str, float]) -> None: ...

    def report_event(self, step: int, kind: str, payload: Mapping[str, object]) -> None: ...

    def report_progress(self, step: int, total_steps: int | None) -> None: ...

    def should_stop(self) -> bool: ...

    def flush(self, timeout_s: float = 60.0) -> None: ...

    def finish(self, status: str, error: str | None) -> str: ...


class Run:
    """One run of a user's training loop; made by `gapwatch.init`.

    Attributes:
        id: The server's run id (None for an offline run: `gapwatch sync` gives it one).
        mode: "online" or "offline".
        url: The run's dashboard page (online).
        dir: The run's directory (offline).
        config: The run's config as stored (plain JSON).
        status: "running" until finished, then "succeeded", "failed" or "cancelled".
    """

    def __init__(
        self,
        backend: Backend,
        *,
        mode: Mode,
        run_id: int | None = None,
        url: str | None = None,
        directory: Path | None = None,
        config: dict[str, Any] | None = None,
        total_steps: int | None = None,
    ) -> None:
        self._backend = backend
        self.mode = mode
        self.id = run_id
        self.url = url
        self.dir = directory
        self.config = config or {}
        self.status = "running"
        self._total_steps = total_steps
        self._max_step = -1
        self._known_keys: set[str] = set()
        self._finish_lock = threading.Lock()
        self._told_cancelled = False

    def __repr__(self) -> str:
        where = self.url if self.mode == "online" else str(self.dir)
        return f"<gapwatch.Run {self.id if self.id is not None else 'offline'} {where}>"

    # --- logging --------------------------------------------------------------------------

    def log(self, values: Mapping[str, float], step: int) -> None:
        """Record one point per key at `step` (an int >= 0); values are finite numbers.

        Returns at once: points are sent (or written) in batches by a background thread.
        """
        step = check_step(step)
        if not isinstance(values, Mapping):
            raise TypeError(f"values must be a mapping of key to number, not {type(values)}")
        points = {}
        for key, value in values.items():
            points[self._checked_key(key)] = check_value(key, value, step)
        self._write(step, points)

    def log_eval(
        self,
        accuracies: Mapping[int, float],
        step: int,
        *,
        losses: Mapping[int, float] | None = None,
    ) -> None:
        """Record continual-evaluation results at `step`: the accuracy of each task j (a
        fraction in [0, 1]) as eval/acc/task_<j>, and optionally its loss as
        eval/loss/task_<j>. These are the series the stability-gap analysis reads."""
        step = check_step(step)
        for given in (accuracies, losses or {}):
            if not isinstance(given, Mapping):
                raise TypeError(f"give a mapping of task index to number, not {type(given)}")
        points: dict[str, float] = {}
        for task, accuracy in accuracies.items():
            key = metric_key_eval_acc(check_task(task))
            points[key] = check_value(key, accuracy, step)
            if not 0.0 <= points[key] <= 1.0:
                raise ValueError(
                    f"{key} is {points[key]} at step {step}: accuracies are fractions in [0, 1]"
                )
        for task, loss in (losses or {}).items():
            key = metric_key_eval_loss(check_task(task))
            points[key] = check_value(key, loss, step)
        self._write(step, points)

    def task_start(self, task: int, step: int, **payload: Any) -> None:
        """Task `task` begins at `step` (before its first update): a `task_start` event with
        payload {"task": task, **payload}. Known keys: `eval_samples=n` gives the analysis its
        sample size; `classes=[...]` (the task's labels) and `scenario="class_incremental"`
        give it chance levels, so that a task already at chance is not counted as a gap."""
        self.event(EVENT_TASK_START, step, {"task": check_task(task), **payload})

    def task_end(self, task: int, step: int, **payload: Any) -> None:
        """Task `task` ends at `step` (after its last update): a `task_end` event."""
        self.event(EVENT_TASK_END, step, {"task": check_task(task), **payload})

    def event(self, kind: str, step: int, payload: Mapping[str, Any] | None = None) -> None:
        """Record a discrete happening at `step`; a kind is stored once per step."""
        step = check_step(step)
        plain = check_event(kind, payload)
        self._ensure_open()
        if not self._cancelled():
            self._backend.report_event(step, kind, plain)

    @property
    def should_stop(self) -> bool:
        """True once the run was cancelled from the dashboard: the loop should end."""
        return self._backend.should_stop()

    def flush(self, timeout_s: float = 60.0) -> None:
        """Block until everything logged so far is sent (online) or written (offline)."""
        self._ensure_open()
        if not self._cancelled():
            self._backend.flush(timeout_s)

    # --- the end --------------------------------------------------------------------------

    def finish(self, status: str = "succeeded", error: str | None = None) -> None:
        """Deliver what is left and end the run as `status` ("succeeded" or "failed", with
        `error`). Calling it again does nothing."""
        if status not in ("succeeded", "failed"):
            raise ValueError(f"status must be 'succeeded' or 'failed', not {status!r}")
        if error is not None:
            error = str(error)[:MAX_ERROR_CHARS]
        with self._finish_lock:
            if self.status != "running":
                return
            _open_runs.discard(self)
            self.status = "finishing"
            try:
                self.status = self._backend.finish(status, error)
            except BaseException:
                self.status = "failed"
                raise

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.finish()
            return
        try:
            self.finish("failed", describe_error(exc))
        except Exception:  # noqa: BLE001 - the loop's exception is the one to raise
            log.exception("gapwatch: could not finish run %s", self.id)

    # --- helpers --------------------------------------------------------------------------

    def _checked_key(self, key: object) -> str:
        if key in self._known_keys:
            return key  # type: ignore[return-value]
        checked = check_key(key)
        if len(self._known_keys) < KNOWN_KEYS_LIMIT:
            self._known_keys.add(checked)
        return checked

    def _write(self, step: int, points: dict[str, float]) -> None:
        self._ensure_open()
        if not points or self._cancelled():
            return
        self._backend.report_scalars(step, points)
        if step > self._max_step:  # progress for the heartbeat: the furthest step logged
            self._max_step = step
            self._backend.report_progress(min(step, MAX_PROGRESS_STEP), self._total_steps)

    def _ensure_open(self) -> None:
        if self.status != "running":
            raise RuntimeError(
                f"run {self.id or self.dir} is {self.status}; nothing more is logged"
            )

    def _cancelled(self) -> bool:
        """True (and said once) when the dashboard cancelled the run: logs are dropped."""
        if not self._backend.should_stop():
            return False
        if not self._told_cancelled:
            self._told_cancelled = True
            log.warning("gapwatch: run %s was cancelled; further logs are dropped", self.id)
        return True


def init(
    project: str | None = None,
    name: str | None = None,
    config: Any = None,
    tags: list[str] | None = None,
    group: str | None = None,
    *,
    url: str | None = None,
    api_key: str | None = None,
    mode: Mode | None = None,
    dir: str | os.PathLike[str] | None = None,  # noqa: A002 - the documented name
    resume: int | None = None,
    total_steps: int | None = None,
    heartbeat_interval_s: float = 15.0,
    retry_for_s: float | None = 1800.0,
    flush_interval_s: float = 1.0,
    max_buffered_points: int = 250_000,
    quiet: bool = False,
) -> Run:
    """Start a run of one's own training loop (or continue one with `resume=ID`).

    Args:
        project: The project (you need the editor role); default: the key's, else "default".
        name, group, tags: How the run is found and grouped in the dashboard.
        config: Hyperparameters: a mapping, argparse.Namespace or dataclass (JSON, <= 32 KiB).
        url: The server; default $GAPWATCH_URL, then `gapwatch login`'s, then
            http://127.0.0.1:8000.
        api_key: Default $GAPWATCH_API_KEY, then `gapwatch login`'s (for its server only).
        mode: "online" (default, or $GAPWATCH_MODE) or "offline": write to `dir` and upload
            later with `gapwatch sync`.
        dir: Where offline runs are written (default ./gapwatch-runs).
        resume: Continue run ID (online): a crashed, failed or still running loop run.
        total_steps: Steps planned, for the dashboard's progress bar.
        heartbeat_interval_s: How often the server hears from the run even when nothing is
            logged (it marks a silent run crashed after GAPWATCH_HEARTBEAT_TIMEOUT_S).
        retry_for_s: How long an outage is ridden out before logging fails (None: for ever);
            meanwhile points beyond `max_buffered_points` wait on disk.
        flush_interval_s: The longest a point waits before it is sent or written.
        quiet: Print nothing (else one line on stderr saying where the run is).

    Raises:
        ValueError, TypeError: A bad argument (said at once, before anything is sent).
        gapwatch.client.GapwatchAPIError: The server refused (401 bad key, 403 not an editor
            of the project, 404 unknown run to resume, 409 a run that cannot be resumed).
    """
    chosen = _mode(mode)
    plain_config = check_config(config)
    listed_tags = check_run_fields(project, name, group, tags)
    if total_steps is not None and check_step(total_steps) < 1:
        raise ValueError("total_steps must be at least 1")
    fields = {"project": project, "name": name, "group": group, "tags": listed_tags}
    host = socket.gethostname()
    if chosen == "offline":
        if resume is not None:
            raise ValueError("resume= continues a run on the server: it needs mode='online'")
        directory = new_run_dir(Path(dir) if dir is not None else Path(DEFAULT_DIR))
        meta = {**fields, "config": plain_config, "host": host, "total_steps": total_steps}
        writer = OfflineWriter(
            directory, {**meta, "created_at": now_iso()}, flush_interval_s=flush_interval_s
        )
        run = Run(writer, mode="offline", directory=directory, config=plain_config,
                  total_steps=total_steps)  # fmt: skip
        where = f"offline run in {directory}; upload it with `gapwatch sync {directory}`"
    else:
        base_url, key = resolve(url, api_key)
        if key is None:
            raise ValueError(
                "no API key: pass api_key=, set GAPWATCH_API_KEY, or run `gapwatch login` "
                f"(for {base_url})"
            )
        client = GapwatchClient(base_url, api_key=key)
        try:
            opened = _open(client, fields, plain_config, host, resume)
        except BaseException:
            client.close()
            raise
        backend = OnlineBackend(
            client,
            opened,
            host=host,
            retry=outage_policy(retry_for_s),
            heartbeat_interval_s=heartbeat_interval_s,
            flush_interval_s=flush_interval_s,
            max_buffered_points=max_buffered_points,
        )
        page = f"{base_url}/runs/{opened.run_id}"
        stored_config = opened.run.get("config") or plain_config
        run = Run(backend, mode="online", run_id=opened.run_id, url=page, config=stored_config,
                  total_steps=total_steps)  # fmt: skip
        where = f"run {opened.run_id} {'resumed' if resume is not None else 'started'}: {page}"
    _finish_at_exit(run)
    if not quiet:
        print(f"gapwatch: {where}", file=sys.stderr, flush=True)
    return run


def _mode(mode: str | None) -> Mode:
    chosen = mode or os.environ.get(MODE_ENV) or "online"
    if chosen not in ("online", "offline"):
        raise ValueError(f"mode must be 'online' or 'offline', not {chosen!r}")
    return chosen  # type: ignore[return-value]


def _open(
    client: GapwatchClient,
    fields: dict[str, Any],
    config: dict[str, Any],
    host: str,
    resume: int | None,
) -> OpenedRun:
    call: Callable[[], OpenedRun]
    if resume is not None:
        run_id = operator.index(resume)
        call = lambda: client.resume_run(run_id, host=host)  # noqa: E731
    else:
        # One key per init call: a retry after a lost answer resumes the run it opened.
        key = f"sdk:{uuid.uuid4().hex}"
        call = lambda: client.init_run(**fields, config=config, host=host, client_key=key)  # noqa: E731
    return call_with_retries(call, INIT_RETRY)


# --- runs left open when the interpreter exits -------------------------------------------------

_open_runs: set[Run] = set()
_unhandled: list[BaseException] = []
_hooked = False


def _finish_at_exit(run: Run) -> None:
    """Remember `run` so that its last points are delivered even without `finish()`."""
    global _hooked
    _open_runs.add(run)
    if not _hooked:
        _hooked = True
        previous = sys.excepthook

        def remember(kind: type[BaseException], error: BaseException, tb: Any) -> None:
            _unhandled.append(error)
            previous(kind, error, tb)

        sys.excepthook = remember
        atexit.register(_finish_open_runs)


def _finish_open_runs() -> None:
    for run in list(_open_runs):
        try:
            if _unhandled:
                run.finish("failed", describe_error(_unhandled[-1]))
            else:
                run.finish()
        except Exception:  # noqa: BLE001 - at exit, say it and go on with the next run
            log.exception("gapwatch: could not finish run %s at exit", run.id)
