"""Time to a drawn page in a real browser: a 1,000,000-step run's page against a tiny run's
(`run`, the default), or a sweep's page against one of its runs' pages (`sweep`).

Creates a fresh PostgreSQL database, starts one API server process (`gapwatch serve`, which
serves the built dashboard from frontend/dist), and seeds two succeeded runs shaped like the
worker's output of a 10-task permuted-MNIST run with continual evaluation:

- big: 10 tasks x 100,000 iterations (1,000,000 steps). `eval/acc/task_<j>` for every task j at
  EVERY iteration from step 0 (evaluation.every = 1, include_unseen = true: 10,000,010 points),
  `train/loss` and `train/lr` at steps 1..1,000,000, and `task_start` / `task_end` events.
  Curves are realistic: a task is learned during its own training, and each later boundary opens
  a short stability gap (a dip of 15-35 points lasting a few hundred iterations) and leaves some
  forgetting. Accuracies are k/1000 (1,000 evaluation samples).
- tiny (the baseline): the same shape with 10 tasks x 100 iterations.

The run, its claim, progress, events and finish go through the REST API, as a worker's would;
only the points are written straight into metric_chunks with one binary COPY of the rows that
the metrics repository itself writes (chunks.encode), the fastest path it allows. Seeding
through the API instead would only take longer and store the same rows.

The API calls carry the API key of an owner of the `default` project, seeded into the database.

Then headless Chromium (Debian's /usr/bin/chromium, or GAPWATCH_CHROMIUM) opens /runs/<id> and
the page's clock measures navigation start -> "all task charts drawn": the charts container
`run-charts` says data-ready="true" (the page's own signal), every `task-chart-<j>` holds a
canvas of nonzero size, and the page has drawn its `boundary-line` markers; the time taken is
that of the next animation frame, the first paint that can show them. Each load uses a fresh
browser context, so the HTTP cache is empty (cache effectively disabled: every asset and API
answer is fetched again); before it opens the page, untimed, the context signs in as that owner
by POSTing a one-time sign-in link's token to /api/v1/auth/link, whose session cookie the page
then sends. The server process stays up, so its per-run analysis cache is warm after the first
load, which is reported on its own line ("first load"). Reports p50 and p95 over --repeats
loads per run, the ratio big/tiny of the p50s, the big p50 against the 1.5 s target, and the
points the page downloaded (the metrics answers' points, summed) against the points stored.

`sweep`: POST /api/v1/sweeps over strategy.name (finetune, er, agem, ewc, lwf) x seed (0..4),
base spec the same 10-task permuted-MNIST run with --iterations per task (10,000): 25 queued
runs, which the bench then claims, feeds (one COPY each, curves shaped by the strategy: fine-
tuning forgets, replay dips and recovers) and finishes as a worker would. Chromium then opens
/sweeps/<id> until every configuration's results row is there with no provisional number and
the boundary-aligned chart has drawn its data (`sweep-aligned` data-ready="true"), and, in
turn, the run page of one of its runs (as above); --repeats loads each (5), interleaved, after
one untimed load of the sweeps list and one first load of each (the run page's first: the
server's analysis cache is cold for both). It prints both p50s and their ratio ("sweep page
(25 runs) 1.80 s vs one-run page 0.90 s: ratio 2.00"), and the first loads' ratio. About two
minutes on two cores; --iterations 1000 shrinks it.

Usage: .venv/bin/python bench/dashboard.py [run] [--repeats 7] [--every 1]
       .venv/bin/python bench/dashboard.py sweep [--iterations 10000] [--seeds 5] [--repeats 5]
Needs PostgreSQL at GAPWATCH_BENCH_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres),
the built dashboard (cd frontend && npm run build) and Python playwright (in the venv).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg

from gapwatch.server.metrics.chunks import Points, encode, split_by_window

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    CHROMIUM_ARGS,
    WORKER_TOKEN,
    api_server,
    chromium_executable,
    create_database,
    drop_database,
    libpq,
    login_tokens,
    seed_account,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DIST = REPO_ROOT / "frontend" / "dist"
TARGET_S = 1.5
BENCH_USER = "bench"
N_TASKS = 10
EVAL_SAMPLES = 1000

# Installed before any page script runs: records performance.now() at the first animation frame
# after the page shows every task chart drawn. `performance.now()` counts from navigation start.
DRAWN_PROBE = """
(() => {
  const nTasks = %d;
  window.__drawnAt = null;
  window.__readySignal = null;
  const canvasesDrawn = () => {
    for (let j = 0; j < nTasks; j++) {
      const canvas = document.querySelector(`[data-testid="task-chart-${j}"] canvas`);
      if (!canvas || canvas.width === 0 || canvas.height === 0) return false;
    }
    return document.querySelector(".boundary-line") !== null;
  };
  const check = () => {
    if (window.__drawnAt !== null || window.__pending) return;
    const container = document.querySelector('[data-testid="run-charts"]');
    const signalled = container !== null && container.getAttribute("data-ready") === "true";
    const waitsForSignal = container !== null && container.hasAttribute("data-ready");
    if (!canvasesDrawn() || (waitsForSignal && !signalled)) return;
    window.__readySignal = signalled;
    window.__pending = true;
    requestAnimationFrame(() => { window.__drawnAt = performance.now(); });
  };
  new MutationObserver(check).observe(document, {
    subtree: true, childList: true, attributes: true,
  });
})();
"""


# --- the seeded run (pure numpy) -------------------------------------------------------------


@dataclass(frozen=True)
class RunShape:
    n_tasks: int
    task_length: int

    @property
    def total(self) -> int:
        return self.n_tasks * self.task_length

    def start(self, task: int) -> int:
        return task * self.task_length


def accuracy_curves(
    shape: RunShape,
    rng: np.random.Generator,
    every: int,
    *,
    dip: float = 1.0,
    forget: float = 0.03,
) -> dict[str, Points]:
    """eval/acc/task_<j> at steps 0, every, 2*every, ..., total, as k/EVAL_SAMPLES fractions.

    Before its task, a class-incremental head scores ~0 on task j; during its training the
    accuracy rises to ~0.97; each later boundary opens a dip (the stability gap) whose trough
    comes within ~2% of a task and which recovers over ~10% of it, leaving `forget` (a few
    points) of forgetting per task. `dip` scales the dips' depth (a strategy's gap).
    """
    steps = np.arange(0, shape.total + 1, every, dtype=np.int64)
    dip_at = max(2.0, 0.005 * shape.task_length)  # trough this many iterations after s_k
    learn = max(2.0, 0.02 * shape.task_length)
    curves = {}
    for j in range(shape.n_tasks):
        s_j, e_j = shape.start(j), shape.start(j + 1)
        peak = 0.97 - 0.01 * rng.random()
        p = np.full(steps.size, 0.01)
        trained = steps >= s_j
        p[trained] = peak - (peak - 0.01) * np.exp(-(steps[trained] - s_j) / learn)
        for k in range(j + 1, shape.n_tasks):
            since = (steps - shape.start(k)).astype(np.float64)
            after = since >= 0
            depth = dip * (0.15 + 0.2 * rng.random())
            t = since[after] / dip_at
            p[after] -= depth * t * np.exp(1.0 - t)  # peaks at the trough, then recovers
            p[after] -= forget * (1.0 - np.exp(-since[after] / (5 * dip_at)))  # forgetting
        p = np.clip(p, 0.0, 1.0)
        values = rng.binomial(EVAL_SAMPLES, p) / EVAL_SAMPLES
        assert e_j <= shape.total
        curves[f"eval/acc/task_{j}"] = Points(steps, values.astype(np.float64))
    return curves


def training_curves(shape: RunShape, rng: np.random.Generator) -> dict[str, Points]:
    """train/loss (a spike and decay per task) and train/lr (constant) at steps 1..total."""
    steps = np.arange(1, shape.total + 1, dtype=np.int64)
    since_start = (steps - 1) % shape.task_length
    loss = 0.05 + 2.2 * np.exp(-since_start / max(2.0, 0.02 * shape.task_length))
    loss *= np.exp(rng.normal(0.0, 0.1, steps.size))
    return {
        "train/loss": Points(steps, loss),
        "train/lr": Points(steps, np.full(steps.size, 0.01)),
    }


def boundary_events(shape: RunShape) -> list[dict[str, Any]]:
    """The task_start / task_end events the worker reports."""
    events = []
    for k in range(shape.n_tasks):
        events.append(
            {
                "step": shape.start(k),
                "kind": "task_start",
                "payload": {"task": k, "classes": list(range(10)),
                            "iterations": shape.task_length, "eval_samples": EVAL_SAMPLES},
            }
        )  # fmt: skip
        events.append({"step": shape.start(k + 1), "kind": "task_end", "payload": {"task": k}})
    return events


# --- seeding through the API and one COPY ----------------------------------------------------


def run_spec(shape: RunShape, every: int, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "benchmark": {"name": "permuted_mnist", "n_tasks": shape.n_tasks},
        "model": {"name": "mlp"},
        "strategy": {"name": "er"},
        "training": {"iterations_per_task": shape.task_length},
        "evaluation": {"every": every, "include_unseen": True},
    }


def copy_points(database_url: str, run_id: int, series: dict[str, Points]) -> int:
    """Writes the series as metric_chunks rows with one binary COPY; returns the points."""
    stored = 0
    with psycopg.connect(libpq(database_url)) as connection:
        ids = {
            key: connection.execute(
                "INSERT INTO metric_series (run_id, key) VALUES (%s, %s) RETURNING id",
                (run_id, key),
            ).fetchone()[0]
            for key in series
        }
        with connection.cursor() as cursor:
            with cursor.copy(
                "COPY metric_chunks (series_id, first_step, last_step, n, m4_offsets, "
                "m4_values, raw_offsets, raw_values) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["int8", "int8", "int8", "int4", "bytea", "bytea", "bytea", "bytea"])
                for key, points in series.items():
                    for _, window in split_by_window(points):
                        e = encode(window)
                        copy.write_row(
                            (ids[key], e.first_step, e.last_step, e.n, e.m4_offsets,
                             e.m4_values, e.raw_offsets, e.raw_values)
                        )  # fmt: skip
                        stored += e.n
        connection.commit()
    return stored


@dataclass(frozen=True)
class SeededRun:
    run_id: int
    shape: RunShape
    points_stored: int
    seconds: float


def seed_run(
    client: httpx.Client, database_url: str, shape: RunShape, every: int, name: str, seed: int
) -> SeededRun:
    """A succeeded run with the shape's curves, claimed, fed and finished as a worker would."""
    started = time.perf_counter()
    run = client.post("/api/v1/runs", json=run_spec(shape, every, name))
    run.raise_for_status()
    run_id = run.json()["id"]
    stored = feed_run(client, database_url, run_id, shape, every, np.random.default_rng(seed))
    return SeededRun(run_id, shape, stored, time.perf_counter() - started)


