"""The training loop: build everything from a RunSpec, train task after task, evaluate continually.

Step convention: a step is a number of updates done. The evaluation at step i sees the model
after i updates; the training loss (and learning rate) of the update that takes the model from
i to i + 1 updates is reported at step i + 1. Task k is trained on iterations [s_k, e_k).

Evaluations happen at i = 0, whenever i % evaluation.every == 0, and at every task boundary,
never twice at one step. The boundary evaluation at e_k = s_{k+1} is made before task k + 1
begins (before its `begin_task` and its first update). The tasks evaluated at step i are tasks
0..c, where c is the task trained from step i on (the last task at the final step), or all
tasks when evaluation.include_unseen is set. Step 0 always covers every task: the untrained
model's accuracy b_j is the baseline of forward transfer (METRICS.md).

Each evaluation makes one device-to-host copy, which also carries the training losses of the
updates since the previous one and, with evaluation.diagnostics, the plasticity diagnostics.

Diagnostics (METRICS.md "Plasticity diagnostics", `gapwatch.torch.diagnostics`): the probe batch
is the first evaluation.probe_size rows of the current task's evaluation subset (a seeded draw,
fixed all run); its hidden activations are captured by forward hooks during the evaluation's
own no-grad forward, so no extra forward is made. The update that precedes an evaluation (the
one to step i + 1 when i + 1 is evaluated) is measured: the plain cross-entropy of
`strategy.logits` on its batch before and after it (no grad, eval mode: BatchNorm statistics do
not move) gives its plasticity, and its gradient norm is read from the parameters' `.grad` right
after it (before `end_task` can use them). Diagnostics draw no random number and change no
training number: the curves of a run are the same with and without them.

Cost (METRICS.md "Cost of a run", `cost.py`): every run is metered; at each task's end step,
after the boundary evaluation (which the task's cost includes), cost/task/<q> and cost/run/<q>
are reported for every q of COST_QUANTITIES. The counts are checkpointed, so a resumed run's
totals continue.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from gapwatch.spec import (
    EVENT_TASK_END,
    EVENT_TASK_START,
    ITER_PER_S_KEY,
    TRAIN_LOSS_KEY,
    TRAIN_LR_KEY,
    RunSpec,
    metric_key_eval_acc,
    metric_key_eval_loss,
)
from gapwatch.torch.diagnostics import ProbeDiagnostics, batch_loss, gradient_norm, plasticity

from .batches import TaskBatchSampler
from .benchmarks import build_benchmark
from .benchmarks.base import build_evaluator
from .checkpoint import CheckpointStore, restore_rng_states, rng_states, spec_fingerprint
from .cost import CostMeter, NoCost
from .models import build_model
from .optim import build_optimizer
from .reporting import Reporter
from .seeding import derive_seed, make_generator
from .strategies import BuildContext, build_strategy

log = logging.getLogger(__name__)

# should_stop may do I/O (a REST call), so it is asked at most once per this many updates.
STOP_CHECK_EVERY = 50
# Progress and iterations per second are reported at most this often (wall-clock seconds).
PROGRESS_INTERVAL_S = 0.5
# Training losses wait on the device and are copied to the host together, at the latest after
# this many updates: one copy per update would make CUDA wait for every update.
TRAIN_LOSS_FLUSH_EVERY = 1024


@dataclass
class RunOutcome:
    """What a finished or stopped run did.

    Attributes:
        iterations: Updates made.
        evaluations: Continual evaluations made.
        seconds: Wall-clock time of the whole call, building included.
        stopped: True if `should_stop` ended the run early.
        build_seconds: The part of `seconds` spent loading data and building the model.
        resumed_from: The iteration of the checkpoint this call resumed from, if any.
    """

    iterations: int
    evaluations: int
    seconds: float
    stopped: bool
    build_seconds: float = 0.0
    resumed_from: int | None = None


def resolve_device(name: str) -> torch.device:
    """Turns a spec's device name into a usable torch.device.

    Args:
        name: "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N".

    Raises:
        ValueError: If CUDA is asked for and not available, or the CUDA index does not exist.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"unknown device {name!r}") from error
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} asked for, but CUDA is not available on this worker")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(
                f"device {name!r} asked for, but this worker has "
                f"{torch.cuda.device_count()} CUDA device(s)"
            )
    elif device.type != "cpu":
        raise ValueError(f"unsupported device {name!r}; use auto, cpu, cuda or cuda:N")
    return device


