"""An uploaded dataset, end to end with real parts: uploaded over HTTP to the API server process,
named by a custom benchmark, fetched by a Celery worker process with its run's token, trained
on, and its stability gaps read back; and the worker's fetch itself (kept, re-fetched when
damaged, refused once its run has ended, made while the run's heartbeat goes on)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gapwatch.client import GapwatchClient
from gapwatch.config import Settings
from gapwatch.datasets.arrays import array_digest, dataset_path
from tests.conftest import UNWORKED_QUEUE, WORKER_TOKEN, LiveProcess, wait_for_run

pytestmark = pytest.mark.integration

ITERATIONS = 30


def _blobs() -> dict[str, np.ndarray]:
    """Four well-separated Gaussian classes in 8 dimensions: 40 train and 20 test rows each."""
    rng = np.random.default_rng(7)
    centres = rng.normal(scale=4.0, size=(4, 8))

    def split(per_class: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.repeat(np.arange(4), per_class)
        x = centres[y] + rng.normal(size=(len(y), 8))
        order = rng.permutation(len(y))
        return x[order].astype(np.float32), y[order].astype(np.int64)

    (x_train, y_train), (x_test, y_test) = split(40), split(20)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def _spec(dataset: int, **extra: Any) -> dict[str, Any]:
    return {
        "benchmark": {
            "name": "custom",
            "dataset": dataset,
            "split": {"kind": "classes", "tasks": [[0, 1], [2, 3]]},
        },
        "model": {"name": "mlp", "hidden_sizes": [32]},
        "strategy": {"name": "finetune"},
        "optimizer": {"name": "sgd", "lr": 0.1},
        "training": {"iterations_per_task": ITERATIONS, "batch_size": 16},
        "evaluation": {"every": 2},
        "seed": 1,
        **extra,
    }


@pytest.fixture(scope="module")
def client(live_api: str, live_key: str) -> GapwatchClient:
    return GapwatchClient(live_api, api_key=live_key)


@pytest.fixture(scope="module")
def uploaded(client: GapwatchClient, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The blobs, uploaded as an .npz under a name of this test session's."""
    arrays = _blobs()
    path = tmp_path_factory.mktemp("upload") / "blobs.npz"
    np.savez(path, **arrays)
    dataset = client.upload_dataset(path, name=f"blobs-{uuid.uuid4().hex[:8]}")
    assert dataset["digest"] == array_digest(arrays)
    assert dataset["classes"] == [0, 1, 2, 3]
    assert client.get_dataset(dataset["id"]) == dataset
    assert dataset in client.list_datasets("default")
    return dataset


def test_an_uploaded_dataset_trains_a_custom_run_on_a_real_worker(
    client: GapwatchClient, uploaded: dict[str, Any], live_worker: LiveProcess
) -> None:
    run = client.create_run(_spec(uploaded["id"]))
    assert run["spec"]["benchmark"]["digest"] == uploaded["digest"]
    finished = wait_for_run(client, run["id"])
    assert finished["status"] == "succeeded", finished["error"]
    assert f"run {run['id']}: dataset {uploaded['id']}" in live_worker.output()  # fetched

    # Task 0 (classes 0 and 1) was learned from the uploaded rows, then class-incremental
    # finetuning on classes 2 and 3 cost it accuracy: the gap table shows the drop at boundary 1.
    steps, values = client.get_metrics(run["id"], ["eval/acc/task_0"])["eval/acc/task_0"]
    accuracy = dict(zip(steps, values, strict=True))
    assert accuracy[ITERATIONS] > 0.9
    gaps = client.get_gaps(run["id"])
    (boundary,) = gaps["boundaries"]
    assert boundary["task"] == 1 and boundary["complete"]
    (row,) = boundary["rows"]
    assert row["task"] == 0 and row["evaluated"]
    assert row["before"] == pytest.approx(accuracy[ITERATIONS])
    assert row["eligible"] and row["depth"] > 0.25  # a real drop when task 1 began


def test_the_worker_fetches_a_dataset_once_again_when_damaged_and_not_after_its_run(
    client: GapwatchClient,
    uploaded: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gapwatch.client import RetryPolicy
    from gapwatch_worker import tasks

    monkeypatch.setattr(tasks, "get_settings", lambda: Settings(data_dir=tmp_path))
    # Sent to a queue no worker consumes: claimed here, as a worker would.
    run = client.create_run(_spec(uploaded["id"], queue=UNWORKED_QUEUE))
    claim = client.claim_run(run["id"], worker="test", worker_token=WORKER_TOKEN)
    policy = RetryPolicy(max_retries=0)
    path = dataset_path(tmp_path, uploaded["digest"])

    tasks.fetch_dataset(client, claim, policy)
    fetched = path.stat().st_mtime_ns
    tasks.fetch_dataset(client, claim, policy)  # there with its digest: kept
    assert path.stat().st_mtime_ns == fetched
    path.write_bytes(b"damaged")
    tasks.fetch_dataset(client, claim, policy)
    assert path.read_bytes() != b"damaged"
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no partial file

    # A viewer downloads the same file with their key.
    copy = client.download_dataset(uploaded["id"], tmp_path / "copy.npz")
    assert copy.read_bytes() == path.read_bytes()

    client.finish_run(run["id"], claim.token)
    path.unlink()
    with pytest.raises(tasks.DatasetUnavailable, match=f"dataset {uploaded['id']}.*succeeded"):
        tasks.fetch_dataset(client, claim, policy)
    assert not path.exists()


def test_the_run_beats_while_its_dataset_is_fetched_and_fails_when_it_cannot_be(
    client: GapwatchClient,
    uploaded: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gapwatch.client import GapwatchAPIError, RetryPolicy
    from gapwatch_worker import tasks

    monkeypatch.setattr(tasks, "get_settings", lambda: Settings(data_dir=tmp_path))
    run = client.create_run(_spec(uploaded["id"], queue=UNWORKED_QUEUE))
    claim = client.claim_run(run["id"], worker="test", worker_token=WORKER_TOKEN)
    claimed = client.get_run(run["id"])["heartbeat_at"]
    beats = []

    def slow_then_refused(*_args: Any, **_kwargs: Any) -> Path:
        # A download that lasts (a large file, retries through an outage): the run's
        # heartbeat moves on meanwhile, so the API does not take it for dead...
        deadline = time.monotonic() + 30
        while (beat := client.get_run(run["id"])["heartbeat_at"]) == claimed:
            assert time.monotonic() < deadline, "no heartbeat while the dataset downloads"
            time.sleep(0.1)
        beats.append(beat)
        # ...and when the API refuses the file, the run fails saying so.
        raise GapwatchAPIError(404, "dataset gone")

    monkeypatch.setattr(client, "download_dataset", slow_then_refused)
    assert tasks.execute_claimed_run(client, claim, RetryPolicy(max_retries=0)) == "failed"
    assert beats
    failed = client.get_run(run["id"])
    assert failed["status"] == "failed"
    assert f"dataset {uploaded['id']}" in failed["error"] and "dataset gone" in failed["error"]
    assert not dataset_path(tmp_path, uploaded["digest"]).exists()
