"""What every benchmark builds: tasks whose tensors already sit on the run's device."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class TaskData:
    """One task's data, preloaded once on the run's device.

    Attributes:
        classes: The global labels of this task's classes.
        train_x: Training inputs, shape (n_train, *input_shape), float32.
        train_y: Training labels (global class ids), shape (n_train,), int64.
        test_x: Test inputs, shape (n_test, *input_shape), float32.
        test_y: Test labels (global class ids), shape (n_test,), int64.
    """

    classes: tuple[int, ...]
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor


@dataclass(frozen=True)
class Benchmark:
    """A continual-learning benchmark: tasks trained in order.

    Attributes:
        name: The spec name that built it.
        tasks: The tasks, in training order.
        input_dim: Number of input features (flattened).
        n_classes: Size of the single output head shared by all tasks (class-incremental).
    """

    name: str
    tasks: tuple[TaskData, ...]
    input_dim: int
    n_classes: int
