"""Wall time and stored points of a split_digits run at `every: 1`, through the whole service.

Starts the embedded service (`gapwatch up`: SQLite, filesystem broker, one worker process) in a
temporary data directory, submits the default split_digits spec (MLP 2x400, 5 tasks x 500
iterations, evaluation of every seen task after every update) for finetune and ER, and reports:

- wall time from submission to `succeeded`, and the points the service stored;
- the same spec run by the engine alone in this process with an in-memory reporter;
- the ratio service / engine, the cost of queueing, claiming and shipping every point over HTTP.

The runs are submitted with an API key made by `gapwatch keys create` on the service's data
directory (a key of the admin that the first start creates). --iterations shortens every task
for a quick check (the figures are then dominated by fixed costs).

Usage: .venv/bin/python bench/run_wall_time.py [--iterations 500]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gapwatch.client import GapwatchClient
from gapwatch.spec import RunSpec
from gapwatch_worker.cl.loop import run_experiment
from gapwatch_worker.cl.reporting import MemoryReporter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import free_port, wait_healthy  # noqa: E402


def spec_for(strategy: str, iterations: int | None = None) -> dict:
    spec = {
        "benchmark": {"name": "split_digits"},
        "model": {"name": "mlp"},
        "strategy": {"name": strategy},
        "evaluation": {"every": 1},
        "device": "cpu",
    }
    if iterations is not None:
        spec["training"] = {"iterations_per_task": iterations}
    return spec


def engine_alone(strategy: str, iterations: int | None) -> tuple[float, int]:
    reporter = MemoryReporter()
    started = time.perf_counter()
    run_experiment(RunSpec.model_validate(spec_for(strategy, iterations)), reporter)
    points = sum(len(steps) for steps, _ in reporter.series.values())
    return time.perf_counter() - started, points


def through_service(
    client: GapwatchClient, strategy: str, iterations: int | None
) -> tuple[float, int]:
    started = time.perf_counter()
    run = client.create_run(spec_for(strategy, iterations))
    run = client.wait_for_run(run["id"], timeout_s=1800, poll_s=0.05)
    elapsed = time.perf_counter() - started
    assert run["status"] == "succeeded", run["error"]
    points = sum(len(steps) for steps, _ in client.get_metrics(run["id"]).values())
    return elapsed, points


def create_key(env: dict[str, str]) -> str:
    """`gapwatch keys create` on the service's data directory; the key is its last line."""
    done = subprocess.run(
        [sys.executable, "-m", "gapwatch.cli", "keys", "create", "bench"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit("gapwatch keys create failed:\n" + done.stdout + done.stderr)
    return done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--iterations", type=int, help="iterations per task (default: the spec's, 500)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("GAPWATCH_")}
        env.update(GAPWATCH_DATA_DIR=str(Path(data_dir)), GAPWATCH_PORT=str(port))
        log = Path(data_dir) / "service.log"
        service = subprocess.Popen(
            [sys.executable, "-m", "gapwatch.cli", "up"],
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_healthy(url, service, log)
            with GapwatchClient(url, api_key=create_key(env)) as client:
                # Warm-up: worker imports, dataset load.
                through_service(client, "finetune", args.iterations)
                for strategy in ("finetune", "er"):
                    alone_s, alone_points = engine_alone(strategy, args.iterations)
                    service_s, stored = through_service(client, strategy, args.iterations)
                    print(
                        f"{strategy}: service {service_s:.2f} s, {stored} points stored "
                        f"({stored / service_s:,.0f} points/s); engine alone {alone_s:.2f} s, "
                        f"{alone_points} points; ratio: {service_s / alone_s:.2f}"
                    )
        finally:
            service.send_signal(signal.SIGINT)
            service.wait(timeout=30)


if __name__ == "__main__":
    main()