def feed_run(
    client: httpx.Client,
    database_url: str,
    run_id: int,
    shape: RunShape,
    every: int,
    rng: np.random.Generator,
    *,
    dip: float = 1.0,
    forget: float = 0.03,
) -> int:
    """Plays the worker for queued run `run_id`: claims it, reports its total, writes its
    curves (one COPY), its task events, and finishes it; returns the points stored."""
    claim = client.post(
        f"/api/v1/runs/{run_id}/claim",
        json={"worker": "bench-dashboard"},
        headers={"Authorization": f"Bearer {WORKER_TOKEN}"},
    )
    claim.raise_for_status()
    auth = {"Authorization": f"Bearer {claim.json()['token']}"}
    client.post(
        f"/api/v1/runs/{run_id}/heartbeat",
        json={"step": 0, "total_steps": shape.total},
        headers=auth,
    ).raise_for_status()
    series = accuracy_curves(shape, rng, every, dip=dip, forget=forget)
    stored = copy_points(database_url, run_id, series | training_curves(shape, rng))
    client.post(
        f"/api/v1/runs/{run_id}/events", json={"events": boundary_events(shape)}, headers=auth
    ).raise_for_status()
    finish = client.post(
        f"/api/v1/runs/{run_id}/finish", json={"status": "succeeded"}, headers=auth
    )
    finish.raise_for_status()
    assert finish.json()["status"] == "succeeded"
    return stored


