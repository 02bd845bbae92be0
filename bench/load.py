"""Load: 50 writers and 20 readers at once against `gapwatch serve`, with 1 API process or N.

Creates a fresh PostgreSQL database per configuration, migrates it, seeds an owner of its
`default` project, starts `gapwatch serve --workers N` on it (bench/common.py) and, on loopback,
for `--seconds`:

- 50 writers: each a run of its own, created and claimed as the engine's worker does, posting
  points with the run's token as the worker's RunLogger sends them (the columnar binary body,
  `gapwatch.client.encode_columnar`): 10 keys (5 `eval/acc/task_<j>`, 5 others) x 20 steps = 200
  points a request, one request after the other, and a task boundary (task_end + task_start
  events) every 500 steps, so that summaries and gap tables have tasks to compute. A failed
  request is sent again (ingestion is idempotent per run, key and step) until it is answered.
- 20 readers, each looping over what an open dashboard asks: GET /runs (the list), GET
  /runs/{id}/metrics (two accuracy keys, downsampled to 1,000 points), /summary and /gaps of a
  random writer's run.

It prints, per configuration, one line: requests a second (and points a second), errors, p50
and p95 latency per kind of request, and whether every point was stored exactly once (the
points stored per run, counted in the database, against the points each writer had
acknowledged). `--compare` runs 1 process and then `--workers N` and adds a ratio line (N
processes over 1: throughput, and p95 per kind). Throughput is closed-loop: every client sends
its next request when the last is answered, so it measures what the server sustains on this
machine, the load generator included (one process, a thread and a keep-alive connection of
http.client per client: it shares the server's CPUs, so it is kept cheap).

Usage: .venv/bin/python bench/load.py [--seconds 60] [--workers N] [--compare] [--rounds R]
Needs PostgreSQL at GAPWATCH_BENCH_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import statistics
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
import numpy as np
import orjson
import psycopg

from gapwatch.client import COLUMNAR_MEDIA_TYPE, encode_columnar

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import api_server, claimed_run, libpq, seed_account, throwaway_database  # noqa: E402

WRITERS = 50
READERS = 20
ACCURACY_KEYS = [f"eval/acc/task_{j}" for j in range(5)]
OTHER_KEYS = ["train/loss", "train/lr", "train/grad_norm", "eval/loss", "throughput"]
STEPS_PER_BATCH = 20
STEPS_PER_TASK = 500
# Requests a writer sends again after the deadline to get its last batch answered.
SETTLE_S = 60.0
READ_KINDS = ("runs", "metrics", "summary", "gaps")


@dataclass
class Tally:
    """What the clients saw: latencies (s) and errors per kind of request."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, started: float, ok: bool) -> None:
        elapsed = time.perf_counter() - started
        with self._lock:
            if ok:
                self.latencies[kind].append(elapsed)
            else:
                self.errors[kind] += 1


def percentile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def batch_body(first_step: int, rng: np.random.Generator) -> bytes:
    """A batch as the worker's RunLogger sends it (numpy columns, packed from their buffers:
    the load generator shares the machine with the server, so it must cost little)."""
    steps = np.arange(first_step, first_step + STEPS_PER_BATCH, dtype=np.int64)
    series = [
        {"key": key, "steps": steps, "values": rng.random(STEPS_PER_BATCH)}
        for key in ACCURACY_KEYS + OTHER_KEYS
    ]
    return encode_columnar(series)


class Client:
    """One keep-alive connection of the standard library's http.client, opened again after an
    error: a tenth of httpx's CPU per request (0.2 ms against 2.7 here), which matters when the
    load generator shares the server's CPUs."""

    def __init__(self, base_url: str, tally: Tally) -> None:
        self._netloc = urlsplit(base_url).netloc
        self._tally = tally
        self._connection: http.client.HTTPConnection | None = None

    def call(
        self, kind: str, method: str, path: str, headers: dict[str, str], body: bytes | None = None
    ) -> bool:
        """One request, timed and counted; whether it was answered with a 2xx."""
        started = time.perf_counter()
        try:
            if self._connection is None:
                self._connection = http.client.HTTPConnection(self._netloc, timeout=120)
            self._connection.request(method, path, body=body, headers=headers)
            response = self._connection.getresponse()
            response.read()
            ok = 200 <= response.status < 300
        except (OSError, http.client.HTTPException):
            ok = False
        if not ok and self._connection is not None:
            self._connection.close()
            self._connection = None
        self._tally.record(kind, started, ok)
        return ok

    def send_until_answered(
        self,
        kind: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        settle_by: float,
    ) -> bool:
        """POST until a 2xx (each failure counted); False if `settle_by` passed first."""
        while time.monotonic() < settle_by:
            if self.call(kind, "POST", path, headers, body):
                return True
            time.sleep(0.2)
        return False


