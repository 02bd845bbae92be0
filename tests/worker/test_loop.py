"""The training loop: evaluation schedule, events, determinism, forgetting, stopping."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from gapwatch.components import DIAG_GRAD_NORM, DIAG_PLASTICITY
from gapwatch.spec import (
    EVENT_TASK_END,
    EVENT_TASK_START,
    ITER_PER_S_KEY,
    TRAIN_LOSS_KEY,
    TRAIN_LR_KEY,
    RunSpec,
    SplitDigitsSpec,
    TrainingSpec,
    metric_key_eval_acc,
    metric_key_eval_loss,
)
from gapwatch_worker.cl.batches import TaskBatchSampler
from gapwatch_worker.cl.benchmarks import TaskData, build_benchmark
from gapwatch_worker.cl.cost import is_measured_cost_key
from gapwatch_worker.cl.loop import (
    STOP_CHECK_EVERY,
    RunOutcome,
    resolve_device,
    run_experiment,
)
from gapwatch_worker.cl.reporting import Event, MemoryReporter

SpecFactory = Callable[..., RunSpec]  # the make_spec fixture of conftest.py


def _run(spec: RunSpec, **kwargs: object) -> tuple[MemoryReporter, RunOutcome]:
    reporter = MemoryReporter()
    outcome = run_experiment(spec, reporter, **kwargs)  # type: ignore[arg-type]
    return reporter, outcome


def test_evaluates_at_zero_every_multiple_and_every_boundary(make_spec: SpecFactory) -> None:
    spec = make_spec(
        benchmark={"n_tasks": 3},
        training={"iterations_per_task": 10},
        evaluation={"every": 7},
    )
    reporter, outcome = _run(spec)

    # {0, 7, 14, 21, 28} and the boundaries {10, 20, 30}, each once; task j from its start on,
    # plus step 0 for every task (the untrained model's accuracy, FWT's baseline).
    assert reporter.steps(metric_key_eval_acc(0)) == [0, 7, 10, 14, 20, 21, 28, 30]
    assert reporter.steps(metric_key_eval_acc(1)) == [0, 10, 14, 20, 21, 28, 30]
    assert reporter.steps(metric_key_eval_acc(2)) == [0, 20, 21, 28, 30]
    assert reporter.steps(metric_key_eval_loss(2)) == [0, 20, 21, 28, 30]
    assert metric_key_eval_acc(3) not in reporter.series
    assert (outcome.iterations, outcome.evaluations, outcome.stopped) == (30, 8, False)
    # The loss of the update from i to i + 1 updates is reported at step i + 1.
    assert reporter.steps(TRAIN_LOSS_KEY) == list(range(1, 31))
    assert reporter.values(TRAIN_LR_KEY) == [0.1] * 30
    assert all(math.isfinite(v) and v > 0 for v in reporter.values(TRAIN_LOSS_KEY))
    assert all(0.0 <= v <= 1.0 for v in reporter.values(metric_key_eval_acc(0)))
    assert reporter.progress == (30, 30)
    assert reporter.events == [
        Event(
            0,
            EVENT_TASK_START,
            {"task": 0, "classes": [0, 1, 2], "iterations": 10, "eval_samples": 50},
        ),
        Event(10, EVENT_TASK_END, {"task": 0}),
        Event(
            10,
            EVENT_TASK_START,
            {"task": 1, "classes": [3, 4, 5], "iterations": 10, "eval_samples": 50},
        ),
        Event(20, EVENT_TASK_END, {"task": 1}),
        Event(
            20,
            EVENT_TASK_START,
            {"task": 2, "classes": [6, 7, 8], "iterations": 10, "eval_samples": 50},
        ),
        Event(30, EVENT_TASK_END, {"task": 2}),
    ]


def test_every_iteration_and_boundaries_on_multiples(make_spec: SpecFactory) -> None:
    every_one, outcome = _run(make_spec(evaluation={"every": 1}))
    assert every_one.steps(metric_key_eval_acc(0)) == list(range(101))
    assert outcome.evaluations == 101
    # Boundaries that are multiples of `every` are evaluated once (MemoryReporter would raise).
    aligned, outcome = _run(make_spec(evaluation={"every": 20}))
    assert aligned.steps(metric_key_eval_acc(0)) == [0, 20, 40, 60, 80, 100]


def test_include_unseen_evaluates_every_task_from_the_start(make_spec: SpecFactory) -> None:
    reporter, _ = _run(make_spec(evaluation={"every": 10, "include_unseen": True}))
    for task in range(5):
        assert reporter.steps(metric_key_eval_acc(task)) == list(range(0, 101, 10))


def test_epochs_set_the_number_of_iterations(make_spec: SpecFactory) -> None:
    reporter, outcome = _run(
        make_spec(training={"iterations_per_task": None, "epochs_per_task": 0.5, "batch_size": 64})
    )
    starts = [e for e in reporter.events if e.kind == EVENT_TASK_START]
    lengths = [e.payload["iterations"] for e in starts]
    assert all(isinstance(n, int) and n >= 1 for n in lengths)
    assert outcome.iterations == sum(lengths)  # type: ignore[arg-type]
    benchmark = build_benchmark(SplitDigitsSpec(name="split_digits"), 0, "cpu")
    assert lengths == [math.ceil(0.5 * len(t.train_y) / 64) for t in benchmark.tasks]


def test_iterations_per_task_rounds_float_noise_away() -> None:
    assert TrainingSpec(epochs_per_task=0.3, batch_size=10).updates_per_task(100) == 3
    assert TrainingSpec(epochs_per_task=1.0, batch_size=32).updates_per_task(100) == 4
    assert TrainingSpec(iterations_per_task=7).updates_per_task(100) == 7


def test_batches_are_full_and_cover_each_epoch_once() -> None:
    y = torch.arange(10)
    task = TaskData(classes=(0,), train_x=y[:, None].float(), train_y=y, test_x=y, test_y=y)
    sampler = TaskBatchSampler(task, 4, torch.Generator().manual_seed(0))
    batches = [sampler.next_batch()[1].tolist() for _ in range(5)]
    assert all(len(b) == 4 for b in batches)
    flat = [i for b in batches for i in b]
    assert sorted(flat[:10]) == list(range(10)) and sorted(flat[10:20]) == list(range(10))
    assert flat[:10] != flat[10:20]  # a new permutation each epoch
    big = TaskBatchSampler(task, 25, torch.Generator().manual_seed(0)).next_batch()
    assert big[1].shape == (25,)


def _comparable(reporter: MemoryReporter) -> dict[str, tuple[list[int], list[float]]]:
    """Every series but the wall-clock and memory measurements, which differ by nature."""
    return {
        k: v
        for k, v in reporter.series.items()
        if k != ITER_PER_S_KEY and not is_measured_cost_key(k)
    }


def test_same_spec_gives_identical_curves(make_spec: SpecFactory) -> None:
    spec = make_spec(strategy={"name": "er", "buffer_size": 30}, evaluation={"every": 3})
    first, _ = _run(spec)
    again, _ = _run(spec)
    other, _ = _run(spec.model_copy(update={"seed": 1}))

    assert _comparable(first) == _comparable(again)
    assert first.events == again.events
    assert _comparable(first) != _comparable(other)


def test_finetune_forgets_and_replay_remembers(make_spec: SpecFactory) -> None:
    overrides = {
        "model": {"hidden_sizes": [64]},
        "training": {"iterations_per_task": 100, "batch_size": 32},
        "evaluation": {"every": 25, "subset_size": 1000},
    }
    finetune, _ = _run(make_spec(**overrides))
    replay, _ = _run(make_spec(strategy={"name": "er", "buffer_size": 200}, **overrides))

    task_0 = metric_key_eval_acc(0)
    assert finetune.value_at(task_0, 0) < 0.5  # an untrained head over ten classes
    assert finetune.value_at(task_0, 100) > 0.9  # learnt at the end of its own task
    assert finetune.values(task_0)[-1] < 0.1  # class-incremental finetuning forgets it
    assert replay.values(task_0)[-1] > finetune.values(task_0)[-1] + 0.4


def test_should_stop_ends_the_run(make_spec: SpecFactory) -> None:
    calls = []

    def should_stop() -> bool:
        calls.append(1)
        return len(calls) == 2

    reporter, outcome = _run(make_spec(), should_stop=should_stop)

    assert outcome.stopped and outcome.iterations == STOP_CHECK_EVERY
    assert reporter.steps(TRAIN_LOSS_KEY)[-1] == STOP_CHECK_EVERY
    assert reporter.progress == (STOP_CHECK_EVERY, 100)
    assert not any(e.kind == EVENT_TASK_END and e.step > STOP_CHECK_EVERY for e in reporter.events)


def test_resolve_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
    with pytest.raises(ValueError):
        resolve_device("cuda:99")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda_like_on_cpu(make_spec: SpecFactory) -> None:
    spec = make_spec(strategy={"name": "er", "buffer_size": 30}, device="cuda")
    on_cuda, outcome = _run(spec)
    on_cpu, _ = _run(spec, device="cpu")
    assert outcome.iterations == 100
    # Same seeds, same init, same batches: the untrained model scores alike on both devices.
    step_0 = on_cpu.value_at(metric_key_eval_loss(0), 0)
    assert on_cuda.value_at(metric_key_eval_loss(0), 0) == pytest.approx(step_0, rel=1e-4)
    assert on_cuda.steps(metric_key_eval_acc(0)) == on_cpu.steps(metric_key_eval_acc(0))


def test_diagnostics_change_no_training_number(make_spec: SpecFactory) -> None:
    overrides = {
        "strategy": {"name": "er", "buffer_size": 30},
        "benchmark": {"n_tasks": 3},
        "model": {"hidden_sizes": [32, 16]},
        "training": {"iterations_per_task": 8},
        "evaluation": {"every": 3, "probe_size": 20},
    }
    plain, _ = _run(make_spec(**overrides))
    overrides["evaluation"] = {"every": 3, "probe_size": 20, "diagnostics": True}
    diagnosed, _ = _run(make_spec(**overrides))

    def learned(reporter: MemoryReporter) -> dict[str, tuple[list[int], list[float]]]:
        # Evaluation FLOPs include the diagnostics' own work; everything else is unchanged.
        return {
            k: v
            for k, v in _comparable(reporter).items()
            if not k.startswith("diag/") and not k.endswith("/eval_flops")
        }

    assert learned(diagnosed) == learned(plain)
    assert not any(k.startswith("diag/") for k in plain.series)
    evaluated = diagnosed.steps(metric_key_eval_acc(0))
    assert evaluated == [0, 3, 6, 8, 9, 12, 15, 16, 18, 21, 24]
    for key in ("diag/dormant", "diag/eff_rank/hidden_1", "diag/w_norm/layer_2"):
        assert diagnosed.steps(key) == evaluated
    assert "diag/eff_rank/hidden_2" not in diagnosed.series  # two hidden layers
    # Plasticity and gradient norm need the update before: none at step 0.
    assert diagnosed.steps("diag/grad_norm") == evaluated[1:]
    assert diagnosed.steps("diag/plasticity") == evaluated[1:]
    assert all(0.0 <= v <= 1.0 for v in diagnosed.values("diag/plasticity"))
    assert all(v > 0 for v in diagnosed.values("diag/grad_norm"))
    assert all(1.0 <= v <= 16.0 for v in diagnosed.values("diag/eff_rank/hidden_1"))


def test_diagnostics_resume_to_the_same_values(make_spec: SpecFactory, tmp_path: Path) -> None:
    from tests.worker.test_checkpoint import assert_resumed_from, crash_then_resume

    spec = make_spec(
        benchmark={"n_tasks": 2},
        training={"iterations_per_task": 8},
        evaluation={"every": 2, "diagnostics": True, "probe_size": 16},
        checkpoint_every=4,  # a checkpoint at an evaluated step: its update's plasticity
    )  # was measured before the checkpoint and is reported after it
    uninterrupted, _, resumed, outcome = crash_then_resume(spec, tmp_path / "run", 7)
    assert outcome.resumed_from == 4
    assert 4 in uninterrupted.steps(DIAG_PLASTICITY) and 4 in uninterrupted.steps(DIAG_GRAD_NORM)
    assert_resumed_from(uninterrupted, resumed, 4)  # diag/ keys included
