"""The example plugin through the real stack: a run naming `er_cosine` is validated by the API
process, trained by a real worker process and read back over HTTP; a worker without the plugin
fails such a run with an error that says what to install, and goes on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gapwatch.client import GapwatchClient
from tests.conftest import LiveProcess, start_worker, wait_for_run
from tests.integration.test_worker_e2e import split_digits_spec

pytestmark = pytest.mark.integration

ITERATIONS = 20
# Two tasks of five digits, a few updates each: seconds, yet each task is learned.
SMALL = {
    "benchmark": {"name": "split_digits", "n_tasks": 2},
    "model": {"name": "mlp", "hidden_sizes": [32]},
    "training": {"iterations_per_task": ITERATIONS, "batch_size": 32},
    "evaluation": {"every": 4, "subset_size": 100},
}


def er_cosine_run(**overrides: Any) -> dict[str, Any]:
    strategy = {"name": "er_cosine", "buffer_size": 50, "scale": 12.0}
    return split_digits_spec(strategy, **(SMALL | overrides))


@pytest.fixture(scope="module")
def client(live_api: str, live_key: str, live_worker: LiveProcess) -> GapwatchClient:
    return GapwatchClient(live_api, api_key=live_key)


def test_a_plugin_strategy_runs_on_a_real_worker(client: GapwatchClient) -> None:
    run = client.create_run(er_cosine_run(name="er-cosine"))
    assert run["spec"]["strategy"] == {
        "name": "er_cosine",
        "buffer_size": 50,
        "replay_batch_size": None,
        # the stability-gap mitigations every replay strategy takes, off by default
        "head_init": "default",
        "freeze_old_heads": False,
        "soft_targets": 0.0,
        "lora_rank": None,
        "scale": 12.0,
    }
    finished = wait_for_run(client, run["id"])
    assert finished["status"] == "succeeded", finished["error"]
    series = client.get_metrics(run["id"])
    total = 2 * ITERATIONS
    assert series["train/loss"][0] == list(range(1, total + 1))
    steps, values = series["eval/acc/task_0"]
    assert steps == list(range(0, total + 1, 4))
    task0 = dict(zip(steps, values, strict=True))
    assert task0[0] < 0.2 and task0[ITERATIONS] > 0.85  # learned from scratch...
    assert task0[total] > 0.6  # ...and kept through task 1 by replay (class-incremental)
    steps, values = series["eval/acc/task_1"]
    assert steps == [0, *range(ITERATIONS, total + 1, 4)] and values[-1] > 0.6


def test_the_api_refuses_a_bad_plugin_option_naming_the_field(
    client: GapwatchClient, live_api: str, live_key: str
) -> None:
    bad = er_cosine_run()
    bad["strategy"]["scale"] = 0.0
    answer = httpx.post(
        f"{live_api}/api/v1/runs", json=bad, headers={"Authorization": f"Bearer {live_key}"}
    )
    assert answer.status_code == 422
    assert ["body", "strategy", "er_cosine", "scale"] in [e["loc"] for e in answer.json()["detail"]]


@pytest.fixture
def worker_without_plugin(
    live_api: str, test_queue: str, tmp_path: Path
) -> Iterator[tuple[LiveProcess, str]]:
    """A real worker process of its own queue that leaves the example plugin out."""
    queue = f"{test_queue}-no-plugin"
    worker = start_worker(
        "worker-no-plugin",
        live_api,
        queue,
        tmp_path / "data",
        GAPWATCH_PLUGINS_DISABLED="gapwatch-example-plugin",
    )
    yield worker, queue
    worker.stop()


def test_a_worker_without_the_plugin_fails_the_run_saying_what_to_install(
    client: GapwatchClient, worker_without_plugin: tuple[LiveProcess, str]
) -> None:
    worker, queue = worker_without_plugin
    refused = client.create_run(er_cosine_run(queue=queue))
    healthy = client.create_run(split_digits_spec({"name": "finetune"}, **SMALL, queue=queue))
    refused = wait_for_run(client, refused["id"])
    assert refused["status"] == "failed"
    assert "strategy 'er_cosine'" in refused["error"]
    assert "install the package that provides it where the worker runs" in refused["error"]
    assert refused["finished_at"] is not None
    assert client.get_metrics(refused["id"]) == {}
    # The refusal is the run's, not the worker's: it trains the next run.
    assert wait_for_run(client, healthy["id"])["status"] == "succeeded"
    assert "refused" in worker.output()
