"""Scale-out: more workers on the same queue share the runs, and no run executes twice.

Two real Celery worker processes subscribe to a queue that the runs' specs name; six runs go
to the real API server and through the real Redis broker.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gapwatch.client import GapwatchClient
from tests.conftest import SESSION_TAG, start_worker, wait_for_run

pytestmark = pytest.mark.integration

RUNS = 6


def test_two_workers_share_six_runs_each_executed_exactly_once(
    live_api: str, live_key: str, tmp_path: Path, redis_client
) -> None:
    queue = f"gapwatch-test-{SESSION_TAG}-scale"
    workers = [
        start_worker(f"scale-{i}", live_api, queue, tmp_path / f"worker-{i}") for i in (1, 2)
    ]
    try:
        client = GapwatchClient(live_api, api_key=live_key)
        spec = {
            "benchmark": {"name": "split_digits", "n_tasks": 2},
            "model": {"name": "mlp", "hidden_sizes": [64]},
            "strategy": {"name": "finetune"},
            "training": {"iterations_per_task": 150},
            "evaluation": {"every": 1},
            "queue": queue,
        }
        ids = [client.create_run({**spec, "seed": seed})["id"] for seed in range(RUNS)]
        finished = [wait_for_run(client, run_id) for run_id in ids]
    finally:
        for worker in workers:
            worker.stop()
        redis_client.delete(queue)

    assert [run["status"] for run in finished] == ["succeeded"] * RUNS
    assert all(run["attempts"] == 1 for run in finished), "a run was claimed twice"
    # Each worker's log names the runs it claimed; together: every run, exactly once.
    claimed = {
        worker.log_path.name: re.findall(r"run (\d+) claimed", worker.output())
        for worker in workers
    }
    executed = sorted(int(run_id) for runs in claimed.values() for run_id in runs)
    assert executed == sorted(ids), claimed
    assert all(claimed.values()), f"one worker got no run: {claimed}"
    assert len({run["worker"] for run in finished}) == 2
