"""Continual evaluation: every task's fixed test subset, in one forward pass.

The stability gap is a dip that can last a few iterations, so evaluation runs at every iteration
and must cost little: one forward over the concatenated subsets, per-task sums by index
arithmetic on the device, and a single device-to-host copy per evaluation.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .benchmarks.base import TaskData
from .benchmarks.scenarios import mask_logits, units_table
from .seeding import make_generator

# Rows per forward pass. Above it the forward is chunked to bound activation memory; the digits
# and MNIST-sized subsets of a 10-task run (10 x 1,000 rows) fit in one pass.
MAX_EVAL_ROWS = 65_536


@dataclass(frozen=True)
class TaskScores:
    """Per-task results of one evaluation, indexed by task.

    Attributes:
        accuracy: Fraction of each task's evaluation subset classified correctly, in [0, 1].
        loss: Mean cross-entropy over each task's evaluation subset.
    """

    accuracy: list[float]
    loss: list[float]


def draw_eval_subset(n_test: int, subset_size: int, seed: int, task: int) -> torch.Tensor:
    """Chooses, once per run, which test samples of a task are evaluated.

    Args:
        n_test: Size of the task's test split.
        subset_size: Wanted subset size; the whole split is used when it is smaller.
        seed: The run's seed. Each task has its own stream, so one task's subset does not
            depend on the size of another's.
        task: The task index.

    Returns:
        Sorted CPU int64 indices into the task's test split, min(subset_size, n_test) of them.
    """
    generator = make_generator(seed, f"eval_subset/{task}")
    return torch.randperm(n_test, generator=generator)[: min(subset_size, n_test)].sort().values


class ContinualEvaluator:
    """Evaluates a model on the fixed evaluation subsets of the first n tasks.

    The subsets are drawn once, at construction, and kept for the whole run: re-drawing them at
    every evaluation adds sampling noise that biases every minimum downward (METRICS.md).

    Attributes:
        subsets: For each task, the CPU indices of its evaluated test samples.
        x: All subsets' inputs, concatenated task after task, on the tasks' device.
        y: Their targets.
        task_index: The task of each row of `x`.
        units_table: Task-incremental tasks' [start, end) output units, from the tasks'
            `output_units`; each row's logits outside its task's units are masked before the
            argmax and the loss. None (no mask) in the other scenarios.
    """

    def __init__(
        self,
        tasks: Sequence[TaskData],
        subset_size: int,
        seed: int,
        *,
        max_rows: int = MAX_EVAL_ROWS,
    ):
        if not tasks:
            raise ValueError("a continual evaluator needs at least one task")
        device = tasks[0].test_x.device
        self.subsets = [
            draw_eval_subset(len(task.test_y), subset_size, seed, k) for k, task in enumerate(tasks)
        ]
        self.x = torch.cat(
            [task.test_x[s.to(device)] for task, s in zip(tasks, self.subsets, strict=True)]
        )
        self.y = torch.cat(
            [task.test_y[s.to(device)] for task, s in zip(tasks, self.subsets, strict=True)]
        )
        self.task_index = torch.cat(
            [
                torch.full((len(s),), k, dtype=torch.int64, device=device)
                for k, s in enumerate(self.subsets)
            ]
        )
        sizes = [len(s) for s in self.subsets]
        self._ends = list(itertools.accumulate(sizes))
        self._sizes = torch.tensor(sizes, dtype=torch.float64, device=device)
        self.max_rows = max_rows
        self.units_table = units_table(tasks)

    @property
    def n_tasks(self) -> int:
        """Number of tasks the evaluator knows."""
        return len(self.subsets)

    def evaluate(self, model: nn.Module, n_tasks: int) -> TaskScores:
        """Accuracy and mean cross-entropy of `model` on the subsets of tasks 0..n_tasks-1.

        The model is put in eval mode for the pass and then back in the mode it was in.

        Args:
            model: Maps a batch of inputs to `n_outputs` logits.
            n_tasks: How many tasks, from task 0, to evaluate.

        Returns:
            Per-task accuracy and loss as Python floats.

        Raises:
            ValueError: If n_tasks is not in [1, self.n_tasks].
        """
        means = self.scores_on_device(model, n_tasks).cpu()  # the one host copy
        return TaskScores(accuracy=means[:, 0].tolist(), loss=means[:, 1].tolist())

    def scores_on_device(self, model: nn.Module, n_tasks: int) -> torch.Tensor:
        """Per-task (accuracy, mean loss) as an (n_tasks, 2) float64 tensor left on the device.

        The caller copies it to the host, together with whatever else it needs at this step,
        so that an evaluation costs one device-to-host transfer.

        Raises:
            ValueError: If n_tasks is not in [1, self.n_tasks].
        """
        if not 1 <= n_tasks <= self.n_tasks:
            raise ValueError(f"n_tasks must be in [1, {self.n_tasks}], got {n_tasks}")
        rows = self._ends[n_tasks - 1]  # tasks are contiguous: a prefix slice, no gather
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode():
                correct, loss = self._per_row(
                    model, self.x[:rows], self.y[:rows], self.task_index[:rows]
                )
                per_row = torch.stack([correct, loss], dim=1).to(torch.float64)
                totals = torch.zeros((n_tasks, 2), dtype=torch.float64, device=per_row.device)
                totals.index_add_(0, self.task_index[:rows], per_row)
                means = totals / self._sizes[:n_tasks, None]
        finally:
            model.train(was_training)
        return means

    def _per_row(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, task_index: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Correctness (0/1, float32) and cross-entropy of every row, chunked above max_rows."""
        corrects, losses = [], []
        for start in range(0, len(x), self.max_rows):
            rows = slice(start, start + self.max_rows)
            logits = mask_logits(model(x[rows]), task_index[rows], self.units_table)
            labels = y[rows]
            corrects.append((logits.argmax(dim=1) == labels).to(torch.float32))
            losses.append(nn.functional.cross_entropy(logits, labels, reduction="none"))
        if len(corrects) == 1:
            return corrects[0], losses[0]
        return torch.cat(corrects), torch.cat(losses)
