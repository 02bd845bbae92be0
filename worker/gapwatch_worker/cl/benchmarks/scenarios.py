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
loss or argmax. The value is finite so that softmax, log_softmax and KL never produce NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch

from .base import Benchmark, TaskData

CLASS_INCREMENTAL = "class_incremental"
TASK_INCREMENTAL = "task_incremental"
DOMAIN_INCREMENTAL = "domain_incremental"
SCENARIOS = (CLASS_INCREMENTAL, TASK_INCREMENTAL, DOMAIN_INCREMENTAL)
MASK_VALUE = -1e9


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
    if not tasks or any(t.output_units is None for t in tasks):
        return None
    rows = [t.output_units for t in tasks]
    return torch.tensor(rows, dtype=torch.int64, device=tasks[0].train_y.device)


def mask_logits(
    logits: torch.Tensor, task_ids: int | torch.Tensor, units_table: torch.Tensor | None
) -> torch.Tensor:
    """Replaces the logits outside each row's task's output units by MASK_VALUE.

    Args:
        logits: (n, n_outputs).
        task_ids: One task for the whole batch, or an int64 tensor (n,) of per-row tasks.
        units_table: From `units_table`; None returns `logits` unchanged.

    Returns:
        A new tensor (autograd flows through the kept logits); no host synchronisation.
    """
    if units_table is None:
        return logits
    bounds = units_table[task_ids]  # (2,) or (n, 2); indexing on the device, no sync
    columns = torch.arange(logits.shape[-1], device=logits.device)
    if bounds.ndim == 2:
        keep = (columns >= bounds[:, :1]) & (columns < bounds[:, 1:])
    else:
        keep = (columns >= bounds[0]) & (columns < bounds[1])
    fill = max(MASK_VALUE, torch.finfo(logits.dtype).min)  # half precision tops out at -65504
    return logits.masked_fill(~keep, fill)
