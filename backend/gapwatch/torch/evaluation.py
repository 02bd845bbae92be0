"""Continual evaluation: every task's fixed test subset, in one forward pass.

The stability gap is a dip that can last a few iterations, so evaluation runs at every iteration
and must cost little: one forward over the concatenated subsets, per-task sums by index
arithmetic on the device, and a single device-to-host copy per evaluation.

The Gapwatch engine and users' own training loops run this same class: the engine builds it
over its tasks' test tensors (`ContinualEvaluator.from_tensors`) and passes the model at each
evaluation; a user binds the model at construction and calls `evaluate` or `maybe_evaluate`.

Plasticity diagnostics (METRICS.md; `gapwatch.torch.diagnostics`): with `diagnostics=True`,
each `evaluate` also computes dormant units, effective and stable rank of every hidden layer on
a probe batch (the first `probe_size` rows of the last evaluated task's subset, captured during
the same forward), and the weights' magnitudes, and logs them to the run as diag/... keys. The
plasticity and gradient norm of an update are measured around it, in a user's own loop::

    evaluator = ContinualEvaluator(model, test_sets, diagnostics=True)
    with evaluator.measure_update(x, y):  # the batch's loss before and after, no grad
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    evaluator.evaluate(step, run=run)  # diag/plasticity and diag/grad_norm of that update too

The gradient norm is read from the parameters' `.grad` when the block ends, so the block must
not clear them after the step.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias

import torch
from torch import nn
from torch.utils.data import Dataset

from .diagnostics import ProbeDiagnostics, batch_loss, gradient_norm, plasticity
from .masking import mask_logits, output_units_table
from .seeding import make_generator

# Rows per forward pass. Above it the forward is chunked to bound activation memory; the digits
# and MNIST-sized subsets of a 10-task run (10 x 1,000 rows) fit in one pass.
MAX_EVAL_ROWS = 65_536

# One task's test set: an (inputs, class-index targets) pair of tensors, or a map-style dataset
# whose items are (input, target) pairs.
EvalSet: TypeAlias = tuple[torch.Tensor, torch.Tensor] | Dataset[Any]


class EvalRun(Protocol):
    """What `ContinualEvaluator.evaluate` logs to: a Gapwatch SDK `Run`, or any such object."""

    def log_eval(
        self,
        accuracies: Mapping[int, float],
        step: int,
        *,
        losses: Mapping[int, float] | None = None,
    ) -> None: ...


class DiagnosticsRun(EvalRun, Protocol):
    """What `evaluate` logs to when the evaluator computes diagnostics: also `log`."""

    def log(self, values: Mapping[str, float], step: int) -> None: ...


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
    """Evaluates a model on fixed, seeded subsets of every task's test set.

    The subsets are drawn once, at construction, and kept for the whole run: re-drawing them at
    every evaluation adds sampling noise that biases every minimum downward (METRICS.md). Only
    the chosen rows are materialised, on `device`; a Dataset is indexed once per chosen row.
    Each evaluation is one no-grad forward over the subsets of tasks 0..n-1 (chunked above
    `max_rows` rows), in eval mode, and one device-to-host copy.

    In a training loop::

        evaluator = ContinualEvaluator(model, [(x0, y0), (x1, y1)], subset_size=1000, every=10)
        step = 0
        for k, loader in enumerate(train_loaders):
            evaluator.task_start(k)  # from now on tasks 0..k are evaluated
            for x, y in loader:
                ...  # one update
                step += 1
                evaluator.maybe_evaluate(step, run=run)  # logs accuracy and loss per task

    Args:
        model: The model to evaluate, for `evaluate` and `maybe_evaluate`; None builds a
            model-free evaluator, to which `scores` and `scores_on_device` pass the model.
        eval_sets: One test set per task, in training order: (x, y) tensor pairs (a tuple or
            list of exactly two tensors; y holds class indices) or map-style datasets (with
            `__len__`, and items (x, y)).
        subset_size: Rows evaluated per task; the whole test set when it is smaller.
        every: `maybe_evaluate(step)` evaluates when step % every == 0.
        seed: Fixes the subsets: task k's is drawn from the stream "eval_subset/k" of this
            seed, as in the Gapwatch engine, so the same seed evaluates the same rows there.
        device: Where the subsets live and the forward runs. Default: the device of the model's
            parameters (or buffers); without either, that of the first tensor pair, else CPU.
        output_units: Task-incremental only: per task, the [start, end) output units of its
            head; each row's logits outside its task's units are masked before the argmax and
            the loss. None (or any task without units) masks nothing.
        max_rows: Most rows per forward pass.
        diagnostics: Also compute the plasticity diagnostics at each `evaluate` (see the
            module docstring) and log them with `run.log`.
        dormant_threshold: tau of the dormant-unit test.
        probe_size: Rows of the last evaluated task's subset the diagnostics look at.

    Attributes:
        model: The bound model, or None.
        every: The `maybe_evaluate` period.
        seen: How many tasks, from task 0, `evaluate` covers by default: 0 until the first
            `task_start`, then one more than the highest task started.
        device: Where the subsets live.
        subsets: For each task, the CPU indices of its evaluated test samples.
        x: All subsets' inputs, concatenated task after task, on `device`.
        y: Their targets (int64).
        task_index: The task of each row of `x`.
        units_table: The (n_tasks, 2) output units table of `output_units`, or None.
        max_rows: Most rows per forward pass.
        last_diagnostics: The diag/... values of the last `evaluate` ({} without diagnostics).

    Raises:
        ValueError: If there is no test set, one is empty, or a count is out of range.
        TypeError: If a test set is neither a tensor pair nor a sized indexable dataset.
    """

    def __init__(
        self,
        model: nn.Module | None,
        eval_sets: Sequence[EvalSet],
        subset_size: int = 1000,
        every: int = 1,
        seed: int = 0,
        device: torch.device | str | None = None,
        *,
        output_units: Sequence[tuple[int, int] | None] | None = None,
        max_rows: int = MAX_EVAL_ROWS,
        diagnostics: bool = False,
        dormant_threshold: float = 0.01,
        probe_size: int = 128,
    ):
        eval_sets = list(eval_sets)
        if not eval_sets:
            raise ValueError("a continual evaluator needs at least one task")
        if subset_size < 1:
            raise ValueError(f"subset_size must be at least 1, got {subset_size}")
        if every < 1:
            raise ValueError(f"every must be at least 1, got {every}")
        if max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {max_rows}")
        if probe_size < 1:
            raise ValueError(f"probe_size must be at least 1, got {probe_size}")
        if not 0.0 <= dormant_threshold <= 1.0:
            raise ValueError(f"dormant_threshold must be in [0, 1], got {dormant_threshold}")
        self.diagnostics = diagnostics
        self.dormant_threshold = dormant_threshold
        self.probe_size = probe_size
        self.last_diagnostics: dict[str, float] = {}
        self._probes: dict[int, ProbeDiagnostics] = {}
        self._measured: tuple[torch.Tensor, torch.Tensor | None] | None = None
        if output_units is not None and len(output_units) != len(eval_sets):
            raise ValueError(
                f"output_units has {len(output_units)} entries for {len(eval_sets)} tasks"
            )
        self.model = model
        self.every = every
        self.seen = 0
        self.max_rows = max_rows
        self.device = _default_device(device, model, eval_sets)
        lengths = [_length(s, k) for k, s in enumerate(eval_sets)]
        self.subsets = [draw_eval_subset(n, subset_size, seed, k) for k, n in enumerate(lengths)]
        rows = [_rows(s, subset) for s, subset in zip(eval_sets, self.subsets, strict=True)]
        self.x = torch.cat([x.to(self.device) for x, _ in rows])
        self.y = torch.cat([y.to(self.device, torch.int64) for _, y in rows])
        self.task_index = torch.cat(
            [
                torch.full((len(s),), k, dtype=torch.int64, device=self.device)
                for k, s in enumerate(self.subsets)
            ]
        )
        sizes = [len(s) for s in self.subsets]
        self._ends = list(itertools.accumulate(sizes))
        self._sizes = torch.tensor(sizes, dtype=torch.float64, device=self.device)
        self.units_table = (
            None if output_units is None else output_units_table(output_units, self.device)
        )

    @classmethod
    def from_tensors(
        cls,
        test_sets: Sequence[tuple[torch.Tensor, torch.Tensor]],
        subset_size: int,
        seed: int,
        *,
        output_units: Sequence[tuple[int, int] | None] | None = None,
        max_rows: int = MAX_EVAL_ROWS,
    ) -> ContinualEvaluator:
        """A model-free evaluator over per-task (x, y) test tensors, on their device.

        The engine's form: the subsets are gathered where the test tensors already are, and
        `scores` or `scores_on_device` is given the model at each evaluation.
        """
        return cls(
            None,
            test_sets,
            subset_size,
            seed=seed,
            output_units=output_units,
            max_rows=max_rows,
        )

    def to(self, device: torch.device | str) -> ContinualEvaluator:
        """Moves the subsets to `device` (where a framework moved the model); returns self."""
        device = torch.device(device)
        if device != self.device:
            self.x, self.y = self.x.to(device), self.y.to(device)
            self.task_index, self._sizes = self.task_index.to(device), self._sizes.to(device)
            if self.units_table is not None:
                self.units_table = self.units_table.to(device)
            self.device = device
        return self

    @property
    def n_tasks(self) -> int:
        """Number of tasks the evaluator knows."""
        return len(self.subsets)

    def task_start(self, task: int) -> None:
        """Marks `task` as started: `evaluate` covers tasks 0..task from now on (or more).

        Raises:
            ValueError: If task is not in [0, n_tasks).
        """
        if not 0 <= task < self.n_tasks:
            raise ValueError(f"task must be in [0, {self.n_tasks}), got {task}")
        self.seen = max(self.seen, task + 1)

    def evaluate(
        self,
        step: int,
        n_tasks: int | None = None,
        run: EvalRun | None = None,
        *,
        model: nn.Module | None = None,
    ) -> dict[int, float]:
        """Evaluates `model` (default: the bound model) on tasks 0..n_tasks-1 and logs the
        results to `run`.

        With diagnostics on, also computes them on task n_tasks - 1's probe rows (and the
        update measured by `measure_update` since the last evaluation), keeps them in
        `last_diagnostics` and logs them with `run.log(values, step)`.

        Args:
            step: The step the results belong to (only used for logging).
            n_tasks: How many tasks, from task 0; default `seen`.
            run: If given, receives `run.log_eval(accuracies, step, losses=losses)` (and, with
                diagnostics, `run.log(diag_values, step)`).
            model: The model to evaluate instead of the bound one (a framework's module).

        Returns:
            {task: accuracy in [0, 1]}, tasks 0..n_tasks-1.

        Raises:
            ValueError: If no model is bound or given, no task was started and n_tasks is not
                given, or n_tasks is not in [1, self.n_tasks].
        """
        model = model if model is not None else self.model
        if model is None:
            raise ValueError(
                "this evaluator has no model: construct it with one, or pass evaluate(model=)"
            )
        if n_tasks is None:
            if self.seen == 0:
                raise ValueError("no task started yet: call task_start(k) or pass n_tasks")
            n_tasks = self.seen
        if not self.diagnostics:
            means = self.scores_on_device(model, n_tasks).cpu().tolist()  # the one host copy
        else:
            if run is not None and not callable(getattr(run, "log", None)):
                raise TypeError("with diagnostics, run needs a log(values, step) method")
            scores, keys, values = self._scores_and_diagnostics(model, n_tasks)
            host = scores.flatten() if values is None else torch.cat([scores.flatten(), values])
            flat = host.cpu().tolist()  # the one host copy
            means = [flat[2 * k : 2 * k + 2] for k in range(n_tasks)]
            self.last_diagnostics = dict(zip(keys, flat[2 * n_tasks :], strict=True))
            if run is not None and self.last_diagnostics:
                run.log(self.last_diagnostics, step)  # type: ignore[attr-defined]
        accuracies = {k: accuracy for k, (accuracy, _) in enumerate(means)}
        if run is not None:
            losses = {k: loss for k, (_, loss) in enumerate(means)}
            run.log_eval(accuracies, step, losses=losses)
        return accuracies

    def _scores_and_diagnostics(
        self, model: nn.Module, n_tasks: int
    ) -> tuple[torch.Tensor, list[str], torch.Tensor | None]:
        if not 1 <= n_tasks <= self.n_tasks:
            raise ValueError(f"n_tasks must be in [1, {self.n_tasks}], got {n_tasks}")
        probe = self._probes.get(id(model))
        if probe is None or probe.model is not model:
            probe = self._probes[id(model)] = ProbeDiagnostics(model, self.dormant_threshold)
        task = n_tasks - 1
        start = self._ends[task - 1] if task else 0
        stop = min(start + self.probe_size, self._ends[task])
        with probe.capture(start, stop):
            scores = self.scores_on_device(model, n_tasks)
        measured, self._measured = self._measured, None
        keys, values = probe.values(
            plasticity=None if measured is None else measured[0],
            grad_norm=None if measured is None else measured[1],
        )
        return scores, keys, None if values is None else values.to(scores.device)

    @contextlib.contextmanager
    def measure_update(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        model: nn.Module | None = None,
        logits_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> Iterator[None]:
        """Measures the update made inside the block: its plasticity (Elsayed & Mahmood 2024),
        clamp(1 - loss_after / loss_before, 0, 1) of the plain cross-entropy on (x, y) (no grad,
        eval mode), and its gradient norm (the parameters' `.grad` when the block ends). The
        next `evaluate` with diagnostics reports them as diag/plasticity and diag/grad_norm.

        Args:
            x, y: The update's batch (class-index targets).
            model: The model updated (default: the bound one).
            logits_fn: Maps x to logits instead of the model (e.g. with a task mask).
        """
        model = model if model is not None else self.model
        if model is None:
            raise ValueError("this evaluator has no model: pass measure_update(model=)")
        before = batch_loss(model, x, y, logits_fn)
        yield
        after = batch_loss(model, x, y, logits_fn)
        self._measured = (plasticity(before, after), gradient_norm(model.parameters()))

    def maybe_evaluate(
        self, step: int, n_tasks: int | None = None, run: EvalRun | None = None
    ) -> dict[int, float] | None:
        """`evaluate(step, n_tasks, run)` when step % every == 0, else None (and nothing runs)."""
        if step % self.every != 0:
            return None
        return self.evaluate(step, n_tasks, run)

    def scores(self, model: nn.Module, n_tasks: int) -> TaskScores:
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


def _is_tensor_pair(eval_set: object) -> bool:
    return (
        isinstance(eval_set, tuple | list)
        and len(eval_set) == 2
        and all(isinstance(t, torch.Tensor) for t in eval_set)
    )


def _default_device(
    device: torch.device | str | None, model: nn.Module | None, eval_sets: list[Any]
) -> torch.device:
    if device is not None:
        return torch.device(device)
    if model is not None:
        for tensor in itertools.chain(model.parameters(), model.buffers()):
            return tensor.device
    if _is_tensor_pair(eval_sets[0]):
        return eval_sets[0][0].device
    return torch.device("cpu")


def _length(eval_set: object, task: int) -> int:
    """The number of test samples of one task's set, checked usable."""
    if _is_tensor_pair(eval_set):
        x, y = eval_set  # type: ignore[misc]
        if len(x) != len(y):
            raise ValueError(f"task {task}: {len(x)} inputs but {len(y)} targets")
        n = len(y)
    elif isinstance(eval_set, tuple | list) and len(eval_set) == 2:
        raise TypeError(f"task {task}: an (x, y) pair must hold two tensors")
    elif hasattr(eval_set, "__getitem__") and hasattr(eval_set, "__len__"):
        n = len(eval_set)
    else:
        raise TypeError(
            f"task {task}: expected an (x, y) pair of tensors or a sized Dataset, "
            f"got {type(eval_set).__name__}"
        )
    if n == 0:
        raise ValueError(f"task {task}: the test set is empty")
    return n


def _rows(eval_set: Any, subset: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The subset's inputs and targets, gathered where the set lives (a Dataset: on the CPU)."""
    if _is_tensor_pair(eval_set):
        x, y = eval_set
        return x[subset.to(x.device)], y[subset.to(y.device)]
    inputs, targets = [], []
    for i in subset.tolist():
        item_x, item_y = eval_set[i]
        inputs.append(torch.as_tensor(item_x))
        targets.append(int(item_y))
    return torch.stack(inputs), torch.tensor(targets, dtype=torch.int64)
