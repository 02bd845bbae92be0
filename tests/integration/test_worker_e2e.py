"""End to end with real parts: an API server process on PostgreSQL, a Celery worker process on
Redis, runs submitted over HTTP and their curves read back over HTTP."""

from __future__ import annotations

import time
from typing import Any

import pytest

from gapwatch.client import GapwatchClient
from tests.conftest import LiveProcess, wait_for_run, wait_until

pytestmark = pytest.mark.integration

ITERATIONS = 60
N_TASKS = 5


def split_digits_spec(strategy: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {
        "benchmark": {"name": "split_digits"},
        "model": {"name": "mlp", "hidden_sizes": [100]},
        "strategy": strategy,
        "optimizer": {"name": "sgd", "lr": 0.1},
        "training": {"iterations_per_task": ITERATIONS, "batch_size": 32},
        "evaluation": {"every": 1, "subset_size": 1000},
        "seed": 3,
        **overrides,
    }


@pytest.fixture(scope="module")
def client(live_api: str, live_key: str, live_worker: LiveProcess) -> GapwatchClient:
    return GapwatchClient(live_api, api_key=live_key)


def _task0_accuracy(client: GapwatchClient, run_id: int) -> tuple[float, float]:
    """Task 0's accuracy at the end of its own training and at the end of the run."""
    steps, values = client.get_metrics(run_id, ["eval/acc/task_0"])["eval/acc/task_0"]
    by_step = dict(zip(steps, values, strict=True))
    return by_step[ITERATIONS], by_step[N_TASKS * ITERATIONS]


def test_finetune_forgets_and_replay_keeps_more(client: GapwatchClient) -> None:
    finetune = client.create_run(split_digits_spec({"name": "finetune"}, name="finetune"))
    replay = client.create_run(split_digits_spec({"name": "er", "buffer_size": 200}, name="replay"))
    assert finetune["status"] == replay["status"] == "queued"
    finetune = wait_for_run(client, finetune["id"])
    replay = wait_for_run(client, replay["id"])
    assert finetune["status"] == "succeeded", finetune["error"]
    assert replay["status"] == "succeeded", replay["error"]
    assert finetune["progress"]["fraction"] == 1.0

    # Every task is evaluated at every iteration from its start: the whole curve is stored.
    total = N_TASKS * ITERATIONS
    series = client.get_metrics(finetune["id"])
    for task in range(N_TASKS):
        steps, values = series[f"eval/acc/task_{task}"]
        from_start = list(range(task * ITERATIONS, total + 1))
        assert steps == ([0] if task else []) + from_start, task  # step 0: FWT's baseline
        assert all(0.0 <= v <= 1.0 for v in values)
        assert len(series[f"eval/loss/task_{task}"][0]) == len(steps)
    assert series["train/loss"][0] == list(range(1, total + 1))
    assert len(series["train/lr"][0]) == total

    starts = client.get_events(finetune["id"], kind="task_start")
    assert [(e["step"], e["payload"]["task"]) for e in starts] == [
        (t * ITERATIONS, t) for t in range(N_TASKS)
    ]

    learned, final = _task0_accuracy(client, finetune["id"])
    assert learned > 0.9, learned  # task 0 (digits 0 and 1) is learned...
    assert final < 0.2, final  # ...and forgotten in class-incremental finetuning
    replay_learned, replay_final = _task0_accuracy(client, replay["id"])
    assert replay_learned > 0.9
    assert replay_final > final + 0.3, (replay_final, final)

    # The summary is derived from these stored curves, with the real evaluation-set sizes.
    summary = client.get_summary(finetune["id"])
    assert summary["complete"] and summary["tasks_completed"] == N_TASKS
    assert summary["eval_samples"]["source"] == "task_start.eval_samples"
    assert all(50 < n < 200 for n in summary["eval_samples"]["per_task"])  # ~108 digits a task
    final_accuracies = [series[f"eval/acc/task_{j}"][1][-1] for j in range(N_TASKS)]
    assert summary["acc"]["value"] == pytest.approx(sum(final_accuracies) / N_TASKS)
    assert summary["accuracy_matrix"]["rows"][0][0] == pytest.approx(learned)
    assert summary["wc_acc"]["value"] <= summary["acc"]["value"] + 1e-12
    assert summary["forgetting"]["value"] > 0.5  # finetuning forgets


def test_a_failing_run_is_failed_with_its_error_and_the_worker_goes_on(
    client: GapwatchClient,
) -> None:
    broken = client.create_run(split_digits_spec({"name": "finetune"}, device="cuda:7"))
    healthy = client.create_run(
        split_digits_spec({"name": "finetune"}, training={"iterations_per_task": 5})
    )
    broken = wait_for_run(client, broken["id"])
    assert broken["status"] == "failed"
    assert "cuda" in broken["error"].lower()
    assert broken["finished_at"] is not None
    assert wait_for_run(client, healthy["id"])["status"] == "succeeded"
    assert client.get_metrics(broken["id"]) == {}


def test_cancelling_a_running_run_stops_it_and_keeps_its_points(client: GapwatchClient) -> None:
    long_run = client.create_run(
        split_digits_spec({"name": "finetune"}, training={"iterations_per_task": 200_000})
    )
    run_id = long_run["id"]
    wait_until(
        lambda: client.get_run(run_id)["progress"]["step"] > 0, 60, "long run reports progress"
    )
    client.cancel_run(run_id)
    # The worker notices at its next heartbeat and is free again for the next run.
    after = client.create_run(
        split_digits_spec({"name": "finetune"}, training={"iterations_per_task": 5})
    )
    assert wait_for_run(client, after["id"])["status"] == "succeeded"
    cancelled = client.get_run(run_id)
    assert cancelled["status"] == "cancelled"
    kept = client.get_metrics(run_id, ["eval/acc/task_0"])["eval/acc/task_0"][0]
    assert kept and kept[0] == 0
    time.sleep(0.5)
    assert client.get_metrics(run_id, ["eval/acc/task_0"])["eval/acc/task_0"][0] == kept


COMBINATIONS = [
    # (benchmark, model, strategy): scenarios and heads that differ from the tests above.
    ({"name": "split_digits", "scenario": "task_incremental"}, {"name": "cnn", "channels": [8]},
     {"name": "lwf"}),
    ({"name": "synthetic", "n_tasks": 3, "dim": 16, "train_per_class": 100, "test_per_class": 50,
      "dissimilarity": 1.0}, {"name": "mlp", "hidden_sizes": [32]},
     {"name": "ewc", "online": True, "ewc_lambda": 1.0, "fisher_samples": 64}),
    ({"name": "split_digits", "scenario": "domain_incremental"},
     {"name": "resnet18_reduced", "nf": 4}, {"name": "derpp", "buffer_size": 50}),
    ({"name": "split_digits", "n_tasks": 2}, {"name": "mlp", "hidden_sizes": [32]},
     {"name": "agem", "buffer_size": 64, "reference_batch_size": 32}),
]  # fmt: skip


def test_benchmark_scenario_model_strategy_combinations_finish_with_curves(
    client: GapwatchClient,
) -> None:
    submitted = [
        client.create_run(
            split_digits_spec(
                strategy,
                benchmark=benchmark,
                model=model,
                training={"iterations_per_task": 15},
                evaluation={"every": 3},
            )
        )  # fmt: skip
        for benchmark, model, strategy in COMBINATIONS
    ]
    for run, (benchmark, _, _) in zip(submitted, COMBINATIONS, strict=True):
        finished = wait_for_run(client, run["id"])
        assert finished["status"] == "succeeded", finished["error"]
        n_tasks = benchmark.get("n_tasks", 5)
        series = client.get_metrics(run["id"])
        last = f"eval/acc/task_{n_tasks - 1}"
        assert series[last][0][-1] == 15 * n_tasks
        assert all(0.0 <= v <= 1.0 for v in series["eval/acc/task_0"][1])


def test_a_dataset_that_is_neither_cached_nor_downloadable_fails_the_run_clearly(
    client: GapwatchClient,
) -> None:
    run = client.create_run(
        split_digits_spec({"name": "finetune"}, benchmark={"name": "split_mnist"})
    )
    finished = wait_for_run(client, run["id"])
    assert finished["status"] == "failed"
    assert finished["error"].startswith(
        "DatasetUnavailable: dataset mnist not in cache and download failed"
    )