# How each strategy of the seeded sweep behaves: (dip scale, forgetting per later task).
# Fine-tuning forgets and does not come back; replay dips and recovers; the others in between.
SWEEP_STRATEGIES: dict[str, tuple[float, float]] = {
    "finetune": (0.3, 0.6),
    "er": (1.0, 0.03),
    "agem": (1.3, 0.08),
    "ewc": (0.8, 0.15),
    "lwf": (0.9, 0.2),
}


@dataclass(frozen=True)
class SeededSweep:
    sweep_id: int
    name: str
    run_ids: list[int]
    configurations: int
    points_stored: int
    seconds: float


def seed_sweep(
    client: httpx.Client, database_url: str, shape: RunShape, every: int, seeds: int
) -> SeededSweep:
    """POST /sweeps over the five strategies x `seeds` seeds (the API creates the queued
    runs), then each run claimed, fed and finished as a worker would (`feed_run`)."""
    started = time.perf_counter()
    base = run_spec(shape, every, "bench-sweep")
    del base["name"]
    created = client.post(
        "/api/v1/sweeps",
        json={
            "name": "bench-sweep",
            "base": base,
            "axes": {"strategy.name": list(SWEEP_STRATEGIES), "seed": list(range(seeds))},
            "method": "grid",
        },
    )
    if created.status_code != 201:
        raise SystemExit(f"POST /api/v1/sweeps: {created.status_code} {created.text}")
    sweep = created.json()
    stored = 0
    for run_id in sweep["run_ids"]:
        spec = client.get(f"/api/v1/runs/{run_id}").raise_for_status().json()["spec"]
        dip, forget = SWEEP_STRATEGIES[spec["strategy"]["name"]]
        rng = np.random.default_rng(run_id)
        stored += feed_run(client, database_url, run_id, shape, every, rng, dip=dip, forget=forget)
    return SeededSweep(
        sweep["id"],
        sweep["name"],
        sweep["run_ids"],
        len(SWEEP_STRATEGIES),
        stored,
        time.perf_counter() - started,
    )


