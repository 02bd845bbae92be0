"""Permuted Digits (pixels or labels permuted per task) and online training (one pass a task)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import ValidationError

from gapwatch.server.specs.presets import validated_presets
from gapwatch.spec import RunSpec
from gapwatch_worker.cl import loop
from gapwatch_worker.cl.batches import TaskBatchSampler
from gapwatch_worker.cl.benchmarks import TaskData, build_benchmark
from gapwatch_worker.cl.benchmarks.permuted_digits import label_permutation, pixel_permutation
from gapwatch_worker.cl.benchmarks.split_digits import _digits, stratified_split
from gapwatch_worker.cl.reporting import MemoryReporter
from gapwatch_worker.cl.seeding import make_generator
from tests.worker.test_checkpoint import assert_resumed_from, crash_then_resume

SpecFactory = Callable[..., RunSpec]  # the make_spec fixture of conftest.py
N_TRAIN, N_TEST = 1258, 539  # 30% of each digit class held out (tests/unit/test_resources.py)


def _bench(training: dict[str, Any] | None = None, **fields: Any) -> RunSpec:
    return RunSpec.model_validate(
        {
            "benchmark": {"name": "permuted_digits", **fields},
            "model": {"name": "mlp", "hidden_sizes": [16]},
            "strategy": {"name": "finetune"},
            "training": training or {"online": True},
            "evaluation": {"every": 100, "subset_size": 20},
            "device": "cpu",
        }
    )


def _build(seed: int = 0, **fields: Any) -> tuple[TaskData, ...]:
    return build_benchmark(_bench(**fields).benchmark, seed, "cpu").tasks


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(len(x), -1)


# --- The benchmark ----------------------------------------------------------------------------


@pytest.mark.parametrize("permute", ["inputs", "labels"])
def test_task_0_is_the_digits_as_they_are(permute: str) -> None:
    [first, *_] = _build(n_tasks=3, permute=permute)
    x, y = _digits()
    train, test = stratified_split(y, 0.3, make_generator(0, "permuted_digits/split"))
    assert (len(train), len(test)) == (N_TRAIN, N_TEST)
    assert torch.equal(first.train_x, torch.from_numpy(x[train]))
    assert torch.equal(first.test_x, torch.from_numpy(x[test]))
    # Domain-incremental, one head: the target of digit c is c.
    assert torch.equal(first.train_y, torch.from_numpy(y[train]))
    assert torch.equal(first.test_y, torch.from_numpy(y[test]))
    assert first.classes == tuple(range(10))


def test_input_tasks_permute_the_pixels_and_keep_the_labels() -> None:
    tasks = _build(n_tasks=4)
    for t, task in enumerate(tasks[1:], start=1):
        permutation = pixel_permutation(0, t)
        assert permutation is not None and sorted(permutation.tolist()) == list(range(64))
        assert torch.equal(_flat(task.train_x), _flat(tasks[0].train_x)[:, permutation])
        assert torch.equal(_flat(task.test_x), _flat(tasks[0].test_x)[:, permutation])
        assert torch.equal(task.train_y, tasks[0].train_y)
        assert torch.equal(task.test_y, tasks[0].test_y)
    for a in range(4):
        for b in range(a + 1, 4):
            assert not torch.equal(tasks[a].train_x, tasks[b].train_x), (a, b)
    # Another seed, other permutations; the same seed, the same tasks.
    assert not torch.equal(_build(seed=1, n_tasks=2)[1].train_x, tasks[1].train_x)
    assert torch.equal(_build(n_tasks=2)[1].train_x, tasks[1].train_x)


def test_label_tasks_share_the_inputs_and_relabel_by_a_bijection() -> None:
    tasks = _build(n_tasks=5, permute="labels")
    base_train, base_test = tasks[0].train_y, tasks[0].test_y
    for t, task in enumerate(tasks):
        # The very same tensors: no copy of the inputs per task.
        assert task.train_x is tasks[0].train_x and task.test_x is tasks[0].test_x
        relabel = label_permutation(0, t)
        assert sorted(relabel.tolist()) == list(range(10))  # a bijection of 0..9
        assert torch.equal(task.train_y, relabel[base_train])
        assert torch.equal(task.test_y, relabel[base_test])
        # Every digit gets one new label, the same in train and test, and no two digits share it.
        mapping = {(int(a), int(b)) for a, b in zip(base_train, task.train_y, strict=True)}
        mapping |= {(int(a), int(b)) for a, b in zip(base_test, task.test_y, strict=True)}
        assert len(mapping) == 10 and len({b for _, b in mapping}) == 10
    assert torch.equal(label_permutation(0, 0), torch.arange(10))
    relabellings = {tuple(label_permutation(0, t).tolist()) for t in range(5)}
    assert len(relabellings) == 5  # every task its own


def test_task_incremental_gives_each_task_its_head() -> None:
    benchmark = build_benchmark(
        _bench(n_tasks=3, permute="labels", scenario="task_incremental").benchmark, 0, "cpu"
    )
    assert benchmark.n_outputs == 30
    base = benchmark.tasks[0].train_y
    for t, task in enumerate(benchmark.tasks):
        assert task.output_units == (10 * t, 10 * t + 10)
        assert torch.equal(task.train_y, 10 * t + label_permutation(0, t)[base])


def test_a_thousand_tasks_build_in_little_memory() -> None:
    tasks = _build(n_tasks=1000, permute="labels")
    assert len(tasks) == 1000
    storages = {t.train_x.untyped_storage().data_ptr() for t in tasks}
    assert len(storages) == 1  # one copy of the inputs for all of them


# --- The online sampler -----------------------------------------------------------------------


def _toy_task(n: int) -> TaskData:
    y = torch.arange(n)
    return TaskData(classes=(0,), train_x=y[:, None].float(), train_y=y, test_x=y, test_y=y)


def test_online_sees_every_sample_once_and_the_last_batch_is_smaller() -> None:
    task = _toy_task(10)
    online = TaskBatchSampler(task, 4, torch.Generator().manual_seed(0), online=True)
    batches = [online.next_batch()[1].tolist() for _ in range(math.ceil(10 / 4))]
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(i for b in batches for i in b) == list(range(10))
    # The same order as the epoch sampler's first pass: the first full batches agree.
    full = TaskBatchSampler(task, 4, torch.Generator().manual_seed(0))
    assert [full.next_batch()[1].tolist() for _ in range(2)] == batches[:2]
    assert len(full.next_batch()[1]) == 4  # the epoch sampler completes its batch instead
    # An exact multiple: all batches full.
    exact = TaskBatchSampler(_toy_task(8), 4, torch.Generator().manual_seed(0), online=True)
    assert [len(exact.next_batch()[1]) for _ in range(2)] == [4, 4]
    # Past the pass the loop makes, a new pass in a new order.
    again = [online.next_batch()[1].tolist() for _ in range(3)]
    assert sorted(i for b in again for i in b) == list(range(10)) and again != batches


def test_online_sampler_resumes_bit_exactly() -> None:
    task = _toy_task(23)
    sampler = TaskBatchSampler(task, 5, torch.Generator().manual_seed(3), online=True)
    sampler.next_batch()
    sampler.next_batch()
    state = sampler.state_dict()
    rest = [sampler.next_batch()[1].tolist() for _ in range(6)]  # to the pass's end and on
    restored = TaskBatchSampler(task, 5, torch.Generator().manual_seed(99), online=True)
    restored.load_state_dict(state)
    assert [restored.next_batch()[1].tolist() for _ in range(6)] == rest
    assert [len(b) for b in rest[:3]] == [5, 5, 3]


def test_the_loop_trains_online_one_pass_per_task(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, list[int]]] = []

    class Recording(TaskBatchSampler):
        def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
            start = self.position
            batch = super().next_batch()
            seen.append((id(self.task), self.permutation[start : self.position].tolist()))
            return batch

    monkeypatch.setattr(loop, "TaskBatchSampler", Recording)
    spec = _bench({"online": True, "batch_size": 100}, n_tasks=2)
    outcome = loop.run_experiment(spec, MemoryReporter())
    assert outcome.iterations == 2 * math.ceil(N_TRAIN / 100) == 26
    tasks = [key for key, _ in seen]
    for task in dict.fromkeys(tasks):
        batches = [b for key, b in seen if key == task]
        assert [len(b) for b in batches] == [100] * 12 + [58]
        assert sorted(i for b in batches for i in b) == list(range(N_TRAIN))


def test_an_online_run_resumes_to_the_same_curves(make_spec: SpecFactory, tmp_path: Path) -> None:
    spec = make_spec(
        benchmark={"name": "permuted_digits", "n_tasks": 3, "permute": "labels"},
        training={"online": True, "batch_size": 100, "iterations_per_task": None},
        evaluation={"every": 4, "subset_size": 40},
        checkpoint_every=5,
    )
    # 13 updates a task (the 13th of 58 rows); dies at 23, inside task 1 (steps 13..26).
    uninterrupted, _, resumed, outcome = crash_then_resume(spec, tmp_path / "run", 23)
    assert outcome.resumed_from == 20 and outcome.iterations == 39
    assert_resumed_from(uninterrupted, resumed, 20)


# --- The spec's bounds (the API answers 422 with these errors) ---------------------------------


@pytest.mark.parametrize(
    ("benchmark", "training", "where"),
    [
        ({"n_tasks": 1001}, {"online": True}, "n_tasks"),
        ({"n_tasks": 1}, {"online": True}, "n_tasks"),
        ({"permute": "pixels"}, {"online": True}, "permute"),
        ({"scenario": "class_incremental"}, {"online": True}, "scenario"),
        ({"test_fraction": 1.0}, {"online": True}, "test_fraction"),
        ({}, {"online": True, "epochs_per_task": 1.0}, "online"),
        ({}, {"online": True, "iterations_per_task": 10}, "online"),
    ],
)
def test_out_of_bounds_specs_are_refused(
    benchmark: dict[str, Any], training: dict[str, Any], where: str
) -> None:
    with pytest.raises(ValidationError, match=where):
        RunSpec.model_validate(
            {
                "benchmark": {"name": "permuted_digits", **benchmark},
                "model": {"name": "mlp"},
                "strategy": {"name": "finetune"},
                "training": training,
            }
        )


def test_the_bounds_themselves_are_accepted() -> None:
    spec = _bench(n_tasks=1000, permute="labels", scenario="task_incremental")
    assert spec.benchmark.n_tasks == 1000  # type: ignore[union-attr]
    assert spec.training.online and spec.training.iterations_per_task is None
    assert spec.training.updates_per_task(N_TRAIN) == math.ceil(N_TRAIN / 32)
    assert _bench(n_tasks=2).benchmark.permute == "inputs"  # type: ignore[union-attr]


def test_the_plasticity_preset_is_long_online_and_diagnosed() -> None:
    preset = next(p for p in validated_presets() if p.id == "permuted_digits_plasticity")
    spec = RunSpec.model_validate(preset.spec)
    assert spec.benchmark.name == "permuted_digits" and spec.benchmark.n_tasks >= 100  # type: ignore[union-attr]
    assert spec.training.online and spec.evaluation.diagnostics
    # One evaluation per task, at its end: every is the task's number of updates.
    assert spec.evaluation.every == spec.training.updates_per_task(N_TRAIN) == 40
