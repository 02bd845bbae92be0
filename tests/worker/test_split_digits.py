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
    assert (benchmark.input_dim, benchmark.n_classes) == (64, 10)
    assert [t.classes for t in benchmark.tasks] == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    counts = np.bincount(load_digits().target, minlength=10)
    for task in benchmark.tasks:
        assert task.train_x.dtype == task.test_x.dtype == torch.float32
        assert task.train_y.dtype == task.test_y.dtype == torch.int64
        assert task.train_x.shape == (len(task.train_y), 64)
        assert task.test_x.shape == (len(task.test_y), 64)
        assert task.train_x.device.type == "cpu"
        # Labels are the global digits, only this task's ones.
        assert set(task.train_y.tolist()) == set(task.classes) == set(task.test_y.tolist())
        # Every sample of the task's classes is in exactly one split, ~30% in test per class.
        assert len(task.train_y) + len(task.test_y) == sum(counts[c] for c in task.classes)
        for c in task.classes:
            n_test = int((task.test_y == c).sum())
            assert abs(n_test - 0.3 * counts[c]) <= 1
        for x in (task.train_x, task.test_x):
            assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
        assert float(task.train_x.max()) == 1.0  # scaled by 16, not by the observed max


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