# --- the browser -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PageLoad:
    drawn_ms: float
    ready_signal: bool
    metrics_requests: int
    points_downloaded: int
    metrics_bytes: int
    requests: list[tuple[str, float, float]]  # (path, start ms, end ms) from navigation start


def load_run_page(
    browser: Any, base_url: str, run: SeededRun, timeout_s: float, sign_in_token: str
) -> PageLoad:
    """One load of /runs/<id> in a fresh context (empty cache), signed in with a one-time
    link's token beforehand (not timed); waits until the charts drew."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    try:
        # The session cookie that the link's exchange sets lands in this context's cookies.
        signed_in = context.request.post(
            f"{base_url}/api/v1/auth/link", data={"token": sign_in_token}
        )
        if not signed_in.ok:
            raise SystemExit(f"sign-in with a one-time link: {signed_in.status} {signed_in.text()}")
        context.add_init_script(DRAWN_PROBE % run.shape.n_tasks)
        page = context.new_page()
        metrics_path = f"/api/v1/runs/{run.run_id}/metrics"
        answers: list[Any] = []
        page.on(
            "response",
            lambda r: answers.append(r) if httpx.URL(r.url).path == metrics_path else None,
        )
        page.goto(f"{base_url}/runs/{run.run_id}", wait_until="commit")
        # A function, not an expression: Playwright evals expressions in the page, which the
        # dashboard's Content-Security-Policy (script-src 'self') forbids.
        page.wait_for_function("() => window.__drawnAt !== null", timeout=timeout_s * 1000)
        drawn_ms, signal = page.evaluate("[window.__drawnAt, window.__readySignal]")
        requests = page.evaluate(
            """performance.getEntriesByType("resource").map(
                 e => [new URL(e.name).pathname + new URL(e.name).search.slice(0, 40),
                       e.startTime, e.responseEnd])"""
        )
        points = size = 0
        for answer in answers:
            body = answer.body()
            size += len(body)
            points += sum(len(s["steps"]) for s in answer.json()["series"])
        return PageLoad(float(drawn_ms), bool(signal), len(answers), points, size, requests)
    finally:
        context.close()


# The sweep page's "drawn": every configuration's results row with no provisional cell, and the
# aligned chart's canvas with its data (the container's data-ready="true"); then the next frame.
SWEEP_PROBE = """
(() => {
  const rows = %d;
  window.__drawnAt = null;
  const check = () => {
    if (window.__drawnAt !== null || window.__pending) return;
    if (document.querySelectorAll('[data-testid="sweep-row"]').length !== rows) return;
    if (document.querySelector('[data-provisional="true"]') !== null) return;
    const canvas = document.querySelector(
      '[data-testid="sweep-aligned"][data-ready="true"] canvas');
    if (!canvas || canvas.width === 0 || canvas.height === 0) return;
    window.__pending = true;
    requestAnimationFrame(() => { window.__drawnAt = performance.now(); });
  };
  new MutationObserver(check).observe(document, {
    subtree: true, childList: true, attributes: true,
  });
})();
"""


# The sweeps list drawn (a warm-up load that computes nothing the timed pages need).
LIST_PROBE = """
(() => {
  window.__drawnAt = null;
  new MutationObserver(() => {
    if (window.__drawnAt === null && document.querySelector('[data-testid="sweeps-table"]')) {
      window.__drawnAt = performance.now();
    }
  }).observe(document, { subtree: true, childList: true });
})();
"""


@dataclass(frozen=True)
class TimedLoad:
    drawn_ms: float
    api: list[tuple[str, float, float]]  # (API path, start ms, end ms) from navigation start


def timed_load(
    browser: Any, base_url: str, path: str, probe: str, timeout_s: float, sign_in_token: str
) -> TimedLoad:
    """Milliseconds from navigation start to `probe`'s window.__drawnAt, for one load of
    `path` in a fresh context (empty cache) signed in beforehand (not timed), and the API
    requests the page made until then."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    try:
        signed_in = context.request.post(
            f"{base_url}/api/v1/auth/link", data={"token": sign_in_token}
        )
        if not signed_in.ok:
            raise SystemExit(f"sign-in with a one-time link: {signed_in.status} {signed_in.text()}")
        context.add_init_script(probe)
        page = context.new_page()
        page.goto(base_url + path, wait_until="commit")
        page.wait_for_function("() => window.__drawnAt !== null", timeout=timeout_s * 1000)
        drawn = float(page.evaluate("window.__drawnAt"))
        api = page.evaluate(
            """performance.getEntriesByType("resource")
                 .filter(e => new URL(e.name).pathname.startsWith("/api/"))
                 .map(e => [new URL(e.name).pathname, e.startTime, e.responseEnd])"""
        )
        return TimedLoad(drawn, [(str(p), float(a), float(b)) for p, a, b in api])
    finally:
        context.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def check_served_build(base_url: str) -> None:
    """The server must serve this checkout's build, not the page that says it is missing."""
    served = httpx.get(base_url + "/", timeout=10).text
    if served != (DIST / "index.html").read_text():
        raise SystemExit(f"the server does not serve {DIST}; is gapwatch installed editable?")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "page",
        nargs="?",
        choices=("run", "sweep"),
        default="run",
        help="run: the 1,000,000-step run page against a tiny one; sweep: a sweep page "
        "against one of its runs' pages",
    )
    parser.add_argument("--repeats", type=int, default=None, help="page loads per page")
    parser.add_argument(
        "--every", type=int, default=1, help="evaluation interval of the seeded runs"
    )
    parser.add_argument(
        "--iterations",
        type=int,
        default=10_000,
        help="sweep: iterations per task of each run (10 tasks)",
    )
    parser.add_argument("--seeds", type=int, default=5, help="sweep: seeds per strategy")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per page load")
    parser.add_argument(
        "--requests", action="store_true", help="list the last load's requests and their times"
    )
    args = parser.parse_args()
    if not (DIST / "index.html").is_file():
        raise SystemExit("no built dashboard: cd frontend && npm ci && npm run build")
    try:
        from playwright.sync_api import sync_playwright  # noqa: F401
    except ImportError:
        raise SystemExit("needs Python playwright: .venv/bin/pip install playwright") from None
    chromium = chromium_executable()
    if not chromium.exists():
        raise SystemExit(f"no Chromium at {chromium} (set GAPWATCH_CHROMIUM)")
    if args.page == "sweep":
        sweep_main(args, chromium)
    else:
        run_main(args, chromium)