def run_experiment(
    spec: RunSpec,
    reporter: Reporter,
    *,
    device: torch.device | str | None = None,
    should_stop: Callable[[], bool] | None = None,
    data_dir: Path | None = None,
    checkpoints: CheckpointStore | None = None,
    measure_cost: bool = True,
) -> RunOutcome:
    """Trains and continually evaluates one run, reporting every point to `reporter`.

    See the module docstring for the step convention and the evaluation schedule. On CPU, the
    same spec gives bit-identical points (sys/iter_per_s, a wall-clock rate, aside).

    Args:
        spec: The run.
        reporter: Receives eval/acc/task_<j>, eval/loss/task_<j>, train/loss, train/lr and
            sys/iter_per_s points, task_start / task_end events and progress.
        device: Overrides spec.device ("auto", "cpu", "cuda", "cuda:N" or a torch.device).
        should_stop: Asked every STOP_CHECK_EVERY updates; True ends the run early.
        data_dir: Datasets are cached in `<data_dir>/datasets`; default $GAPWATCH_DATA_DIR,
            else ./.gapwatch.
        checkpoints: Where to save a checkpoint every spec.checkpoint_every updates and to
            resume from: a run whose store holds a checkpoint of the same spec continues from
            it to the same curves as an uninterrupted run. Before each checkpoint the reporter
            is flushed, so no point before a checkpoint can be lost with the worker.
        measure_cost: Meter the run's cost (cost/... points at each task end). Off only to
            check that metering changes no training number, or to measure its overhead.

    Returns:
        What was done; `stopped` is True if should_stop ended the run.

    Raises:
        ValueError: If the device is not available or a name in the spec is unknown.
        DatasetError: If a dataset is neither cached nor downloadable (a RuntimeError).
    """
    started = time.perf_counter()
    device = resolve_device(str(spec.device if device is None else device))

    # Build. Every random stream has its own seed derived from spec.seed.
    torch.manual_seed(derive_seed(spec.seed, "torch"))  # model init and any torch-global draw
    benchmark = build_benchmark(spec.benchmark, spec.seed, device, data_dir)
    model = build_model(spec.model, benchmark.input_shape, benchmark.n_outputs).to(device)
    optimizer = build_optimizer(spec.optimizer, model.parameters(), seed=spec.seed)
    strategy = build_strategy(
        spec.strategy,
        BuildContext(model, optimizer, spec.training, device, spec.seed, benchmark),
    )
    evaluator = build_evaluator(benchmark.tasks, spec.evaluation.subset_size, spec.seed)
    batch_generator = make_generator(spec.seed, "batches")
    n_tasks = len(benchmark.tasks)
    task_lengths = [spec.training.updates_per_task(len(t.train_y)) for t in benchmark.tasks]
    total_iterations = sum(task_lengths)
    every = spec.evaluation.every
    meter: CostMeter | NoCost = CostMeter(model, device) if measure_cost else NoCost()
    probe = (
        ProbeDiagnostics(model, spec.evaluation.dormant_threshold)
        if spec.evaluation.diagnostics
        else None
    )
    subset_starts = [0]
    for subset in evaluator.subsets:
        subset_starts.append(subset_starts[-1] + len(subset))
    # (step, plasticity, gradient norm) of the last measured update, on the device
    measured: tuple[int, torch.Tensor | None, torch.Tensor | None] | None = None

    iteration = 0  # updates done so far: the step of everything reported now
    evaluations = 0
    first_task = 0
    sampler: TaskBatchSampler | None = None
    resumed_from: int | None = None
    fingerprint = spec_fingerprint(spec)
    saved = checkpoints.load(fingerprint) if checkpoints is not None else None
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        strategy.load_state_dict(saved["strategy"])
        batch_generator.set_state(saved["batch_generator"])
        restore_rng_states(saved["rng"], device)
        meter.load_state_dict(saved.get("cost"))  # an older checkpoint has none: zeros
        # The update that reached the checkpoint's step was measured before it was saved; its
        # evaluation comes after the checkpoint, so its plasticity must travel with it.
        measured = saved.get("measured")
        iteration, evaluations, first_task = saved["iteration"], saved["evaluations"], saved["task"]
        sampler = TaskBatchSampler(
            benchmark.tasks[first_task],
            spec.training.batch_size,
            batch_generator,
            online=spec.training.online,
        )
        sampler.load_state_dict(saved["sampler"])
        resumed_from = iteration
        log.info("resuming from checkpoint at step %d (task %d)", iteration, first_task)
    build_seconds = time.perf_counter() - started
    pending_losses: list[tuple[int, torch.Tensor, float]] = []  # (step, loss on device, lr)
    last_progress = (time.perf_counter(), iteration)

    def evaluate(current_task: int) -> None:
        nonlocal evaluations
        # Step 0 covers every task: the untrained model's accuracy b_j that FWT needs.
        everything = spec.evaluation.include_unseen or iteration == 0
        seen = n_tasks if everything else current_task + 1
        last = measured if measured is not None and measured[0] == iteration else None

        def forward() -> torch.Tensor:
            if probe is None:
                return evaluator.scores_on_device(model, seen)
            start = subset_starts[current_task]
            rows = min(spec.evaluation.probe_size, subset_starts[current_task + 1] - start)
            with probe.capture(start, start + rows):
                return evaluator.scores_on_device(model, seen)

        def diagnostics() -> tuple[list[str], torch.Tensor | None]:
            if probe is None:
                return [], None
            return probe.values(
                plasticity=None if last is None else last[1],
                grad_norm=None if last is None else last[2],
            )

        with meter.evaluating():
            # The forward's FLOPs depend only on the rows: counted once per distinct evaluation
            # (the diagnostics' small rank solves are not counted; see cost.py).
            key = ("eval", seen, None if probe is None else current_task)
            scores = meter.eval_flops(key, forward)
            diag_keys, diag = diagnostics()
            # One device-to-host copy for this evaluation, its diagnostics and the training
            # losses still pending.
            losses = [loss.to(torch.float64) for _, loss, _ in pending_losses]
            parts = [torch.stack(losses)] if losses else []
            parts.append(scores.flatten())
            if diag is not None:
                parts.append(diag.to(scores.device))
            host_values = (torch.cat(parts) if len(parts) > 1 else parts[0]).cpu().tolist()
        report_train_losses(pending_losses, host_values[: len(losses)], reporter)
        means = host_values[len(losses) : len(losses) + 2 * seen]
        values: dict[str, float] = {}
        for j in range(seen):
            values[metric_key_eval_acc(j)] = means[2 * j]
            values[metric_key_eval_loss(j)] = means[2 * j + 1]
        values.update(zip(diag_keys, host_values[len(losses) + 2 * seen :], strict=True))
        reporter.report_scalars(iteration, values)
        meter.sample_host_memory()
        evaluations += 1

    def update_loss(x: torch.Tensor, y: torch.Tensor, task_id: int) -> torch.Tensor:
        """The plain cross-entropy of the batch, no grad, eval mode: plasticity's loss."""

        def loss() -> torch.Tensor:
            return batch_loss(model, x, y, lambda v: strategy.logits(v, task_id))

        with meter.evaluating():
            return meter.eval_flops(("plasticity", tuple(x.shape)), loss)

    def report_progress() -> None:
        nonlocal last_progress
        now = time.perf_counter()
        then, iteration_then = last_progress
        if iteration > iteration_then:
            speed = (iteration - iteration_then) / max(now - then, 1e-9)
            reporter.report_scalars(iteration, {ITER_PER_S_KEY: speed})
        reporter.report_progress(iteration, total_iterations)
        last_progress = (now, iteration)

    def save_checkpoint(task_id: int, sampler: TaskBatchSampler) -> None:
        assert checkpoints is not None
        # Every point up to this step must be delivered before a resume may start after it.
        flush_train_losses(pending_losses, reporter)
        reporter.flush()
        checkpoints.save(
            {
                "spec": fingerprint,
                "iteration": iteration,
                "task": task_id,
                "evaluations": evaluations,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "strategy": strategy.state_dict(),
                "sampler": sampler.state_dict(),
                "batch_generator": batch_generator.get_state(),
                "rng": rng_states(device),
                "cost": meter.state_dict(),
                "measured": measured,
            }
        )

    def finish(stopped: bool) -> RunOutcome:
        flush_train_losses(pending_losses, reporter)
        report_progress()
        seconds = time.perf_counter() - started
        meter.close()
        return RunOutcome(iteration, evaluations, seconds, stopped, build_seconds, resumed_from)

    checkpoint_every = spec.checkpoint_every if checkpoints is not None else None
    task_starts = [sum(task_lengths[:k]) for k in range(n_tasks)]
    model.train()
    reporter.report_progress(iteration, total_iterations)
    for task_id in range(first_task, n_tasks):
        task, length, task_start = (
            benchmark.tasks[task_id],
            task_lengths[task_id],
            task_starts[task_id],
        )
        meter.start_task()
        if sampler is None:  # a fresh task; a resumed one was begun before its checkpoint
            if iteration == 0:
                evaluate(task_id)  # s_0; each boundary e_{k-1} = s_k was evaluated at e_{k-1}
            reporter.report_event(
                iteration,
                EVENT_TASK_START,
                {
                    "task": task_id,
                    "classes": list(task.classes),
                    "iterations": length,
                    # n of the standard errors: the test split may hold fewer than subset_size
                    "eval_samples": len(evaluator.subsets[task_id]),
                },
            )
            meter.task_work(lambda: strategy.begin_task(task_id, task))  # noqa: B023 - called now
            sampler = TaskBatchSampler(
                task, spec.training.batch_size, batch_generator, online=spec.training.online
            )
        while iteration < task_start + length:
            if iteration > task_start and iteration % every == 0:
                evaluate(task_id)
            if should_stop is not None and iteration % STOP_CHECK_EVERY == 0 and should_stop():
                return finish(stopped=True)

            x, y = sampler.next_batch()
            # The update before an evaluation is measured for the diagnostics.
            measuring = probe is not None and (
                (iteration + 1) % every == 0 or iteration + 1 == task_start + length
            )
            loss_before = update_loss(x, y, task_id) if measuring else None
            loss = meter.update(
                lambda: strategy.observe(x, y, task_id),  # noqa: B023 - called now
                len(x),
                lambda: strategy.last_new_rows,
            )
            if loss_before is not None:
                measured = (
                    iteration + 1,
                    plasticity(loss_before, update_loss(x, y, task_id)),
                    gradient_norm(model.parameters()),
                )
            pending_losses.append((iteration + 1, loss, optimizer.param_groups[0]["lr"]))
            iteration += 1

            if len(pending_losses) >= TRAIN_LOSS_FLUSH_EVERY:
                flush_train_losses(pending_losses, reporter)
            if time.perf_counter() - last_progress[0] >= PROGRESS_INTERVAL_S:
                report_progress()
            if checkpoint_every is not None and iteration % checkpoint_every == 0:
                save_checkpoint(task_id, sampler)
        meter.task_work(lambda: strategy.end_task(task_id, task))  # noqa: B023 - called now
        reporter.report_event(iteration, EVENT_TASK_END, {"task": task_id})
        # The boundary e_k = s_{k+1}, before task k + 1 changes anything (e_T after the last).
        evaluate(min(task_id + 1, n_tasks - 1))
        # After the boundary evaluation, which this task's cost includes.
        if cost := meter.end_task(strategy.memory_bytes()):
            reporter.report_scalars(iteration, cost)
        sampler = None
    return finish(stopped=False)


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite: the run cannot produce meaningful curves."""


def flush_train_losses(pending: list[tuple[int, torch.Tensor, float]], reporter: Reporter) -> None:
    """Copies pending training losses to the host in one transfer, reports them, and clears.

    Raises:
        TrainingDiverged: At the first non-finite loss, naming its step.
    """
    if pending:
        report_train_losses(pending, torch.stack([p[1] for p in pending]).cpu().tolist(), reporter)


def report_train_losses(
    pending: list[tuple[int, torch.Tensor, float]], losses: list[float], reporter: Reporter
) -> None:
    """Reports the pending updates' losses, already on the host, and clears the list.

    Raises:
        TrainingDiverged: At the first non-finite loss, naming its step.
    """
    for (step, _, lr), loss in zip(pending, losses, strict=True):
        if not math.isfinite(loss):
            pending.clear()
            raise TrainingDiverged(
                f"training loss is {loss} at step {step}: the run diverged; lower the learning "
                "rate or the strategy's regularisation strength"
            )
        values: Mapping[str, float] = {TRAIN_LOSS_KEY: loss, TRAIN_LR_KEY: lr}
        reporter.report_scalars(step, values)
    pending.clear()
