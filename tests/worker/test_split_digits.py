"""Split Digits: shapes, disjoint classes, disjoint splits, value range, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from gapwatch.spec import SplitDigitsSpec
from gapwatch_worker.cl.benchmarks import build_benchmark
from gapwatch_worker.cl.benchmarks.split_digits import stratified_split, task_classes


def _build(seed: int = 0, **fields: object):
    spec = SplitDigitsSpec.model_validate({"name": "split_digits", **fields})
    return build_benchmark(spec, seed, "cpu")


def test_five_tasks_of_two_consecutive_digits() -> None:
    benchmark = _build()
    assert (benchmark.input_shape, benchmark.n_outputs, benchmark.input_dim) == ((1, 8, 8), 10, 64)
    assert benchmark.scenario == "class_incremental"
    assert [t.classes for t in benchmark.tasks] == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    counts = np.bincount(load_digits().target, minlength=10)
    for task in benchmark.tasks:
        assert task.train_x.dtype == task.test_x.dtype == torch.float32
        assert task.train_y.dtype == task.test_y.dtype == torch.int64
        assert task.train_x.shape == (len(task.train_y), 1, 8, 8)
        assert task.test_x.shape == (len(task.test_y), 1, 8, 8)
        assert task.train_x.device.type == "cpu"
        # Class-incremental targets are the digits themselves, only this task's ones.
        assert set(task.train_y.tolist()) == set(task.classes) == set(task.test_y.tolist())
        # Every sample of the task's classes is in exactly one split, ~30% in test per class.
        assert len(task.train_y) + len(task.test_y) == sum(counts[c] for c in task.classes)
        for c in task.classes:
            n_test = int((task.test_y == c).sum())
            assert abs(n_test - 0.3 * counts[c]) <= 1
        for x in (task.train_x, task.test_x):
            assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
        assert float(task.train_x.max()) == 1.0  # scaled by 16, not by the observed max


def test_images_are_the_digits_in_row_major_order() -> None:
    digits = load_digits()
    benchmark = _build()
    first_zero = int(np.flatnonzero(digits.target == 0)[0])
    task = benchmark.tasks[0]
    both = torch.cat([task.train_x, task.test_x]).flatten(1)
    target = torch.from_numpy(digits.data[first_zero] / 16.0).float()
    assert (both == target).all(1).any()
    assert torch.equal(both[0].view(8, 8), both[0].view(1, 8, 8)[0])


@pytest.mark.parametrize(
    ("scenario", "n_outputs", "task_1_targets"),
    [
        ("class_incremental", 10, {2, 3}),
        ("task_incremental", 10, {2, 3}),
        ("domain_incremental", 2, {0, 1}),
    ],
)
def test_scenarios(scenario: str, n_outputs: int, task_1_targets: set[int]) -> None:
    benchmark = _build(scenario=scenario)
    assert benchmark.n_outputs == n_outputs
    assert set(benchmark.tasks[1].train_y.tolist()) == task_1_targets
    units = [t.output_units for t in benchmark.tasks]
    assert units == (
        [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)] if scenario == "task_incremental" else [None] * 5
    )


def test_fewer_tasks_drop_leftover_classes() -> None:
    assert task_classes(3) == [(0, 1, 2), (3, 4, 5), (6, 7, 8)]
    assert task_classes(4) == [(0, 1), (2, 3), (4, 5), (6, 7)]
    assert [t.classes for t in _build(n_tasks=2).tasks] == [(0, 1, 2, 3, 4), (5, 6, 7, 8, 9)]
    assert 9 not in torch.cat([t.train_y for t in _build(n_tasks=3).tasks]).tolist()


def test_train_and_test_indices_are_disjoint_and_cover_the_data() -> None:
    labels = load_digits().target
    train, test = stratified_split(labels, 0.25, torch.Generator().manual_seed(1))
    assert np.intersect1d(train, test).size == 0
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(len(labels)))


def test_same_seed_same_split_other_seed_other_split() -> None:
    first, again, other = _build(seed=4), _build(seed=4), _build(seed=5)
    for a, b in zip(first.tasks, again.tasks, strict=True):
        assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_y, b.test_y)
        assert torch.equal(a.test_x, b.test_x) and torch.equal(a.train_y, b.train_y)
    assert not torch.equal(first.tasks[0].test_x, other.tasks[0].test_x)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_tensors_are_preloaded_on_cuda() -> None:
    spec = SplitDigitsSpec(name="split_digits")
    benchmark = build_benchmark(spec, 0, "cuda")
    assert all(t.train_x.is_cuda and t.test_y.is_cuda for t in benchmark.tasks)