def launch(playwright: Any, chromium: Path) -> Any:
    return playwright.chromium.launch(
        executable_path=str(chromium), headless=True, args=list(CHROMIUM_ARGS)
    )


def sweep_main(args: argparse.Namespace, chromium: Path) -> None:
    """The sweep page of 5 strategies x `--seeds` seeds against one of its runs' pages."""
    from playwright.sync_api import sync_playwright

    repeats = args.repeats or 5
    shape = RunShape(N_TASKS, args.iterations)
    name, url = create_database()
    try:
        auth = {"Authorization": f"Bearer {seed_account(url, BENCH_USER).key}"}
        tokens = iter(login_tokens(url, BENCH_USER, 2 * (repeats + 1) + 1))
        with (
            api_server(url) as base,
            httpx.Client(base_url=base, timeout=300, headers=auth) as client,
        ):
            check_served_build(base)
            sweep = seed_sweep(client, url, shape, args.every, args.seeds)
            one = sweep.run_ids[len(sweep.run_ids) // 2]
            # The run page first: its first load is then as cold as the sweep page's (the
            # sweep's views read every run, this one included, into the analysis cache).
            pages = {
                "run": (f"/runs/{one}", DRAWN_PROBE % shape.n_tasks),
                "sweep": (f"/sweeps/{sweep.sweep_id}", SWEEP_PROBE % sweep.configurations),
            }
            with sync_playwright() as playwright:
                browser = launch(playwright, chromium)
                # Untimed: the browser's and the server's first page of the process.
                timed_load(browser, base, "/sweeps", LIST_PROBE, args.timeout, next(tokens))
                first = {
                    key: timed_load(browser, base, path, probe, args.timeout, next(tokens))
                    for key, (path, probe) in pages.items()
                }
                loads: dict[str, list[float]] = {key: [] for key in pages}
                for _ in range(repeats):  # interleaved: drift hits both pages alike
                    for key, (path, probe) in pages.items():
                        loads[key].append(
                            timed_load(
                                browser, base, path, probe, args.timeout, next(tokens)
                            ).drawn_ms
                        )
                browser.close()
    finally:
        drop_database(name)

    runs = len(sweep.run_ids)
    print(
        f"seeded sweep #{sweep.sweep_id}: {sweep.configurations} strategies x {args.seeds} seeds "
        f"= {runs} runs of {shape.n_tasks} tasks x {shape.task_length:,} iterations, eval/acc "
        f"of every task every {args.every} iteration(s): {sweep.points_stored:,} points in "
        f"{sweep.seconds:.1f} s"
    )
    print(
        f"{repeats} loads per page, fresh browser context each (empty HTTP cache), server "
        "process kept (its analysis cache warm after the first load)"
    )
    p50 = {key: statistics.median(times) for key, times in loads.items()}
    cold = {key: load.drawn_ms for key, load in first.items()}
    for key, label in (("sweep", f"sweep page ({runs} runs)"), ("run", "one-run page")):
        print(
            f"{label:>22}: navigation -> drawn: p50 {p50[key]:7.0f} ms  "
            f"p95 {percentile(loads[key], 0.95):7.0f} ms  (first load {cold[key]:.0f} ms)"
        )
    slowest = sorted(first["sweep"].api, key=lambda r: r[1] - r[2])[:3]
    print(
        "  slowest API answers of the sweep page's first load: "
        + ", ".join(f"{path} {end - start:.0f} ms" for path, start, end in slowest)
    )
    print(
        f"sweep page ({runs} runs) {p50['sweep'] / 1000:.2f} s vs one-run page "
        f"{p50['run'] / 1000:.2f} s: ratio {p50['sweep'] / p50['run']:.2f} (p50); first loads "
        f"{cold['sweep'] / 1000:.2f} s vs {cold['run'] / 1000:.2f} s: ratio "
        f"{cold['sweep'] / cold['run']:.2f}"
    )


def run_main(args: argparse.Namespace, chromium: Path) -> None:
    """The 1,000,000-step run's page against a tiny run's."""
    from playwright.sync_api import sync_playwright

    args.repeats = args.repeats or 7
    name, url = create_database()
    try:
        # The seeding's API calls carry the key; each page load signs in with its own one-time
        # link, as a person opening the dashboard does.
        auth = {"Authorization": f"Bearer {seed_account(url, BENCH_USER).key}"}
        tokens = iter(login_tokens(url, BENCH_USER, 2 * (args.repeats + 1)))
        with (
            api_server(url) as base,
            httpx.Client(base_url=base, timeout=300, headers=auth) as client,
        ):
            check_served_build(base)
            big = seed_run(client, url, RunShape(N_TASKS, 100_000), args.every, "bench-1M", 1)
            tiny = seed_run(client, url, RunShape(N_TASKS, 100), args.every, "bench-tiny", 2)
            with sync_playwright() as playwright:
                browser = launch(playwright, chromium)
                first = {run.run_id: load_run_page(browser, base, run, args.timeout, next(tokens))
                         for run in (big, tiny)}  # fmt: skip
                loads: dict[int, list[PageLoad]] = {big.run_id: [], tiny.run_id: []}
                for _ in range(args.repeats):  # interleaved: drift hits both runs alike
                    for run in (big, tiny):
                        loads[run.run_id].append(
                            load_run_page(browser, base, run, args.timeout, next(tokens))
                        )
                browser.close()
    finally:
        drop_database(name)

    print(
        f"seeded big run: {big.shape.n_tasks} tasks x {big.shape.task_length:,} iterations "
        f"({big.shape.total:,} steps), eval/acc of every task every {args.every} iteration(s) "
        f"from step 0, train/loss, train/lr: {big.points_stored:,} points in {big.seconds:.1f} s"
    )
    print(
        f"baseline tiny run: {tiny.shape.n_tasks} tasks x {tiny.shape.task_length} iterations: "
        f"{tiny.points_stored:,} points"
    )
    print(
        f"{args.repeats} loads per run, fresh browser context each (empty HTTP cache), "
        "server process kept (its analysis cache warm after the first load)"
    )
    p50 = {}
    for label, run in (("big ", big), ("tiny", tiny)):
        times = [load.drawn_ms for load in loads[run.run_id]]
        p50[run.run_id] = statistics.median(times)
        last = loads[run.run_id][-1]
        signal = "data-ready=true" if last.ready_signal else "absent: canvases + boundary lines"
        print(
            f"{label}: navigation -> task charts drawn: p50 {p50[run.run_id]:7.0f} ms  "
            f"p95 {percentile(times, 0.95):7.0f} ms  "
            f"(first load {first[run.run_id].drawn_ms:.0f} ms)"
        )
        print(
            f"      {last.metrics_requests} metrics request(s), {last.points_downloaded:,} points "
            f"downloaded ({last.metrics_bytes / 1e6:.2f} MB) of {run.points_stored:,} stored; "
            f"ready signal {signal}"
        )
    if args.requests:
        for label, run in (("big", big), ("tiny", tiny)):
            print(f"requests of the last {label} load (ms from navigation start):")
            for path, start, end in loads[run.run_id][-1].requests:
                print(f"  {start:7.0f} -> {end:7.0f}  {path}")
    ratio = p50[big.run_id] / p50[tiny.run_id]
    met = p50[big.run_id] / 1000 < TARGET_S
    print(f"ratio big/tiny (p50): {ratio:.2f}")
    print(
        f"target: p50 < {TARGET_S} s for the 1,000,000-step run: "
        f"{p50[big.run_id] / 1000:.2f} s, {'met' if met else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
