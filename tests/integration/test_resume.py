"""A worker dies mid-run: the run is delivered again, resumed from its checkpoint by another
worker, and ends with exactly the curves of an uninterrupted run. Real PostgreSQL, Redis,
API and worker processes; the first worker is killed with SIGKILL."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from gapwatch.client import GapwatchClient
from gapwatch.spec import RunSpec
from gapwatch_worker.cl.loop import run_experiment
from gapwatch_worker.cl.reporting import MemoryReporter
from tests.conftest import (
    REDIS_URL,
    SESSION_TAG,
    UNWORKED_QUEUE,
    WORKER_TOKEN,
    LiveProcess,
    api_process,
    clean_env,
    offline_dataset_env,
    wait_for_run,
    wait_until,
)

pytestmark = pytest.mark.integration

SPEC: dict[str, Any] = {
    "benchmark": {"name": "split_digits"},
    "model": {"name": "mlp", "hidden_sizes": [400, 400]},
    "strategy": {"name": "er", "buffer_size": 100},
    "optimizer": {"name": "sgd", "lr": 0.05},
    "training": {"iterations_per_task": 400, "batch_size": 32},
    "evaluation": {"every": 1},
    "checkpoint_every": 100,
    "device": "cpu",
    "seed": 11,
}


def test_a_killed_workers_run_resumes_elsewhere_to_identical_curves(
    tmp_path: Path, pg_live_url: str, live_key: str, redis_client
) -> None:
    queue = f"gapwatch-test-{SESSION_TAG}-resume"
    worker_command = [sys.executable, "-m", "gapwatch.cli", "worker"]
    first = second = None
    try:
        with api_process(
            "resume-api",
            pg_live_url,
            # Its default queue gets what its sweep finds of other tests' leftovers (runs
            # without a queue of their own), and no worker consumes it; this test's run names
            # its own queue, which the sweep sends it back to within a second of going stale.
            UNWORKED_QUEUE,
            GAPWATCH_HEARTBEAT_TIMEOUT_S="3",
            GAPWATCH_STALE_SWEEP_INTERVAL_S="1",
        ) as url:
            worker_env = clean_env(
                GAPWATCH_BROKER_URL=REDIS_URL,
                GAPWATCH_QUEUE=queue,
                GAPWATCH_WORKER_TOKEN=WORKER_TOKEN,
                GAPWATCH_DATA_DIR=str(tmp_path),  # the shared artifacts volume of both workers
                GAPWATCH_API_URL=url,
                GAPWATCH_BROKER_VISIBILITY_TIMEOUT_S="6",
                **offline_dataset_env(),
            )
            first = LiveProcess("resume-worker-1", worker_command, worker_env)
            wait_until(lambda: " ready." in first.output(), 60, "first worker ready")
            client = GapwatchClient(url, api_key=live_key)
            # Its own queue even when requeued: the session's other API process (live_api, on
            # the same database) sends runs with stale heartbeats back to the run's queue, and a
            # run this test leaves behind must not land on the live worker of later tests.
            run_id = client.create_run({**SPEC, "queue": queue})["id"]
            checkpoint = tmp_path / "artifacts" / "runs" / str(run_id) / "checkpoint.pt"
            wait_until(checkpoint.exists, 120, "first checkpoint", interval_s=0.01)
            first.stop(signal.SIGKILL)
            stopped_at = client.get_run(run_id)["progress"]["step"]
            assert client.get_run(run_id)["status"] == "running"

            second = LiveProcess("resume-worker-2", worker_command, worker_env)
            finished = wait_for_run(client, run_id)
            assert finished["status"] == "succeeded", finished["error"]
            assert finished["attempts"] == 2, finished
            assert stopped_at < 1600, "the first worker finished before it was killed"
            assert "resuming from checkpoint" in second.output()

            stored = client.get_metrics(run_id)
    finally:
        for process in (second, first):
            if process is not None:
                process.stop()
        redis_client.delete(queue)

    uninterrupted = MemoryReporter()
    run_experiment(RunSpec.model_validate(SPEC), uninterrupted)
    for key, (steps, values) in uninterrupted.series.items():
        if key.startswith(("eval/", "train/")):
            assert stored[key] == (steps, values), key