def writer(
    client: Client, run_id: int, token: str, deadline: float, seed: int, acknowledged: list[int]
) -> None:
    """Post batches until `deadline`; every batch is answered (the last one possibly after
    the deadline), and the points answered are put in `acknowledged`."""
    rng = np.random.default_rng(seed)
    auth = {"Authorization": f"Bearer {token}"}
    events_headers = {**auth, "content-type": "application/json"}
    points_headers = {**auth, "content-type": COLUMNAR_MEDIA_TYPE}
    path = f"/api/v1/runs/{run_id}"
    settle_by = deadline + SETTLE_S
    step = 0
    first = [{"step": 0, "kind": "task_start", "payload": {"task": 0}}]
    body = orjson.dumps({"events": first})
    client.send_until_answered("events", f"{path}/events", events_headers, body, settle_by)
    while time.monotonic() < deadline:
        body = batch_body(step, rng)
        if not client.send_until_answered(
            "ingest", f"{path}/metrics", points_headers, body, settle_by
        ):
            raise SystemExit(f"run {run_id}: a batch was never answered")
        step += STEPS_PER_BATCH
        if step % STEPS_PER_TASK == 0:
            task = step // STEPS_PER_TASK
            boundary = [
                {"step": step, "kind": "task_end", "payload": {"task": task - 1}},
                {"step": step, "kind": "task_start", "payload": {"task": task}},
            ]
            body = orjson.dumps({"events": boundary})
            client.send_until_answered("events", f"{path}/events", events_headers, body, settle_by)
    acknowledged.append(step * len(ACCURACY_KEYS + OTHER_KEYS))


def reader(client: Client, key: str, run_ids: list[int], deadline: float, seed: int) -> None:
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {key}"}
    metrics = urlencode({"keys": ",".join(ACCURACY_KEYS[:2]), "points": 1000})
    turn = seed
    while time.monotonic() < deadline:
        kind = READ_KINDS[turn % len(READ_KINDS)]
        turn += 1
        run_id = rng.choice(run_ids)
        if kind == "runs":
            path = "/api/v1/runs"
        elif kind == "metrics":
            path = f"/api/v1/runs/{run_id}/metrics?{metrics}"
        else:
            path = f"/api/v1/runs/{run_id}/{kind}"
        client.call(kind, "GET", path, headers)


def stored_points(url: str, run_ids: list[int]) -> dict[int, int]:
    """Points stored per run, counted in the database."""
    with psycopg.connect(libpq(url)) as connection:
        rows = connection.execute(
            "SELECT s.run_id, coalesce(sum(c.n), 0) FROM metric_series s "
            "LEFT JOIN metric_chunks c ON c.series_id = s.id WHERE s.run_id = ANY(%s) "
            "GROUP BY s.run_id",
            (run_ids,),
        ).fetchall()
    return {run_id: int(n) for run_id, n in rows}


@dataclass
class Result:
    workers: int
    seconds: float
    tally: Tally
    points: int
    exact: bool
    mismatches: list[str]

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.tally.latencies.values())

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def p95(self, kind: str) -> float:
        return percentile(self.tally.latencies[kind], 95)

    def line(self) -> str:
        kinds = ["ingest", "events", *READ_KINDS]
        latency = ", ".join(
            f"{kind} {percentile(self.tally.latencies[kind], 50) * 1000:.0f}/"
            f"{self.p95(kind) * 1000:.0f}"
            for kind in kinds
            if self.tally.latencies[kind]
        )
        errors = sum(self.tally.errors.values())
        error_detail = (
            " (" + ", ".join(f"{k} {n}" for k, n in sorted(self.tally.errors.items())) + ")"
            if errors
            else ""
        )
        once = "yes" if self.exact else "NO: " + "; ".join(self.mismatches[:5])
        return (
            f"{self.workers} process{'es' if self.workers > 1 else ''}: "
            f"{self.throughput:.0f} req/s ({len(self.tally.latencies['ingest']) / self.seconds:.0f}"
            f" ingest/s, {self.points / self.seconds:,.0f} points/s), errors {errors}"
            f"{error_detail}; p50/p95 ms: {latency}; every point stored exactly once: {once}"
        )


