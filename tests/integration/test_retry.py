"""A run whose worker keeps dying is failed at its attempt cap instead of looping, and `Retry`
sends it again: a worker resumes it from its last checkpoint and it succeeds. Real PostgreSQL,
Redis, API and worker processes; the first worker is killed with SIGKILL (what the kernel's
out-of-memory killer does)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from gapwatch.client import GapwatchClient
from tests.conftest import SESSION_TAG, api_process, start_worker, wait_for_run, wait_until

pytestmark = pytest.mark.integration

ITERATIONS = 80
N_TASKS = 5
SPEC: dict[str, Any] = {
    "benchmark": {"name": "split_digits"},
    "model": {"name": "mlp", "hidden_sizes": [100]},
    "strategy": {"name": "er", "buffer_size": 100},
    "optimizer": {"name": "sgd", "lr": 0.05},
    "training": {"iterations_per_task": ITERATIONS, "batch_size": 32},
    "evaluation": {"every": 1, "subset_size": 1000},
    "checkpoint_every": 40,
    "seed": 13,
}


def test_a_run_failed_at_its_attempt_cap_is_retried_from_its_checkpoint(
    tmp_path: Path, pg_live_url: str, live_key: str, redis_client
) -> None:
    queue = f"gapwatch-test-{SESSION_TAG}-retry"
    first = second = None
    try:
        with api_process(
            "retry-api",
            pg_live_url,
            queue,
            GAPWATCH_MAX_ATTEMPTS="1",
            GAPWATCH_HEARTBEAT_TIMEOUT_S="3",
            GAPWATCH_STALE_SWEEP_INTERVAL_S="0.5",
        ) as url:
            client = GapwatchClient(url, api_key=live_key)
            # Both workers share the artifacts volume (tmp_path), as compose's workers do.
            first = start_worker("retry-worker-1", url, queue, tmp_path)
            run_id = client.create_run({**SPEC, "queue": queue})["id"]
            checkpoint = tmp_path / "artifacts" / "runs" / str(run_id) / "checkpoint.pt"
            wait_until(checkpoint.exists, 120, "first checkpoint", interval_s=0.01)
            first.stop(signal.SIGKILL)
            killed_at = client.get_run(run_id)["progress"]["step"]
            assert killed_at < N_TASKS * ITERATIONS, "the run ended before its worker was killed"

            # The sweep requeues the silent run; the next claim is one too many: failed.
            second = start_worker("retry-worker-2", url, queue, tmp_path)
            failed = wait_for_run(client, run_id)
            assert failed["status"] == "failed", failed
            assert failed["error"] == (
                "failed after 1 attempt: the worker stopped (out of memory?) each time"
            )
            assert "resuming from checkpoint" not in second.output()

            retried = httpx.post(
                f"{url}/api/v1/runs/{run_id}/retry",
                headers={"Authorization": f"Bearer {live_key}"},
            )
            assert retried.status_code == 200, retried.text
            assert retried.json()["status"] == "queued" and retried.json()["attempts"] == 0
            finished = wait_for_run(client, run_id)
            assert finished["status"] == "succeeded", finished["error"]
            assert finished["error"] is None and finished["attempts"] == 1
            assert "resuming from checkpoint" in second.output()
            assert not checkpoint.exists()  # cleared once the run succeeded

            total = N_TASKS * ITERATIONS
            series = client.get_metrics(run_id)
            assert series["train/loss"][0] == list(range(1, total + 1))
            for task in range(N_TASKS):
                steps, _ = series[f"eval/acc/task_{task}"]
                assert steps == ([0] if task else []) + list(range(task * ITERATIONS, total + 1))
    finally:
        for process in (second, first):
            if process is not None:
                process.stop()
        redis_client.delete(queue)
