"""A worker cut off from the API rides the outage out, a finish that fails is retried, and a
cancelled run's worker stops quietly. Real PostgreSQL, Redis, API and worker processes; between
the worker and the API a TCP proxy (tests/proxy.py) that the tests cut and restore."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from gapwatch.client import GapwatchClient
from tests.conftest import (
    SESSION_TAG,
    LiveProcess,
    api_process,
    start_worker,
    wait_for_run,
    wait_until,
)
from tests.proxy import TcpProxy

pytestmark = pytest.mark.integration

# Long enough that the cut lands mid-run on a fast, idle machine (~5 s of training there).
ITERATIONS = 300
N_TASKS = 5
# Longer than the ~8 s that the worker's client used to retry for, shorter than its budget.
CUT_S = 15.0
OUTAGE_BUDGET_S = 60


def spec(**overrides: Any) -> dict[str, Any]:
    return {
        "benchmark": {"name": "split_digits"},
        "model": {"name": "mlp", "hidden_sizes": [100]},
        "strategy": {"name": "finetune"},
        "optimizer": {"name": "sgd", "lr": 0.1},
        "training": {"iterations_per_task": ITERATIONS, "batch_size": 32},
        "evaluation": {"every": 1, "subset_size": 1000},
        "seed": 7,
        **overrides,
    }


class Setup:
    def __init__(self, api: str, proxy: TcpProxy, worker: LiveProcess, client: GapwatchClient):
        self.api, self.proxy, self.worker, self.client = api, proxy, worker, client

    def worker_log_since(self, offset: int) -> str:
        return self.worker.output()[offset:]


@pytest.fixture(scope="module")
def setup(
    pg_live_url: str, live_key: str, redis_client: redis.Redis, tmp_path_factory
) -> Iterator[Setup]:  # type: ignore[no-untyped-def]
    queue = f"gapwatch-test-{SESSION_TAG}-outage"
    data_dir: Path = tmp_path_factory.mktemp("outage-worker")
    worker = None
    try:
        with api_process("outage-worker-api", pg_live_url, queue) as api:
            port = int(api.rsplit(":", 1)[1])
            proxy = TcpProxy("127.0.0.1", port)
            worker = start_worker(
                "outage-worker",
                proxy.url,
                queue,
                data_dir,
                GAPWATCH_WORKER_OUTAGE_S=str(OUTAGE_BUDGET_S),
            )
            yield Setup(api, proxy, worker, GapwatchClient(api, api_key=live_key))
            proxy.close()
    finally:
        if worker is not None:
            worker.stop()
        redis_client.delete(queue)


def _assert_every_point_stored_once(client: GapwatchClient, run_id: int) -> None:
    total = N_TASKS * ITERATIONS
    series = client.get_metrics(run_id)
    for task in range(N_TASKS):
        steps, _ = series[f"eval/acc/task_{task}"]
        assert steps == ([0] if task else []) + list(range(task * ITERATIONS, total + 1)), task
    assert series["train/loss"][0] == list(range(1, total + 1))
    starts = client.get_events(run_id, kind="task_start")
    assert [e["step"] for e in starts] == [t * ITERATIONS for t in range(N_TASKS)]


def test_a_worker_rides_out_an_outage_longer_than_its_old_retries(setup: Setup) -> None:
    client, proxy = setup.client, setup.proxy
    run_id = client.create_run(spec(name="through-an-outage"))["id"]
    # Cut as soon as the worker has claimed it: its finish cannot get through before restore.
    wait_until(lambda: client.get_run(run_id)["status"] == "running", 120, "the claim")
    proxy.cut()
    try:
        cut_at = time.monotonic()
        assert client.get_run(run_id)["status"] == "running"
        time.sleep(CUT_S)
        # Nothing got through: the run's end, if its training ended, is not recorded yet.
        assert client.get_run(run_id)["status"] == "running"
    finally:
        proxy.restore()
    finished = wait_for_run(client, run_id)
    assert finished["status"] == "succeeded", finished["error"]
    assert finished["attempts"] == 1  # ridden out, not resumed by another claim
    assert time.monotonic() - cut_at >= CUT_S
    _assert_every_point_stored_once(client, run_id)
    assert "retrying in" in setup.worker.output()


def test_a_finish_whose_first_attempts_fail_still_records_the_error(setup: Setup) -> None:
    client, proxy = setup.client, setup.proxy
    proxy.fail_next(b"/finish HTTP", 3)
    try:
        broken = client.create_run(spec(device="cuda:7"))
        failed = wait_for_run(client, broken["id"])
    finally:
        dropped = proxy.failed
        proxy.fail_next(b"", 0)
    assert dropped == 3
    assert failed["status"] == "failed", failed
    assert "cuda" in failed["error"].lower()


def test_a_cancelled_runs_worker_stops_quietly_in_one_line(setup: Setup) -> None:
    client = setup.client
    offset = len(setup.worker.output())
    run_id = client.create_run(spec(training={"iterations_per_task": 200_000}))["id"]
    wait_until(lambda: client.get_run(run_id)["progress"]["step"] > 0, 120, "progress")
    client.cancel_run(run_id)
    # The worker is free again for the next run, which it could not be while still training.
    after = client.create_run(spec(training={"iterations_per_task": 5}))
    assert wait_for_run(client, after["id"])["status"] == "succeeded"
    log = setup.worker_log_since(offset)
    assert "Traceback" not in log, log
    stopped = [line for line in log.splitlines() if re.search(rf"\brun {run_id}\b", line)]
    said = [line for line in stopped if "stopped" in line]
    assert len(said) == 1 and "cancelled" in said[0], stopped
    assert not [line for line in stopped if "ERROR" in line or "could not" in line], stopped
