"""Ingest throughput of the REST API on PostgreSQL, against a raw psycopg COPY of the same points.

Creates a fresh PostgreSQL database, migrates it, seeds an owner of its `default` project with an
API key (runs are created and read back with it; points go with each run's token, as a worker's
do), starts one API server process (`gapwatch serve`, uvicorn) on it, and in each round, for
each batch size:

- API: a client posts a 10-task x 20,000-step run (10 keys `eval/acc/task_<j>` x 20,000 steps =
  200,000 points) in batches shaped like the worker's (`batch / 10` consecutive steps of every
  key per request), one request after another on one keep-alive connection of the standard
  library's http.client, whose own cost per request is a fraction of httpx's (~0.5 ms here,
  a tenth of a 20,000-point request). Bodies are encoded before the clock starts (the worker
  encodes in its sender thread) as the worker's RunLogger sends them
  (`gapwatch.client.encode_columnar`, the binary body); the rate with the encoding counted is
  printed too. Every point must be stored once and read back unchanged.
- raw COPY: the same points, encoded into the same chunk rows by the encoder the server uses
  (`chunks.encode_many`) and written into the same table, metric_chunks, with one psycopg
  `COPY ... FROM STDIN (FORMAT BINARY)` and a commit.

For context it also times the API through httpx (the worker's client) and with JSON bodies
(what a hand-written client would send), a raw COPY of the same points into a row-per-point
table shaped like revision 0001's metric_points, and the fixed costs (through httpx) of one
small authenticated write request (POST /events) and of one 1-point metric batch.
Values are accuracies on a 1,000-sample evaluation subset (k/1000), as the worker reports them.
Medians over the rounds; ratios are of figures measured in the same run.

Usage: .venv/bin/python bench/ingest.py [--rounds 5] [--batch 20000 --batch 200000]
Needs PostgreSQL at GAPWATCH_BENCH_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np
import orjson
import psycopg

from gapwatch.client import COLUMNAR_MEDIA_TYPE, encode_columnar
from gapwatch.server.metrics.chunks import Points, encode_many, split_by_window

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    api_server,
    claimed_run,
    default_project_id,
    libpq,
    seed_account,
    throwaway_database,
)

TASKS = 10
STEPS = 20_000


def make_run() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    steps = np.arange(STEPS, dtype=np.int64)
    series = {}
    for j in range(TASKS):
        correct = np.clip(rng.normal(700 + 10 * j, 80, STEPS), 0, 1000).round()
        series[f"eval/acc/task_{j}"] = (steps, correct / 1000.0)
    return series


def batches(series: dict[str, tuple[np.ndarray, np.ndarray]], batch_points: int) -> list[dict]:
    per_key = max(1, batch_points // len(series))
    out = []
    for lo in range(0, STEPS, per_key):
        out.append(
            {
                "series": [
                    {"key": key, "steps": s[lo : lo + per_key], "values": v[lo : lo + per_key]}
                    for key, (s, v) in series.items()
                ]
            }
        )
    return out


BODIES = {
    # What the worker's RunLogger sends (numpy arrays are packed straight from their buffers).
    "columnar": (COLUMNAR_MEDIA_TYPE, lambda d: encode_columnar(d["series"])),
    "json": ("application/json", lambda d: orjson.dumps(d, option=orjson.OPT_SERIALIZE_NUMPY)),
}

Post = Callable[[str, bytes, dict[str, str]], dict]


def plain_poster(base_url: str) -> Post:
    """POSTs over one keep-alive connection of http.client; the answer's JSON."""
    connection = http.client.HTTPConnection(urlsplit(base_url).netloc, timeout=120)

    def post(path: str, body: bytes, headers: dict[str, str]) -> dict:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {answer[:300]!r}")
        return orjson.loads(answer)

    return post


def httpx_poster(client: httpx.Client) -> Post:
    def post(path: str, body: bytes, headers: dict[str, str]) -> dict:
        response = client.post(path, content=body, headers=headers)
        response.raise_for_status()
        return response.json()

    return post


def api_round(
    client: httpx.Client, post: Post, series: dict, batch_points: int, body: str = "columnar"
) -> tuple[float, float, int]:
    """One run's points posted in `batch_points` batches: (seconds, seconds with the client's
    encoding, points stored)."""
    run_id, token = claimed_run(client)
    media_type, encode_body = BODIES[body]
    headers = {"Authorization": f"Bearer {token}", "content-type": media_type}
    path = f"/api/v1/runs/{run_id}/metrics"
    documents = batches(series, batch_points)
    encode_started = time.perf_counter()
    bodies = [encode_body(d) for d in documents]
    encoding = time.perf_counter() - encode_started
    stored = 0
    started = time.perf_counter()
    for body in bodies:
        stored += post(path, body, headers)["stored"]
    elapsed = time.perf_counter() - started
    check_read_back(client, run_id, series)
    return elapsed, elapsed + encoding, stored


