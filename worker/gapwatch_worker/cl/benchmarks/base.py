"""What every benchmark builds: tasks whose tensors already sit on the run's device."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from gapwatch.torch.evaluation import MAX_EVAL_ROWS, ContinualEvaluator


@dataclass(frozen=True)
class TaskData:
    """One task's data, preloaded once on the run's device.

    Attributes:
        classes: The dataset's class ids in this task (for events and display).
        train_x: Training inputs, shape (n_train, *input_shape), float32.
        train_y: Training targets in the model's output space, already mapped for the scenario
            (see `scenarios.py`), shape (n_train,), int64.
        test_x: Test inputs, shape (n_test, *input_shape), float32.
        test_y: Test targets, mapped like train_y, shape (n_test,), int64.
        output_units: Task-incremental only: the [start, end) output units of this task's head.
    """

    classes: tuple[int, ...]
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    output_units: tuple[int, int] | None = None


@dataclass(frozen=True)
class Benchmark:
    """A continual-learning benchmark: tasks trained in order, in one scenario.

    Attributes:
        name: The spec name that built it.
        scenario: "class_incremental", "task_incremental" or "domain_incremental".
        tasks: The tasks, in training order.
        input_shape: Shape of one input: (C, H, W) for images, (D,) for vectors.
        n_outputs: Logits the model must produce.
    """

    name: str
    scenario: str
    tasks: tuple[TaskData, ...]
    input_shape: tuple[int, ...]
    n_outputs: int

    @property
    def input_dim(self) -> int:
        """Number of input features once flattened."""
        return math.prod(self.input_shape)


def build_evaluator(
    tasks: Sequence[TaskData], subset_size: int, seed: int, *, max_rows: int = MAX_EVAL_ROWS
) -> ContinualEvaluator:
    """The engine's continual evaluator: `gapwatch.torch`'s, over the tasks' test splits.

    Model-free: the subsets stay on the tasks' device, and the loop passes the model to
    `scores_on_device` at each evaluation. Task-incremental tasks' output units mask the logits.
    """
    return ContinualEvaluator.from_tensors(
        [(task.test_x, task.test_y) for task in tasks],
        subset_size,
        seed,
        output_units=[task.output_units for task in tasks],
        max_rows=max_rows,
    )