def drive(base_url: str, key: str, seconds: float) -> tuple[Tally, dict[int, int], float]:
    """The writers and readers, one thread each; (what they saw, {run id: points
    acknowledged}, seconds from start to the last answer)."""
    with httpx.Client(base_url=base_url, timeout=60) as api:
        auth = {"Authorization": f"Bearer {key}"}
        runs = [claimed_run(api, headers=auth, worker="bench-load") for _ in range(WRITERS)]
    run_ids = [run_id for run_id, _ in runs]
    tally = Tally()
    acknowledged: dict[int, list[int]] = {run_id: [] for run_id in run_ids}
    started = time.monotonic()
    deadline = started + seconds
    threads = [
        threading.Thread(
            target=writer,
            args=(Client(base_url, tally), run_id, token, deadline, i, acknowledged[run_id]),
        )
        for i, (run_id, token) in enumerate(runs)
    ] + [
        threading.Thread(target=reader, args=(Client(base_url, tally), key, run_ids, deadline, i))
        for i in range(READERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    if any(len(n) != 1 for n in acknowledged.values()):
        raise SystemExit("a writer failed")
    return tally, {run_id: n[0] for run_id, n in acknowledged.items()}, elapsed


def run_configuration(workers: int, seconds: float) -> Result:
    with throwaway_database() as (_, url):
        key = seed_account(url, "bench-load").key
        with api_server(url, workers=workers) as base_url:
            tally, sent, elapsed = drive(base_url, key, seconds)
        stored = stored_points(url, list(sent))
    mismatches = [
        f"run {run_id}: sent {n}, stored {stored.get(run_id, 0)}"
        for run_id, n in sent.items()
        if stored.get(run_id, 0) != n
    ]
    return Result(workers, elapsed, tally, sum(sent.values()), not mismatches, mismatches)


def merged(results: list[Result]) -> Result:
    """Rounds of one configuration as one: latencies pooled, time and points added up."""
    tally = Tally()
    for result in results:
        for kind, values in result.tally.latencies.items():
            tally.latencies[kind].extend(values)
        for kind, count in result.tally.errors.items():
            tally.errors[kind] += count
    return Result(
        results[0].workers,
        sum(r.seconds for r in results),
        tally,
        sum(r.points for r in results),
        all(r.exact for r in results),
        [m for r in results for m in r.mismatches],
    )


def default_workers() -> int:
    return max(1, min(len(os.sched_getaffinity(0)), 4))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="load duration (60)")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="API processes (`gapwatch serve --workers`); default: one per CPU, at most 4",
    )
    parser.add_argument(
        "--compare", action="store_true", help="run 1 process, then --workers, and a ratio"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="runs of each configuration, alternated (a shared machine's load drifts)",
    )
    args = parser.parse_args()
    workers = args.workers or default_workers()
    configurations = [1, workers] if args.compare and workers != 1 else [workers]
    print(
        f"{WRITERS} writers x {len(ACCURACY_KEYS + OTHER_KEYS) * STEPS_PER_BATCH} points a request,"
        f" {READERS} readers, {args.seconds:g} s x {args.rounds} round(s) each, "
        f"{len(os.sched_getaffinity(0))} CPUs",
        flush=True,
    )
    rounds: dict[int, list[Result]] = {count: [] for count in configurations}
    for _ in range(args.rounds):
        for count in configurations:
            rounds[count].append(run_configuration(count, args.seconds))
    results = [merged(rounds[count]) for count in configurations]
    for result in results:
        print(result.line(), flush=True)
    if len(results) == 2:
        one, many = results
        kinds = [
            k for k in ("ingest", *READ_KINDS) if one.tally.latencies[k] and many.tally.latencies[k]
        ]
        p95 = ", ".join(f"{k} x{many.p95(k) / one.p95(k):.2f}" for k in kinds)
        throughput = many.throughput / one.throughput
        points = (many.points / many.seconds) / (one.points / one.seconds)
        print(
            f"ratio {many.workers} processes / 1: throughput x{throughput:.2f}, "
            f"points/s x{points:.2f}; p95 {p95}",
            flush=True,
        )
    if not all(r.exact for r in results):
        raise SystemExit("points were lost or stored twice")


if __name__ == "__main__":
    main()
