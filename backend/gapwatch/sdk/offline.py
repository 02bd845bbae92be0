"""Offline runs: a training loop's run written to a local directory, uploaded later with
`gapwatch sync` (where the machine cannot reach the server, or should not wait on it).

One directory per run, `<dir>/run-<YYYYmmdd-HHMMSS>-<8 hex>/` (dir defaults to
`./gapwatch-runs`):

    meta.json     {"format": 1, "project", "name", "group", "tags", "config", "host",
                   "total_steps", "created_at", "status": "running" | "succeeded" | "failed",
                   "error", "finished_at"}; written when the run starts and replaced, in one
                   rename, when it finishes. "running" after the process ended means it never
                   called finish (it crashed or was killed).
    points.bin    the points, append-only: framed records (see `records`: length, CRC-32,
                  payload), each one batch in the API's columnar layout. A record cut short by
                  a crash is ignored; everything before it is read.
    events.jsonl  the events, append-only: one {"step", "kind", "payload"} per line.
    .lock         locked (flock) by the writing process while the run is open, and by
                  `gapwatch sync` while it uploads: a run still being written is left alone,
                  and two syncs of one directory never run at once.
    synced.json   written by `gapwatch sync` (see `sync`), never by the training process.

Points reach the file at least every `flush_interval_s` (a background thread) and at every
`max_points` points, so a crash loses at most that much; each write goes to the OS at once, so
a crash of the process (not of the machine) loses nothing already written.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from gapwatch.client import Series, encode_columnar
from gapwatch.sdk.records import append_line, append_record, write_json_atomically

try:  # POSIX; elsewhere sync cannot tell a run being written from a finished one
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

FORMAT = 1
META = "meta.json"
POINTS = "points.bin"
EVENTS = "events.jsonl"
LOCK = ".lock"
SYNCED = "synced.json"
DEFAULT_DIR = "gapwatch-runs"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_run_dir(parent: Path) -> Path:
    """A fresh, unique run directory under `parent` (created)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    parent.mkdir(parents=True, exist_ok=True)
    while True:
        path = parent / f"run-{stamp}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path


def take_lock(directory: Path) -> IO[bytes] | None:
    """The run directory's lock, held until the returned file is closed; None while another
    process (or another open writer) holds it. The OS releases it when its holder dies, so a
    crashed run is never locked for ever."""
    file = (directory / LOCK).open("ab")
    if fcntl is not None:
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            return None
    return file


class OfflineWriter:
    """Writes one run into its directory; the Run's backend in offline mode."""

    def __init__(
        self,
        directory: Path,
        meta: dict[str, Any],
        *,
        max_points: int = 20_000,
        flush_interval_s: float = 1.0,
    ) -> None:
        self.directory = directory
        lock = take_lock(directory)
        if lock is None:
            raise RuntimeError(f"{directory} is in use by another process")
        self._lock_file = lock
        self._meta = {"format": FORMAT, **meta, "status": "running", "error": None}
        self._meta.setdefault("created_at", now_iso())
        self._meta["finished_at"] = None
        write_json_atomically(directory / META, self._meta)
        self._points: IO[bytes] = (directory / POINTS).open("ab")
        self._events: IO[bytes] = (directory / EVENTS).open("ab")
        self._max_points = max_points
        self._mutex = threading.Lock()
        self._series: Series = {}
        self._pending = 0
        self._closed = threading.Event()
        self._flusher = threading.Thread(
            target=self._flush_every, args=(flush_interval_s,), name="gapwatch-offline", daemon=True
        )
        self._flusher.start()

    def report_scalars(self, step: int, values: Mapping[str, float]) -> None:
        with self._mutex:
            for key, value in values.items():
                steps, vals = self._series.setdefault(key, ([], []))
                steps.append(step)
                vals.append(value)
            self._pending += len(values)
            if self._pending >= self._max_points:
                self._write_points()

    def report_event(self, step: int, kind: str, payload: Mapping[str, object]) -> None:
        with self._mutex:
            append_line(self._events, {"step": step, "kind": kind, "payload": dict(payload)})

    def report_progress(self, step: int, total_steps: int | None) -> None:
        """Nothing to do: progress is what the points say."""

    def should_stop(self) -> bool:
        return False

    def flush(self, timeout_s: float = 60.0) -> None:
        with self._mutex:
            self._write_points()

    def finish(self, status: str, error: str | None) -> str:
        """Write what is buffered, make it durable, and record how the run ended."""
        self._closed.set()
        self._flusher.join()
        with self._mutex:
            self._write_points()
            for file in (self._points, self._events):
                os.fsync(file.fileno())
                file.close()
        self._meta.update(status=status, error=error, finished_at=now_iso())
        write_json_atomically(self.directory / META, self._meta)
        self._lock_file.close()  # releases the lock: sync may take the run now
        return status

    def _write_points(self) -> None:
        """Append the buffered points as one record (call under the mutex)."""
        if not self._series:
            return
        batch = [{"key": k, "steps": s, "values": v} for k, (s, v) in self._series.items()]
        append_record(self._points, encode_columnar(batch))
        self._series, self._pending = {}, 0

    def _flush_every(self, interval_s: float) -> None:
        while not self._closed.wait(interval_s):
            self.flush()
