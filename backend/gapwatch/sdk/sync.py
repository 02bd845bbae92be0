"""`gapwatch sync`: upload offline run directories (see `offline`), each exactly once.

For each run directory, in a pool of threads:

1. A directory still being written (its `.lock` held by a live process) is skipped.
2. `synced.json` with `"finished": true`: already synced; nothing is sent.
3. `synced.json` with a run id (an earlier sync stopped half way): that run is resumed (a fresh
   token). Otherwise the run is created (`POST /runs/init` with meta.json's project, name,
   group, tags, config and host), and `synced.json` is written at once, before anything else
   is sent, so that no later sync creates a second run.
4. The events, then the points, in batches, in the order they were written; a heartbeat now and
   then keeps a long upload from looking dead. Ingest is idempotent, so what an earlier attempt
   sent is stored once, and a (key, step) written twice keeps its first value, as online.
5. The run ends as meta.json says: succeeded, or failed with its error. A run whose process
   never finished (meta.json still "running": it crashed or was killed) ends **failed** with
   UNFINISHED_ERROR: its points are kept, and the dashboard says why they stop.
6. `synced.json` gets `"finished": true`.

`synced.json` is {"run_id", "url", "created_at", "finished", "status", "points_sent",
"events_sent", "synced_at"}.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from gapwatch.client import (
    MAX_EVENTS_PER_BATCH,
    GapwatchClient,
    RetryPolicy,
    Series,
    call_with_retries,
    series_batches,
)
from gapwatch.sdk.credentials import resolve
from gapwatch.sdk.offline import EVENTS, FORMAT, META, POINTS, SYNCED, now_iso, take_lock
from gapwatch.sdk.records import decode_columnar, read_lines, read_records, write_json_atomically
from gapwatch.sdk.validation import MAX_PROGRESS_STEP

UNFINISHED_ERROR = (
    "offline run did not finish: its process ended without run.finish() (crashed or killed); "
    "the points it wrote are kept"
)
BATCH_POINTS = 50_000
HEARTBEAT_EVERY_S = 10.0
# A sync that cannot reach the server for this long stops; running it again goes on.
SYNC_RETRY = RetryPolicy(max_retries=None, give_up_after_s=300.0, max_delay_s=30.0, jitter=0.5)
T = TypeVar("T")


@dataclass
class SyncResult:
    """What became of one directory."""

    directory: Path
    outcome: str  # created | resumed | already synced | skipped | error
    run_id: int | None = None
    url: str | None = None
    status: str | None = None
    points: int = 0
    new_points: int = 0
    events: int = 0
    message: str = ""

    def line(self) -> str:
        name = self.directory.name
        if self.outcome == "error":
            return f"{name}: error: {self.message}"
        if self.outcome == "skipped":
            return f"{name}: skipped: {self.message}"
        if self.outcome == "already synced":
            return f"{name}: already synced as run {self.run_id} ({self.url})"
        verb = "created" if self.outcome == "created" else "resumed"
        return (
            f"{name}: {verb} run {self.run_id} ({self.url}); {self.points} points sent "
            f"({self.new_points} new), {self.events} events; {self.status}"
        )


def client_key(directory: Path) -> str:
    """The server-side id of an offline run: its directory's name (a timestamp and 32 random
    bits), so that however often a directory is synced, it opens one run."""
    return f"offline:{directory.name}"[:100]


def find_run_dirs(paths: Iterable[Path]) -> tuple[list[Path], list[str]]:
    """Run directories named, or found one level under a named parent; and the problems."""
    found: list[Path] = []
    problems: list[str] = []
    for path in paths:
        if (path / META).is_file():
            found.append(path)
            continue
        children = sorted(p for p in path.glob("*/") if (p / META).is_file())
        if not children:
            problems.append(f"{path}: no offline run here (no {META}, nor in a subdirectory)")
        found.extend(children)
    unique = list(dict.fromkeys(p.resolve() for p in found))
    return unique, problems


def sync_all(
    paths: Iterable[Path],
    *,
    url: str | None = None,
    api_key: str | None = None,
    jobs: int = 4,
    report: Callable[[SyncResult], None] = lambda result: print(result.line(), flush=True),
) -> list[SyncResult]:
    """Sync every run directory under `paths`, `jobs` at a time; `report` hears of each as it
    ends. Problems with the paths themselves raise ValueError."""
    directories, problems = find_run_dirs(paths)
    if problems:
        raise ValueError("; ".join(problems))
    base_url, key = resolve(url, api_key)
    if key is None:
        raise ValueError(f"no API key for {base_url}: set GAPWATCH_API_KEY or `gapwatch login`")
    results: list[SyncResult] = []
    with GapwatchClient(base_url, api_key=key) as client:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [pool.submit(sync_dir, client, d) for d in directories]
            for future in as_completed(futures):
                results.append(future.result())
                report(results[-1])
    return results


def sync_dir(client: GapwatchClient, directory: Path) -> SyncResult:
    """Upload one offline run (see the module's steps); errors become the result's message."""
    try:
        return _Upload(client, directory).run()
    except Exception as error:  # noqa: BLE001 - one directory's failure is reported, not raised
        return SyncResult(directory, "error", message=f"{type(error).__name__}: {error}")


@dataclass
class _Upload:
    client: GapwatchClient
    directory: Path
    meta: dict[str, Any] = field(default_factory=dict)
    token: str = ""
    run_id: int = 0
    max_step: int = 0
    last_beat: float = 0.0

    def run(self) -> SyncResult:
        lock = take_lock(self.directory)
        if lock is None:
            message = "in use: still being written, or synced by another process"
            return SyncResult(self.directory, "skipped", message=message)
        with lock:
            return self._upload()

    def _upload(self) -> SyncResult:
        self.meta = _read_json(self.directory / META)
        if self.meta.get("format") != FORMAT:
            found = self.meta.get("format")
            raise ValueError(f"{META} has format {found!r}; this gapwatch reads {FORMAT}")
        synced = _read_json(self.directory / SYNCED) if (self.directory / SYNCED).exists() else {}
        if synced.get("finished"):
            return SyncResult(self.directory, "already synced", synced["run_id"], synced.get("url"))
        result = self._open(synced)
        result.events = self._send_events()
        result.points, result.new_points = self._send_points()
        result.status = self._finish()
        self._record(result, finished=True)
        return result

    def _open(self, synced: dict[str, Any]) -> SyncResult:
        """Resume the run an earlier sync created, or create it and say so on disk at once."""
        meta = self.meta
        host = meta.get("host")
        if synced.get("run_id") is not None:
            opened = self._retrying(lambda: self.client.resume_run(synced["run_id"], host=host))
            outcome = "resumed"
        else:
            opened = self._retrying(
                lambda: self.client.init_run(
                    project=meta.get("project"),
                    name=meta.get("name"),
                    group=meta.get("group"),
                    tags=meta.get("tags") or [],
                    config=meta.get("config") or {},
                    host=host,
                    client_key=client_key(self.directory),
                )
            )
            # Not created: an earlier sync opened the run and stopped before it wrote so.
            outcome = "created" if opened.created else "resumed"
        self.run_id, self.token = opened.run_id, opened.token
        result = SyncResult(
            self.directory, outcome, opened.run_id, f"{self.client.base_url}/runs/{opened.run_id}"
        )
        if synced.get("run_id") is None:
            self._record(result, finished=False, created_at=now_iso())
        return result

    def _send_events(self) -> int:
        path = self.directory / EVENTS
        events = list(read_lines(path)) if path.exists() else []
        for start in range(0, len(events), MAX_EVENTS_PER_BATCH):
            batch = events[start : start + MAX_EVENTS_PER_BATCH]
            self._retrying(lambda b=batch: self.client.post_events(self.run_id, self.token, b))
        return len(events)

    def _send_points(self) -> tuple[int, int]:
        sent = stored = 0
        for batch in self._batches():
            stored += self._retrying(
                lambda b=batch: self.client.post_metrics(self.run_id, self.token, b)
            )
            sent += sum(len(s["steps"]) for s in batch)
            self._beat_now_and_then()
        return sent, stored

    def _batches(self) -> Iterator[list[dict[str, Any]]]:
        """points.bin's records regrouped into batches of at most BATCH_POINTS, in the order
        they were written (so each (key, step) keeps its first value, as online)."""
        path = self.directory / POINTS
        pending: Series = {}
        count = 0
        for payload in read_records(path) if path.exists() else ():
            for key, (steps, values) in decode_columnar(payload).items():
                known = pending.setdefault(key, ([], []))
                known[0].extend(steps)
                known[1].extend(values)
                count += len(steps)
                self.max_step = max(self.max_step, max(steps, default=0))
            if count >= BATCH_POINTS:
                yield from series_batches(pending, BATCH_POINTS)
                pending, count = {}, 0
        yield from series_batches(pending, BATCH_POINTS)

    def _beat_now_and_then(self) -> None:
        if time.monotonic() - self.last_beat < HEARTBEAT_EVERY_S:
            return
        self.last_beat = time.monotonic()
        self._retrying(
            lambda: self.client.heartbeat(
                self.run_id,
                self.token,
                step=min(self.max_step, MAX_PROGRESS_STEP),
                total_steps=self.meta.get("total_steps"),
            )
        )

    def _finish(self) -> str:
        status, error = self.meta.get("status"), self.meta.get("error")
        if status not in ("succeeded", "failed"):
            status, error = "failed", UNFINISHED_ERROR
        self._retrying(
            lambda: self.client.finish_run(self.run_id, self.token, status=status, error=error)
        )
        return str(status)

    def _record(self, result: SyncResult, *, finished: bool, created_at: str | None = None) -> None:
        path = self.directory / SYNCED
        previous = _read_json(path) if path.exists() else {}
        write_json_atomically(
            path,
            {
                "run_id": result.run_id,
                "url": result.url,
                "created_at": created_at or previous.get("created_at"),
                "finished": finished,
                "status": result.status,
                "points_sent": result.points,
                "events_sent": result.events,
                "synced_at": now_iso(),
            },
        )

    def _retrying(self, call: Callable[[], T]) -> T:
        return call_with_retries(call, SYNC_RETRY)


def _read_json(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_text())
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a JSON object")
    return document