def check_read_back(client: httpx.Client, run_id: int, series: dict) -> None:
    answer = client.get(f"/api/v1/runs/{run_id}/metrics", params={"raw": "true"}).json()
    got = {s["key"]: (s["steps"], s["values"]) for s in answer["series"]}
    for key, (steps, values) in series.items():
        assert got[key][0] == steps.tolist() and got[key][1] == values.tolist(), key


def raw_copy_round(url: str, series: dict, project_id: int) -> float:
    """The same points as chunk rows, with one binary COPY into metric_chunks, committed."""
    with psycopg.connect(libpq(url)) as connection:
        run_id = connection.execute(
            "INSERT INTO runs (project_id, tags, spec, status, created_at, progress_step, "
            "attempts) VALUES (%s, '[]', '{}', 'running', now(), 0, 0) RETURNING id",
            (project_id,),
        ).fetchone()[0]
        ids = {
            key: connection.execute(
                "INSERT INTO metric_series (run_id, key) VALUES (%s, %s) RETURNING id",
                (run_id, key),
            ).fetchone()[0]
            for key in series
        }
        connection.commit()
        started = time.perf_counter()
        with connection.cursor() as cursor:
            with cursor.copy(
                "COPY metric_chunks (series_id, first_step, last_step, n, m4_offsets, "
                "m4_values, raw_offsets, raw_values) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["int8", "int8", "int8", "int4", "bytea", "bytea", "bytea", "bytea"])
                pieces = [
                    (ids[key], points)
                    for key, (steps, values) in series.items()
                    for _, points in split_by_window(Points(steps, values))
                ]
                encoded = encode_many([points for _, points in pieces])
                for (series_id, _), e in zip(pieces, encoded, strict=True):
                    copy.write_row(
                        (series_id, e.first_step, e.last_step, e.n, e.m4_offsets,
                         e.m4_values, e.raw_offsets, e.raw_values)
                    )  # fmt: skip
        connection.commit()
        return time.perf_counter() - started


def row_layout_copy_round(url: str, series: dict, project_id: int) -> float:
    """The same points as one row each, COPY'd into a table shaped like 0001's metric_points."""
    with psycopg.connect(libpq(url)) as connection:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS bench_points_rowwise (series_id bigint NOT NULL "
            "REFERENCES metric_series (id) ON DELETE CASCADE, step bigint NOT NULL, "
            "value double precision NOT NULL, PRIMARY KEY (series_id, step))"
        )
        run_id = connection.execute(
            "INSERT INTO runs (project_id, tags, spec, status, created_at, progress_step, "
            "attempts) VALUES (%s, '[]', '{}', 'running', now(), 0, 0) RETURNING id",
            (project_id,),
        ).fetchone()[0]
        ids = [
            connection.execute(
                "INSERT INTO metric_series (run_id, key) VALUES (%s, %s) RETURNING id",
                (run_id, key),
            ).fetchone()[0]
            for key in series
        ]
        connection.commit()
        row = np.dtype(
            [("fields", ">i2"), ("l1", ">i4"), ("series", ">i8"), ("l2", ">i4"), ("step", ">i8"),
             ("l3", ">i4"), ("value", ">f8")]
        )  # fmt: skip
        started = time.perf_counter()
        parts = []
        for series_id, (steps, values) in zip(ids, series.values(), strict=True):
            rows = np.empty(steps.size, row)
            rows["fields"], rows["l1"], rows["l2"], rows["l3"] = 3, 8, 8, 8
            rows["series"], rows["step"], rows["value"] = series_id, steps, values
            parts.append(rows.tobytes())
        payload = b"PGCOPY\n\xff\r\n\x00" + bytes(8) + b"".join(parts) + b"\xff\xff"
        with connection.cursor() as cursor:
            with cursor.copy(
                "COPY bench_points_rowwise (series_id, step, value) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.write(payload)
        connection.commit()
        return time.perf_counter() - started


def small_write_p50(client: httpx.Client) -> tuple[float, float]:
    """Median times of one authenticated write of one event, and of one 1-point metric batch
    (the binary body): the per-request floors."""
    run_id, token = claimed_run(client)
    auth = {"Authorization": f"Bearer {token}"}
    event_times, point_times = [], []
    for step in range(40):
        started = time.perf_counter()
        client.post(
            f"/api/v1/runs/{run_id}/events",
            json={"events": [{"step": step, "kind": "probe"}]},
            headers=auth,
        ).raise_for_status()
        event_times.append(time.perf_counter() - started)
        body = encode_columnar([{"key": "probe", "steps": [step], "values": [0.5]}])
        started = time.perf_counter()
        client.post(
            f"/api/v1/runs/{run_id}/metrics",
            content=body,
            headers={**auth, "content-type": COLUMNAR_MEDIA_TYPE},
        ).raise_for_status()
        point_times.append(time.perf_counter() - started)
    return statistics.median(event_times), statistics.median(point_times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--batch", type=int, action="append", help="points per request (repeatable)"
    )
    args = parser.parse_args()
    sizes = args.batch or [20_000, 200_000]
    series = make_run()
    total = TASKS * STEPS
    # (body, client) -> batch size -> seconds per run; the first is the benchmark's figure.
    variants = [("columnar", "http.client"), ("columnar", "httpx"), ("json", "http.client")]
    api: dict[tuple[str, str], dict[int, list[float]]] = {
        v: {size: [] for size in sizes} for v in variants
    }
    api_encoded: dict[int, list[float]] = {size: [] for size in sizes}
    copies: list[float] = []
    row_copies: list[float] = []
    with throwaway_database() as (_, url):
        # Runs are created and read back with a key; the points go with each run's own token.
        auth = {"Authorization": f"Bearer {seed_account(url, 'bench').key}"}
        project_id = default_project_id(url)  # the raw COPY's runs belong somewhere too
        with (
            api_server(url) as base,
            httpx.Client(base_url=base, timeout=120, headers=auth) as client,
        ):
            posters = {"http.client": plain_poster(base), "httpx": httpx_poster(client)}
            for size in sizes:  # warm-up: imports, connection pool, caches
                for body, via in variants:
                    api_round(client, posters[via], series, size, body)
            raw_copy_round(url, series, project_id)
            cases = [(size, body, via) for size in sizes for body, via in variants]
            for number in range(args.rounds):
                copies.append(raw_copy_round(url, series, project_id))
                # A different case follows the COPY in each round: none always meets the
                # database just after a large write.
                for size, body, via in cases[number % len(cases) :] + cases[: number % len(cases)]:
                    elapsed, with_encoding, stored = api_round(
                        client, posters[via], series, size, body
                    )
                    assert stored == total, f"stored {stored} of {total}"
                    api[body, via][size].append(elapsed)
                    if (body, via) == variants[0]:
                        api_encoded[size].append(with_encoding)
                row_copies.append(row_layout_copy_round(url, series, project_id))
            event_floor, ingest_floor = small_write_p50(client)
    raw = total / statistics.median(copies)
    print(f"points: {total:,} ({TASKS} keys x {STEPS:,} steps); {args.rounds} rounds, medians;")
    print("  every point stored exactly once and read back unchanged")
    print(f"raw psycopg COPY into metric_chunks (same points, same table): {raw:>11,.0f} points/s")
    for size in sizes:
        rate = total / statistics.median(api[variants[0]][size])
        with_encoding = total / statistics.median(api_encoded[size])
        requests = -(-STEPS // max(1, size // TASKS))
        ok = rate >= 200_000 and rate / raw >= 0.3
        print(
            f"API, {size:>7,}-point requests ({requests:>2} requests): {rate:>11,.0f} points/s"
            f"  ratio {rate / raw:.2f}  (with client encoding {with_encoding:,.0f}/s;"
            f" {1e3 * statistics.median(api[variants[0]][size]) / requests:.2f} ms a request)"
            f"  target {'met' if ok else 'NOT met'}"
        )
    for body, via in variants[1:]:
        for size in sizes:
            rate = total / statistics.median(api[body, via][size])
            print(
                f"context: API, {body} bodies through {via}, {size:>7,}-point requests:"
                f" {rate:>11,.0f} points/s  ratio {rate / raw:.2f}"
            )
    rows = total / statistics.median(row_copies)
    print(f"context: raw COPY into a row-per-point table (0001's layout): {rows:>11,.0f} points/s")
    print(
        "context: p50 of one small authenticated write request: POST /events"
        f" {event_floor * 1e3:.1f} ms, a 1-point metric batch {ingest_floor * 1e3:.1f} ms"
    )
    print("target: >= 200,000 points/s and >= 0.3 of raw COPY")


if __name__ == "__main__":
    main()
