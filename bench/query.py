"""Series-query latency on a 1,000,000-step series, and whether a short dip survives M4.

Creates a fresh PostgreSQL database with an owner of its `default` project and their API key,
starts one API server process (`gapwatch serve`) on it, stores through the API a 1,000,000-step
accuracy series (worker-sized requests of 20,000 steps), and prints:

- `points=2000` over the whole range and over a 1% zoom: p50 and p95 of 20 requests each
  (target: p95 < 50 ms), and a raw read of all 1,000,000 points for comparison;
- the same on a fragmented copy of the series, written 512 steps per request (every 4,096-step
  window then holds the most chunks the store keeps before merging them);
- the dip check: a series of 10,000 steps at ~0.9 with one 20-step dip to ~0.2 (and a 1-step
  dip) at random places; the share of placements where a `points=300` answer shows the dip's
  minimum, beside what keeping the first point of each bucket (stride sampling) would show; and
  a 20-step dip at random places in the 1,000,000-step series, at `points=300` over the whole
  range and at a 1% zoom around it.

Usage: .venv/bin/python bench/query.py [--placements 100]
Needs PostgreSQL at GAPWATCH_BENCH_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RUN_SPEC, api_server, claimed_run, seed_account, throwaway_database  # noqa: E402

STEPS = 1_000_000
SPEC = {**RUN_SPEC, "strategy": {"name": "er"}}


class Api:
    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.run_id, token = claimed_run(client, spec=SPEC)
        self.auth = {"Authorization": f"Bearer {token}", "content-type": "application/json"}

    def post(self, key: str, steps: np.ndarray, values: np.ndarray, per_request: int) -> None:
        for lo in range(0, steps.size, per_request):
            body = {
                "series": [
                    {"key": key, "steps": steps[lo : lo + per_request],
                     "values": values[lo : lo + per_request]}
                ]
            }  # fmt: skip
            response = self.client.post(
                f"/api/v1/runs/{self.run_id}/metrics",
                content=orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY),
                headers=self.auth,
            )
            response.raise_for_status()

    def get(self, key: str, **params: object) -> tuple[dict, float]:
        started = time.perf_counter()
        response = self.client.get(
            f"/api/v1/runs/{self.run_id}/metrics", params={"keys": key, **params}
        )
        response.raise_for_status()
        answer = orjson.loads(response.content)
        return answer, time.perf_counter() - started


def accuracy_walk(rng: np.random.Generator, n: int) -> np.ndarray:
    """A plausible accuracy curve in [0.8, 1]: a bounded random walk, rounded to k/1000."""
    walk = np.cumsum(rng.normal(0, 0.002, n))
    return np.round(0.9 + 0.05 * np.sin(walk), 3)


def latency(api: Api, key: str, repeats: int, **params: object) -> tuple[float, float, int]:
    times, size = [], 0
    for _ in range(repeats):
        answer, elapsed = api.get(key, **params)
        times.append(elapsed)
        size = len(answer["series"][0]["steps"])
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    return statistics.median(times) * 1000, p95 * 1000, size


def shows_dip(steps: list[int], values: list[float], lo: int, hi: int, floor: float) -> bool:
    s, v = np.asarray(steps), np.asarray(values)
    inside = (s >= lo) & (s < hi)
    return bool(inside.any() and v[inside].min() <= floor + 1e-12)


def stride_shows_dip(n: int, points: int, lo: int, hi: int) -> bool:
    """Keeping the first point of each of `points` equal buckets (what stride sampling does)."""
    kept = (np.arange(points) * n) // points
    return bool(((kept >= lo) & (kept < hi)).any())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--placements", type=int, default=100, help="dip placements, 10k series")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(4)
    lines: list[str] = []
    worst_p95 = 0.0
    dips_kept = True
    with throwaway_database() as (_, url):
        auth = {
            "Authorization": f"Bearer {seed_account(url, 'bench').key}"
        }  # reads; writes: the run token
        with (
            api_server(url) as base,
            httpx.Client(base_url=base, timeout=300, headers=auth) as client,
        ):
            api = Api(client)
            steps = np.arange(STEPS, dtype=np.int64)
            values = accuracy_walk(rng, STEPS)
            started = time.perf_counter()
            api.post("eval/acc/task_0", steps, values, per_request=20_000)
            api.post("eval/acc/task_1", steps, values, per_request=512)
            stored_s = time.perf_counter() - started
            zoom = {"start": 420_000, "end": 430_000}
            lines.append(
                f"series: {STEPS:,} steps; stored via the API (2 series, "
                f"{STEPS // 20_000 + -(-STEPS // 512):,} requests) in {stored_s:.1f} s"
            )
            for key, label in (("eval/acc/task_0", "20,000-step requests"),
                               ("eval/acc/task_1", "512-step requests (fragmented)")):  # fmt: skip
                api.get(key, points=2000)  # warm-up
                whole = latency(api, key, args.repeats, points=2000)
                zoomed = latency(api, key, args.repeats, points=2000, **zoom)
                raw = latency(api, key, 3, raw="true")
                worst_p95 = max(worst_p95, whole[1], zoomed[1])
                lines.append(f"{label}:")
                lines.append(
                    f"  points=2000, whole range : p50 {whole[0]:6.1f} ms  p95 {whole[1]:6.1f} ms"
                    f"  ({whole[2]} points returned)"
                )
                lines.append(
                    f"  points=2000, 1% zoom     : p50 {zoomed[0]:6.1f} ms  p95 {zoomed[1]:6.1f} ms"
                    f"  ({zoomed[2]} points returned)"
                )
                lines.append(
                    f"  raw, all {STEPS:,} points: p50 {raw[0]:6.1f} ms  p95 {raw[1]:6.1f} ms"
                    f"  ({raw[0] / whole[0]:.0f}x the downsampled query)"
                )
                answer, _ = api.get(key, raw="true")
                got = answer["series"][0]
                assert got["steps"] == steps.tolist() and got["values"] == values.tolist()

            # Dip check on 10,000-step series: every placement is its own series.
            n = 10_000
            found = {20: 0, 1: 0}
            stride = {20: 0, 1: 0}
            for p in range(args.placements):
                for width in (20, 1):
                    curve = np.round(rng.uniform(0.88, 0.92, n), 3)
                    at = int(rng.integers(0, n - width))
                    curve[at : at + width] = np.round(rng.uniform(0.18, 0.22, width), 3)
                    key = f"dip/{width}/{p}"
                    api.post(key, np.arange(n, dtype=np.int64), curve, per_request=n)
                    answer, _ = api.get(key, points=300)
                    s = answer["series"][0]
                    assert len(s["steps"]) <= 300 and answer["downsampled"]
                    found[width] += shows_dip(s["steps"], s["values"], at, at + width,
                                              float(curve[at : at + width].min()))  # fmt: skip
                    stride[width] += stride_shows_dip(n, 300, at, at + width)
            dips_kept &= found[20] == found[1] == args.placements
            for width in (20, 1):
                lines.append(
                    f"dip check, 10,000 steps, {width:>2}-step dip, points=300: M4 "
                    f"{100 * found[width] / args.placements:5.1f}% of {args.placements} placements;"
                    f" first-of-bucket {100 * stride[width] / args.placements:5.1f}%"
                )
            # And in the million-step series, at full range and at a 1% zoom around the dip.
            big_found = zoom_found = 0
            trials = 5
            for t in range(trials):
                at = int(rng.integers(0, STEPS - 20))
                curve = values.copy()
                curve[at : at + 20] = 0.2
                key = f"dip/1m/{t}"
                api.post(key, steps, curve, per_request=200_000)
                answer, _ = api.get(key, points=300)
                s = answer["series"][0]
                big_found += shows_dip(s["steps"], s["values"], at, at + 20, 0.2)
                lo = max(0, at - 5_000)
                answer, _ = api.get(key, points=300, start=lo, end=lo + 10_000)
                s = answer["series"][0]
                zoom_found += shows_dip(s["steps"], s["values"], at, at + 20, 0.2)
            lines.append(
                f"dip check, {STEPS:,} steps, 20-step dip, points=300: whole range "
                f"{big_found}/{trials}, 1% zoom {zoom_found}/{trials}"
            )
            dips_kept &= big_found == zoom_found == trials
    ok = worst_p95 < 50 and dips_kept
    lines.append(
        f"target: p95 < 50 ms for points=2000 (worst {worst_p95:.1f} ms) and every dip kept: "
        f"{'met' if ok else 'NOT met'}"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
