"""`GapwatchCallback`: continual evaluation and task boundaries for a PyTorch Lightning loop.

    evaluator = ContinualEvaluator(None, test_sets, subset_size=500)   # gapwatch.torch
    callback = GapwatchCallback(evaluator, project="cl-lab", name="er-lightning")
    for task, datamodule in enumerate(tasks):
        Trainer(max_epochs=1, callbacks=[callback]).fit(module, datamodule)
    callback.finish()

A continual-learning loop in Lightning usually fits once per task, so the callback counts
updates across fits (the run's step is the number of updates so far, as in the engine) and
finishes the run only when told (`finish()`, or `finish_on_fit_end=True`); an exception in a
fit finishes it `failed`. The current task comes from, in order: the `task_of(trainer, module)`
hook, the datamodule's `current_task` attribute, the module's `current_task` attribute; when
it changes, the callback logs `task_end` of the previous task and `task_start` of the new one.
After every `every`-th update it evaluates every task seen so far through the evaluator (one
batched no-grad pass, the engine's code) and logs `eval/acc/task_<j>` and `eval/loss/task_<j>`.

Needs `lightning` (`pip install 'gapwatch[lightning]'`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import lightning.pytorch as pl
import torch

import gapwatch
from gapwatch.client import describe_error
from gapwatch.torch import ContinualEvaluator

TaskOf = Callable[[pl.Trainer, pl.LightningModule], int | None]


class GapwatchCallback(pl.Callback):
    """Logs a Lightning training loop as a Gapwatch run, with continual evaluation.

    Args:
        evaluator: Evaluates the module on every seen task; None logs training only. An
            evaluator built without a model (`ContinualEvaluator(None, ...)`) is given the
            Lightning module at each evaluation.
        run: A run from `gapwatch.init`; None opens one at the first fit with `init_options`.
        every: Evaluate after every `every`-th update.
        log_every: Log `train/loss` after every `log_every`-th update (0: never).
        task_of: Returns the current task id; default: `current_task` of the datamodule,
            then of the module; when neither has one, the loop is one task (task 0).
        finish_on_fit_end: Finish the run when a fit ends (for a loop that fits once).
        init_options: `gapwatch.init` keyword arguments (project, name, config, ...).
    """

    def __init__(
        self,
        evaluator: ContinualEvaluator | None = None,
        *,
        run: gapwatch.Run | None = None,
        every: int = 1,
        log_every: int = 1,
        task_of: TaskOf | None = None,
        finish_on_fit_end: bool = False,
        **init_options: Any,
    ) -> None:
        if every < 1:
            raise ValueError(f"every must be at least 1, got {every}")
        if log_every < 0:
            raise ValueError(f"log_every must be at least 0, got {log_every}")
        self.evaluator = evaluator
        self.run = run
        self.every = every
        self.log_every = log_every
        self.task_of = task_of or _current_task_attribute
        self.finish_on_fit_end = finish_on_fit_end
        self.init_options = init_options
        self.step = 0  # updates so far, over every fit
        self.task: int | None = None

    # --- Lightning hooks ---------------------------------------------------------------------

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.run is None and trainer.is_global_zero:
            self.run = gapwatch.init(**self.init_options)
        if self.evaluator is not None:  # the trainer has put the module on its device
            self.evaluator.to(pl_module.device)

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        task = self.task_of(trainer, pl_module)
        self._enter_task(0 if task is None else int(task))

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if self.run is None or not trainer.is_global_zero:
            return
        self.step += 1
        loss = _loss_of(outputs)
        if self.log_every and loss is not None and self.step % self.log_every == 0:
            self.run.log({"train/loss": loss}, step=self.step)
        if self.evaluator is not None and self.step % self.every == 0:
            self._evaluate(pl_module)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.finish_on_fit_end:
            self.finish()

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        if self.run is not None:
            self.run.finish("failed", error=describe_error(exception))

    # --- the user's side ---------------------------------------------------------------------

    def finish(self) -> None:
        """End the last task and finish the run as succeeded."""
        if self.run is None:
            return
        if self.task is not None:
            self.run.task_end(self.task, step=self.step)
        self.run.finish()

    # --- internals -----------------------------------------------------------------------------

    def _enter_task(self, task: int) -> None:
        if task == self.task or self.run is None:
            return
        if self.task is not None:
            self.run.task_end(self.task, step=self.step)
        self.run.task_start(task, step=self.step)
        self.task = task
        if self.evaluator is not None:
            self.evaluator.task_start(task)

    def _evaluate(self, module: pl.LightningModule) -> None:
        assert self.evaluator is not None and self.run is not None
        bound = self.evaluator.model  # a model-free evaluator is given the module
        model = module if bound is None else bound
        self.evaluator.evaluate(self.step, run=self.run, model=model)


def _current_task_attribute(trainer: pl.Trainer, module: pl.LightningModule) -> int | None:
    for owner in (getattr(trainer, "datamodule", None), module):
        task = getattr(owner, "current_task", None)
        if task is not None:
            return int(task)
    return None


def _loss_of(outputs: Any) -> float | None:
    """The loss of `training_step`'s output: a tensor, or a mapping's "loss"."""
    if isinstance(outputs, Mapping):
        outputs = outputs.get("loss")
    if isinstance(outputs, torch.Tensor) and outputs.numel() == 1:
        return float(outputs.detach())
    return None
