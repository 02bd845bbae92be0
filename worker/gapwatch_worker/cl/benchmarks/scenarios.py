"""How tasks share the output space: targets, output units and the task-incremental mask.

The three scenarios of van de Ven & Tolias (2019), for tasks given by their dataset class ids:

- class_incremental: one head over every class. A class's target is its index in the order of
  first appearance over all tasks (0..C-1); n_outputs = C.
- task_incremental: multi-head, as heads of one shared last layer. Task k owns the output units
  [off_k, off_k + n_k), off_k being the number of classes of the earlier tasks; its targets are
  off_k + the class's index within the task; n_outputs = sum n_k. Tasks that share their labels
  (permuted MNIST) get a head each all the same.
- domain_incremental: one head shared by all tasks; the target is the class's index within its
  task; n_outputs = max n_k.

In task_incremental, logits outside the row's task's units are replaced by MASK_VALUE before any
loss or argmax. The value is finite so that softmax, log_softmax and KL never produce NaN. The
masking itself (`mask_logits`, MASK_VALUE) lives in `gapwatch.torch.masking`, shared with
`gapwatch.torch.ContinualEvaluator`, and is re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch

from gapwatch.torch.masking import MASK_VALUE, mask_logits, output_units_table

from .base import Benchmark, TaskData

__all__ = [
    "CLASS_INCREMENTAL",
    "DOMAIN_INCREMENTAL",
    "MASK_VALUE",
    "SCENARIOS",
    "TASK_INCREMENTAL",
    "make_benchmark",
    "mask_logits",
    "output_targets",
    "units_table",
]

CLASS_INCREMENTAL = "class_incremental"
TASK_INCREMENTAL = "task_incremental"
DOMAIN_INCREMENTAL = "domain_incremental"
SCENARIOS = (CLASS_INCREMENTAL, TASK_INCREMENTAL, DOMAIN_INCREMENTAL)


def output_targets(
    scenario: str, task_classes: Sequence[tuple[int, ...]]
) -> tuple[list[dict[int, int]], list[tuple[int, int] | None], int]:
    """Maps each task's class ids to targets in the model's output space.

    Args:
        scenario: One of SCENARIOS.
        task_classes: Each task's dataset class ids, in the order that defines local indices.

    Returns:
        Per task {class id: target}; per task its output units (task-incremental) or None; and
        the number of outputs.

    Raises:
        ValueError: For an unknown scenario, or a task listing a class twice.
    """
    for classes in task_classes:
        if len(set(classes)) != len(classes):
            raise ValueError(f"a task lists a class twice: {classes}")
    if scenario == CLASS_INCREMENTAL:
        order: dict[int, int] = {}
        for classes in task_classes:
            for c in classes:
                order.setdefault(c, len(order))
        return (
            [{c: order[c] for c in classes} for classes in task_classes],
            [None] * len(task_classes),
            len(order),
        )
    if scenario == TASK_INCREMENTAL:
        maps, units, offset = [], [], 0
        for classes in task_classes:
            maps.append({c: offset + i for i, c in enumerate(classes)})
            units.append((offset, offset + len(classes)))
            offset += len(classes)
        return maps, units, offset
    if scenario == DOMAIN_INCREMENTAL:
        maps = [{c: i for i, c in enumerate(classes)} for classes in task_classes]
        return maps, [None] * len(task_classes), max(len(c) for c in task_classes)
    raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")


def make_benchmark(
    name: str, scenario: str, tasks: Sequence[TaskData], input_shape: tuple[int, ...]
) -> Benchmark:
    """Builds a Benchmark from tasks whose labels are still dataset class ids.

    The labels are mapped on their device by one table lookup per split; every label of a task
    must be one of its `classes`.
    """
    maps, units, n_outputs = output_targets(scenario, [t.classes for t in tasks])
    mapped = []
    for task, mapping, task_units in zip(tasks, maps, units, strict=True):
        device = task.train_y.device
        table = torch.full((max(task.classes) + 1,), -1, dtype=torch.int64)
        for c, target in mapping.items():
            table[c] = target
        table = table.to(device)
        mapped.append(
            replace(
                task,
                train_y=table[task.train_y],
                test_y=table[task.test_y],
                output_units=task_units,
            )
        )
    return Benchmark(
        name=name,
        scenario=scenario,
        tasks=tuple(mapped),
        input_shape=tuple(input_shape),
        n_outputs=n_outputs,
    )


def units_table(benchmark: Benchmark | Sequence[TaskData]) -> torch.Tensor | None:
    """The (n_tasks, 2) int64 [start, end) output units per task, on the tasks' device.

    None unless every task has output units (task-incremental): then no mask applies.
    """
    tasks = benchmark.tasks if isinstance(benchmark, Benchmark) else tuple(benchmark)
    if not tasks:
        return None
    return output_units_table([t.output_units for t in tasks], tasks[0].train_y.device)
