"""Continual evaluation: exact per-task scores, one forward pass, fixed subsets."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gapwatch.torch import draw_eval_subset
from gapwatch_worker.cl.benchmarks.base import TaskData, build_evaluator


def _task(test_x: list[list[float]], test_y: list[int], classes: tuple[int, ...]) -> TaskData:
    x = torch.tensor(test_x)
    y = torch.tensor(test_y)
    return TaskData(classes=classes, train_x=x, train_y=y, test_x=x, test_y=y)


def _ce(logits: list[float], label: int) -> float:
    return -logits[label] + math.log(sum(math.exp(v) for v in logits))


class CountingLinear(nn.Module):
    """A hand-set linear map (logit c = x . row c) that records its forward calls and mode."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 3, bias=False)
        with torch.no_grad():
            self.linear.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))
        self.calls: list[tuple[int, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append((len(x), self.training))
        return self.linear(x)


@pytest.fixture
def tasks() -> list[TaskData]:
    # Task 0: [2, 0] -> class 0, [0, 2] -> class 1; labels make 1 of 3 correct.
    # Task 1: [0, 3] -> class 1, both correct. Task 2: [0, 0] ties go to class 0 (argmax).
    return [
        _task([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]], [0, 0, 1], (0, 1)),
        _task([[0.0, 3.0], [0.0, 3.0]], [1, 1], (1,)),
        _task([[0.0, 0.0], [2.0, 0.0]], [2, 0], (2,)),
    ]


def test_per_task_accuracy_and_loss_are_exact(tasks: list[TaskData]) -> None:
    model = CountingLinear()
    scores = build_evaluator(tasks, subset_size=100, seed=0).scores(model, 3)

    assert scores.accuracy == pytest.approx([1 / 3, 1.0, 0.5], abs=1e-12)
    expected_loss = [
        (_ce([2, 0, 0], 0) + _ce([0, 2, 0], 0) + _ce([2, 0, 0], 1)) / 3,
        _ce([0, 3, 0], 1),
        (_ce([0, 0, 0], 2) + _ce([2, 0, 0], 0)) / 2,
    ]
    assert scores.loss == pytest.approx(expected_loss, abs=1e-6)


def test_one_forward_pass_over_the_first_tasks_only(tasks: list[TaskData]) -> None:
    model = CountingLinear()
    evaluator = build_evaluator(tasks, subset_size=100, seed=0)

    scores = evaluator.scores(model, 2)

    assert model.calls == [(5, False)]  # 3 + 2 rows of tasks 0 and 1, one call, eval mode
    assert len(scores.accuracy) == len(scores.loss) == 2
    assert model.training  # mode restored
    model.eval()
    evaluator.scores(model, 1)
    assert not model.training


def test_chunked_forward_gives_the_same_scores(tasks: list[TaskData]) -> None:
    model = CountingLinear()
    whole = build_evaluator(tasks, subset_size=100, seed=0).scores(model, 3)
    chunked = build_evaluator(tasks, subset_size=100, seed=0, max_rows=2).scores(model, 3)

    assert model.calls[1:] == [(2, False), (2, False), (2, False), (1, False)]
    assert chunked.accuracy == whole.accuracy
    assert chunked.loss == pytest.approx(whole.loss, abs=1e-12)


def test_rejects_a_task_count_out_of_range(tasks: list[TaskData]) -> None:
    evaluator = build_evaluator(tasks, subset_size=100, seed=0)
    with pytest.raises(ValueError):
        evaluator.scores(CountingLinear(), 0)
    with pytest.raises(ValueError):
        evaluator.scores(CountingLinear(), 4)


def _numbered_task(n_test: int) -> TaskData:
    y = torch.arange(n_test)
    x = y[:, None].float()
    return TaskData(classes=(0,), train_x=x, train_y=y, test_x=x, test_y=y)


def test_subsets_are_fixed_seeded_and_within_the_test_split() -> None:
    tasks = [_numbered_task(300), _numbered_task(40)]
    first = build_evaluator(tasks, subset_size=100, seed=7)
    again = build_evaluator(tasks, subset_size=100, seed=7)
    other = build_evaluator(tasks, subset_size=100, seed=8)

    assert [len(s) for s in first.subsets] == [100, 40]  # min(subset_size, n_test)
    assert len(set(first.subsets[0].tolist())) == 100
    assert 0 <= int(first.subsets[0].min()) and int(first.subsets[0].max()) < 300
    assert all(torch.equal(a, b) for a, b in zip(first.subsets, again.subsets, strict=True))
    assert not torch.equal(first.subsets[0], other.subsets[0])
    # The evaluated rows are exactly the chosen test samples, and stay so across evaluations.
    assert first.x[:100, 0].long().tolist() == first.subsets[0].tolist()
    model = nn.Linear(1, 300)
    assert first.scores(model, 2) == first.scores(model, 2)
    assert first.x[:100, 0].long().tolist() == first.subsets[0].tolist()


def test_a_tasks_subset_does_not_depend_on_other_tasks() -> None:
    assert torch.equal(draw_eval_subset(300, 50, seed=3, task=1), draw_eval_subset(300, 50, 3, 1))
    alone = build_evaluator([_numbered_task(10), _numbered_task(300)], 50, seed=3)
    bigger = build_evaluator([_numbered_task(500), _numbered_task(300)], 50, seed=3)
    assert torch.equal(alone.subsets[1], bigger.subsets[1])


class FixedLogits(nn.Module):
    """Returns, for input row [i], the i-th row of a hand-made logit table."""

    def __init__(self, table: list[list[float]]) -> None:
        super().__init__()
        self.table = torch.tensor(table)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.table[x[:, 0].long()]


def _units_task(rows: list[int], targets: list[int], units: tuple[int, int]) -> TaskData:
    x = torch.tensor(rows, dtype=torch.float32)[:, None]
    y = torch.tensor(targets)
    return TaskData(classes=(0, 1), train_x=x, train_y=y, test_x=x, test_y=y, output_units=units)


def test_task_incremental_rows_are_scored_within_their_tasks_units() -> None:
    # Four output units, task 0 owns [0, 2), task 1 owns [2, 4).
    table = [
        [0.0, 1.0, 5.0, 0.0],  # task 0, target 1: unmasked argmax 2 (wrong), masked 1 (right)
        [3.0, 0.0, 0.0, 1.0],  # task 0, target 0: right either way
        [7.0, 0.0, 1.0, 2.0],  # task 1, target 3: unmasked argmax 0 (wrong), masked 3 (right)
        [0.0, 0.0, 1.0, 0.0],  # task 1, target 3: wrong either way
    ]
    tasks = [_units_task([0, 1], [1, 0], (0, 2)), _units_task([2, 3], [3, 3], (2, 4))]
    evaluator = build_evaluator(tasks, subset_size=10, seed=0)
    assert evaluator.units_table is not None
    assert evaluator.units_table.tolist() == [[0, 2], [2, 4]]

    scores = evaluator.scores(FixedLogits(table), 2)

    assert scores.accuracy == [1.0, 0.5]
    expected = [(_ce([0, 1], 1) + _ce([3, 0], 0)) / 2, (_ce([1, 2], 1) + _ce([1, 0], 1)) / 2]
    assert scores.loss == pytest.approx(expected, abs=1e-6)
    # Without output units (class- or domain-incremental) nothing is masked.
    plain = [_task([[0.0], [1.0]], [1, 0], (0, 1)), _task([[2.0], [3.0]], [3, 3], (2, 3))]
    unmasked = build_evaluator(plain, subset_size=10, seed=0)
    assert unmasked.units_table is None
    assert unmasked.scores(FixedLogits(table), 2).accuracy == [0.5, 0.0]


def test_chunked_masking_matches_one_pass() -> None:
    table = [[float((7 * i + j) % 5) for j in range(4)] for i in range(6)]
    tasks = [_units_task([0, 1, 2], [0, 1, 1], (0, 2)), _units_task([3, 4, 5], [2, 3, 2], (2, 4))]
    whole = build_evaluator(tasks, 10, seed=0).scores(FixedLogits(table), 2)
    chunked = build_evaluator(tasks, 10, seed=0, max_rows=4).scores(FixedLogits(table), 2)
    assert chunked.accuracy == whole.accuracy
    assert chunked.loss == pytest.approx(whole.loss, abs=1e-9)
