"""Scenario mapping (targets, output units) and the task-incremental logit mask."""

from __future__ import annotations

import pytest
import torch

from gapwatch_worker.cl.benchmarks.base import TaskData
from gapwatch_worker.cl.benchmarks.scenarios import (
    MASK_VALUE,
    make_benchmark,
    mask_logits,
    output_targets,
    units_table,
)

CLASSES = [(3, 1), (0, 2, 4)]


def test_class_incremental_orders_classes_by_first_appearance() -> None:
    maps, units, n_outputs = output_targets("class_incremental", CLASSES)
    assert maps == [{3: 0, 1: 1}, {0: 2, 2: 3, 4: 4}]
    assert units == [None, None] and n_outputs == 5


def test_task_incremental_gives_each_task_its_own_units() -> None:
    maps, units, n_outputs = output_targets("task_incremental", CLASSES)
    assert maps == [{3: 0, 1: 1}, {0: 2, 2: 3, 4: 4}]
    assert units == [(0, 2), (2, 5)] and n_outputs == 5
    # Tasks that share their labels still get a head each.
    maps, units, n_outputs = output_targets("task_incremental", [(0, 1, 2)] * 3)
    assert maps[2] == {0: 6, 1: 7, 2: 8}
    assert units == [(0, 3), (3, 6), (6, 9)] and n_outputs == 9


def test_domain_incremental_uses_local_indices() -> None:
    maps, units, n_outputs = output_targets("domain_incremental", CLASSES)
    assert maps == [{3: 0, 1: 1}, {0: 0, 2: 1, 4: 2}]
    assert units == [None, None] and n_outputs == 3


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        output_targets("online", CLASSES)
    with pytest.raises(ValueError, match="twice"):
        output_targets("class_incremental", [(1, 1)])


def _raw_tasks() -> list[TaskData]:
    tasks = []
    for classes in CLASSES:
        y = torch.tensor(list(classes) * 2)
        x = torch.arange(len(y), dtype=torch.float32)[:, None]
        tasks.append(TaskData(classes, x, y, x[:3], y[:3]))
    return tasks


@pytest.mark.parametrize(
    ("scenario", "train_y", "n_outputs", "units"),
    [
        ("class_incremental", [[0, 1, 0, 1], [2, 3, 4, 2, 3, 4]], 5, None),
        ("task_incremental", [[0, 1, 0, 1], [2, 3, 4, 2, 3, 4]], 5, [[0, 2], [2, 5]]),
        ("domain_incremental", [[0, 1, 0, 1], [0, 1, 2, 0, 1, 2]], 3, None),
    ],
)
def test_make_benchmark_maps_labels_to_targets(
    scenario: str, train_y: list[list[int]], n_outputs: int, units: list[list[int]] | None
) -> None:
    benchmark = make_benchmark("toy", scenario, _raw_tasks(), (1,))
    assert benchmark.scenario == scenario and benchmark.n_outputs == n_outputs
    assert [t.train_y.tolist() for t in benchmark.tasks] == train_y
    assert [t.test_y.tolist() for t in benchmark.tasks] == [y[:3] for y in train_y]
    assert [t.classes for t in benchmark.tasks] == CLASSES  # dataset ids, for display
    table = units_table(benchmark)
    assert (table.tolist() if table is not None else None) == units
    assert benchmark.input_dim == 1 and benchmark.n_outputs == n_outputs


def test_mask_keeps_only_the_tasks_units() -> None:
    table = torch.tensor([[0, 2], [2, 5]])
    logits = torch.arange(10, dtype=torch.float32).view(2, 5)
    whole_batch = mask_logits(logits, 1, table)
    assert whole_batch.tolist() == [
        [MASK_VALUE, MASK_VALUE, 2, 3, 4],
        [MASK_VALUE, MASK_VALUE, 7, 8, 9],
    ]
    per_row = mask_logits(logits, torch.tensor([0, 1]), table)
    m = MASK_VALUE
    assert per_row.tolist() == [[0, 1, m, m, m], [m, m, 7, 8, 9]]
    assert mask_logits(logits, torch.tensor([0, 1]), None) is logits


def test_masking_changes_the_argmax_and_keeps_losses_finite() -> None:
    table = torch.tensor([[0, 2], [2, 4]])
    # Row 0 (task 0) prefers unit 3 unmasked; within its units [0, 2) unit 1 wins.
    logits = torch.tensor([[0.0, 1.0, 0.5, 9.0], [5.0, 0.0, 1.0, 2.0]], requires_grad=True)
    masked = mask_logits(logits, torch.tensor([0, 1]), table)
    assert logits.argmax(1).tolist() == [3, 0]
    assert masked.argmax(1).tolist() == [1, 3]
    loss = torch.nn.functional.cross_entropy(masked, torch.tensor([1, 3]))
    log_p = torch.log_softmax(masked, 1)
    kl = torch.nn.functional.kl_div(log_p, torch.softmax(masked, 1), reduction="batchmean")
    assert torch.isfinite(loss) and torch.isfinite(log_p).all() and torch.isfinite(kl)
    loss.backward()
    assert logits.grad is not None
    assert logits.grad[0, 2:].eq(0).all() and logits.grad[1, :2].eq(0).all()  # masked: no grad
    # Half precision cannot hold -1e9; the fill is its most negative finite value.
    half = mask_logits(logits.detach().half(), 0, table)
    assert torch.isfinite(half).all() and half[0, 3] == torch.finfo(torch.float16).min
