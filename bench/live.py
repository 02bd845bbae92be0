"""What open live streams cost the rest of the API: GET /runs with none open, then with 150.

Creates a fresh PostgreSQL database, seeds 10 running runs and 8 viewers, starts one API process
(`gapwatch serve --workers 1`) and measures, first with no stream open and then with 150 open
(GET /runs/{id}/live of the 10 runs, at most 20 per viewer: the per-user cap):

- the database's transactions a second while nothing else happens (pg_stat_database), which is
  what the streams' polling costs it;
- GET /runs latency (p50, p95 over `--requests` requests, one after the other).

It prints both and their ratios (150 streams over none). Each stream used to poll on its own (a
query set a second each); one poller per process now reads every watched run in one statement.

Usage: .venv/bin/python bench/live.py [--streams 150] [--requests 300]
Needs PostgreSQL at GAPWATCH_BENCH_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import socket
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import api_server, claimed_run, libpq, seed_account, throwaway_database  # noqa: E402

RUNS = 10
PER_VIEWER = 20  # GAPWATCH_MAX_STREAMS_PER_USER's default
QUIET_S = 10.0
SETTLE_S = 11.0


def transactions(url: str, name: str) -> int:
    with psycopg.connect(libpq(url), autocommit=True) as connection:
        # Statistics reach the view at most a second late; a snapshot of now, not cached.
        connection.execute("SELECT pg_stat_clear_snapshot()")
        row = connection.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s", (name,)
        ).fetchone()
    return int(row[0])


def transactions_per_s(url: str, name: str) -> float:
    """The database's transactions a second over QUIET_S, this probe's own left out."""
    # What happened before must have reached the statistics first: a backend that goes idle
    # with counts not yet reported reports them within PostgreSQL's 10 s idle interval.
    time.sleep(SETTLE_S)
    before = transactions(url, name)
    time.sleep(QUIET_S)
    after = transactions(url, name)
    return (after - before - 1) / QUIET_S


def latencies(client: httpx.Client, requests: int) -> tuple[float, float]:
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        client.get("/api/v1/runs").raise_for_status()
        times.append(time.perf_counter() - started)
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return cuts[49], cuts[94]


class Stream(threading.Thread):
    """One open stream, read in a thread until `close` shuts its socket (http.client)."""

    def __init__(self, base_url: str, run_id: int, key: str) -> None:
        super().__init__(daemon=True)
        address = urlsplit(base_url)
        self.connection = http.client.HTTPConnection(address.hostname, address.port, timeout=120)
        self.path = f"/api/v1/runs/{run_id}/live"
        self.key = key
        self.first = threading.Event()

    def run(self) -> None:
        self.connection.request("GET", self.path, headers={"Authorization": f"Bearer {self.key}"})
        response = self.connection.getresponse()
        if response.status != 200:
            raise SystemExit(f"stream refused: {response.status} {response.read()!r}")
        try:
            while line := response.readline():
                if line.startswith(b"data:"):
                    self.first.set()
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass  # closed

    def close(self) -> None:
        if self.connection.sock is not None:
            with contextlib.suppress(OSError):
                self.connection.sock.shutdown(socket.SHUT_RDWR)
        self.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=150)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with throwaway_database() as (name, url):
        owner = seed_account(url, "bench-owner").key
        viewers = [
            seed_account(url, f"bench-viewer-{i}", role="viewer").key
            for i in range(-(-args.streams // PER_VIEWER))
        ]
        with api_server(url, workers=1) as base_url:
            with httpx.Client(
                base_url=base_url, timeout=60, headers={"Authorization": f"Bearer {owner}"}
            ) as client:
                run_ids = [claimed_run(client, worker="bench-live")[0] for _ in range(RUNS)]
                latencies(client, 30)  # warm up
                quiet = transactions_per_s(url, name)
                p50, p95 = latencies(client, args.requests)

                streams = [
                    Stream(base_url, run_ids[i % RUNS], viewers[i // PER_VIEWER])
                    for i in range(args.streams)
                ]
                for stream in streams:
                    stream.start()
                for stream in streams:
                    if not stream.first.wait(60):
                        raise SystemExit("a stream had no first event within 60 s")
                busy = transactions_per_s(url, name)
                busy_p50, busy_p95 = latencies(client, args.requests)
                for stream in streams:
                    stream.close()
    print(
        f"no stream open: {quiet:.1f} database transactions/s idle; GET /runs p50 "
        f"{p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"
    )
    print(
        f"{args.streams} streams open: {busy:.1f} database transactions/s idle; GET /runs p50 "
        f"{busy_p50 * 1000:.1f} ms, p95 {busy_p95 * 1000:.1f} ms"
    )
    print(
        f"ratio {args.streams} streams / none: GET /runs p50 x{busy_p50 / p50:.2f}, "
        f"p95 x{busy_p95 / p95:.2f}; transactions/s +{busy - quiet:.1f}"
    )


if __name__ == "__main__":
    main()
