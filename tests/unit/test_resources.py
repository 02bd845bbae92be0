"""Resource caps: estimates of a run spec checked against the engine, and the refusals."""

from __future__ import annotations

import functools
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from gapwatch.config import Settings
from gapwatch.datasets.arrays import array_digest, dataset_path
from gapwatch.resources import (
    DatasetShape,
    NoEstimate,
    ResourceEstimate,
    _benchmark_shape,
    bound_eval_values,
    check_limits,
    count_eval_values,
    estimate,
    format_bytes,
)
from gapwatch.server.specs.presets import validated_presets
from gapwatch.spec import STRATEGY_COMPONENTS, BenchmarkSpec, RunSpec, metric_key_eval_acc
from gapwatch_worker.cl.benchmarks import Benchmark, build_benchmark, cifar, mnist, mnist_domains
from gapwatch_worker.cl.benchmarks.base import build_evaluator
from gapwatch_worker.cl.benchmarks.images import task_classes
from gapwatch_worker.cl.benchmarks.scenarios import output_targets
from gapwatch_worker.cl.loop import run_experiment
from gapwatch_worker.cl.models import build_model
from gapwatch_worker.cl.optim import build_optimizer
from gapwatch_worker.cl.reporting import MemoryReporter
from gapwatch_worker.cl.strategies import BuildContext, build_strategy
from tests.example_plugin import builtins_only_env

DEFAULTS = {
    "max_parameters": Settings.model_fields["max_parameters"].default,
    "max_eval_rows": Settings.model_fields["max_eval_rows"].default,
    "max_memory_bytes": Settings.model_fields["max_memory_bytes"].default,
}
MiB, GiB = 2**20, 2**30


def _spec(
    benchmark: dict[str, Any] | None = None,
    model: dict[str, Any] | None = None,
    strategy: dict[str, Any] | None = None,
    **rest: Any,
) -> RunSpec:
    return RunSpec.model_validate(
        {
            "benchmark": benchmark or {"name": "split_digits"},
            "model": model or {"name": "mlp", "hidden_sizes": [32]},
            "strategy": strategy or {"name": "finetune"},
            "device": "cpu",
            **rest,
        }
    )


@functools.cache
def _built(benchmark_json: str) -> Benchmark:
    """An offline benchmark as the engine builds it, once per benchmark spec."""
    return build_benchmark(_spec(benchmark=json.loads(benchmark_json)).benchmark, 0, "cpu")


def _engine_io(benchmark: BenchmarkSpec) -> tuple[tuple[int, ...], int]:
    """Input shape and output units as the engine defines them, without downloading data."""
    if benchmark.name in ("split_digits", "permuted_digits", "synthetic"):
        built = _built(benchmark.model_dump_json())
        return built.input_shape, built.n_outputs
    if benchmark.name in ("split_mnist", "split_fashion_mnist"):
        shape, classes = mnist.INPUT_SHAPE, task_classes(benchmark.n_tasks, 10)
    elif benchmark.name == "split_cifar10":
        shape, classes = cifar.INPUT_SHAPE, task_classes(benchmark.n_tasks, 10)
    elif benchmark.name == "split_cifar100":
        shape, classes = cifar.INPUT_SHAPE, task_classes(benchmark.n_tasks, 100)
    else:  # permuted and rotated MNIST: the ten digits in every task
        shape, classes = mnist_domains.INPUT_SHAPE, [mnist_domains.CLASSES] * benchmark.n_tasks
    _, _, n_outputs = output_targets(benchmark.scenario, classes)
    return shape, n_outputs


def _engine_parameters(spec: RunSpec) -> int:
    """Trainable parameters of the engine's own model, built on the meta device (no memory)."""
    shape, n_outputs = _engine_io(spec.benchmark)
    with torch.device("meta"):
        model = build_model(spec.model, shape, n_outputs)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _nbytes(*tensors: torch.Tensor) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


# --- Parameters -------------------------------------------------------------------------------


def test_mlp_parameters_by_hand() -> None:
    # split_digits: 64 inputs; 5 tasks of 2 digits.
    assert estimate(_spec()).parameters == 64 * 32 + 32 + 32 * 10 + 10
    two_layers = _spec(model={"name": "mlp", "hidden_sizes": [32, 16]})
    assert estimate(two_layers).parameters == 64 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10
    # Task-incremental: one head per task as slices of one layer, 5 x 2 units in all.
    task_inc = _spec(benchmark={"name": "split_digits", "scenario": "task_incremental"})
    assert estimate(task_inc).parameters == 64 * 32 + 32 + 32 * 10 + 10
    # Domain-incremental: one head of a task's 2 classes.
    domain = _spec(benchmark={"name": "split_digits", "scenario": "domain_incremental"})
    assert estimate(domain).parameters == 64 * 32 + 32 + 32 * 2 + 2
    # Permuted MNIST, task-incremental: 784 inputs, a 10-unit head for each of 3 tasks.
    permuted = _spec(
        benchmark={"name": "permuted_mnist", "n_tasks": 3, "scenario": "task_incremental"},
        model={"name": "mlp", "hidden_sizes": [100]},
    )
    assert estimate(permuted).parameters == 784 * 100 + 100 + 100 * 30 + 30


def test_cnn_parameters_by_hand() -> None:
    # 8x8 digits, channels [4, 8]: pools to 4x4, then 2x2; 8 * 2 * 2 = 32 features.
    spec = _spec(model={"name": "cnn", "channels": [4, 8], "hidden": 16})
    conv = (1 * 4 * 9 + 4) + (4 * 8 * 9 + 8)
    assert estimate(spec).parameters == conv + 32 * 16 + 16 + 16 * 10 + 10


def test_the_issue_s_16_x_16384_mlp_by_hand() -> None:
    spec = _spec(model={"name": "mlp", "hidden_sizes": [16_384] * 16})
    by_hand = (64 * 16_384 + 16_384) + 15 * (16_384**2 + 16_384) + (16_384 * 10 + 10)
    assert by_hand == 4_028_006_410
    assert estimate(spec).parameters == by_hand == _engine_parameters(spec)


MODELS = [
    {"name": "mlp", "hidden_sizes": [32]},
    {"name": "mlp", "hidden_sizes": [400, 400]},
    {"name": "mlp", "hidden_sizes": [7, 1, 300, 5]},
    {"name": "cnn"},
    {"name": "cnn", "channels": [3, 5, 7, 9, 11, 13], "hidden": 17},
    {"name": "resnet18_reduced"},
    {"name": "resnet18_reduced", "nf": 3},
]
BENCHMARKS = [
    {"name": "split_digits", "n_tasks": 5},
    {"name": "split_digits", "n_tasks": 3},
    {"name": "split_mnist", "n_tasks": 4},
    {"name": "split_fashion_mnist"},
    {"name": "permuted_mnist", "n_tasks": 7},
    {"name": "rotated_mnist", "n_tasks": 3},
    {"name": "split_cifar10", "n_tasks": 2},
    {"name": "split_cifar100", "n_tasks": 20},
    {"name": "synthetic", "n_tasks": 3, "classes_per_task": 4, "dim": 12, "train_per_class": 3},
    {"name": "permuted_digits", "n_tasks": 4},
    {"name": "permuted_digits", "n_tasks": 3, "permute": "labels"},
]


def _allowed(benchmark: dict[str, Any]) -> list[str]:
    if benchmark["name"] in ("permuted_mnist", "rotated_mnist", "permuted_digits"):
        return ["domain_incremental", "task_incremental"]
    return ["class_incremental", "task_incremental", "domain_incremental"]


def _cases() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every benchmark and scenario once (its input shape and head size are what a model sees),
    and every model on every input shape (its layers are what differ); not the product of the
    two, whose extra cases repeat these."""
    cases, shapes = [], set()
    for benchmark in BENCHMARKS:
        for scenario in _allowed(benchmark):
            cases.append((benchmark | {"scenario": scenario}, MODELS[0]))
        if benchmark["name"] in shapes:
            continue
        shapes.add(benchmark["name"])
        for model in MODELS[1:]:
            if model["name"] == "mlp" or benchmark["name"] != "synthetic":
                cases.append((benchmark | {"scenario": _allowed(benchmark)[0]}, model))
    return cases


CASES = _cases()


@pytest.mark.parametrize(
    ("benchmark", "model"),
    CASES,
    ids=[f"{b['name']}-{b['scenario'][:4]}-{m['name']}-{i}" for i, (b, m) in enumerate(CASES)],
)
def test_parameters_equal_the_engine_s_model(
    benchmark: dict[str, Any], model: dict[str, Any]
) -> None:
    spec = _spec(benchmark=benchmark, model=model)
    assert estimate(spec).parameters == _engine_parameters(spec)


def test_the_paper_s_reduced_resnet_on_cifar10() -> None:
    spec = _spec(benchmark={"name": "split_cifar10"}, model={"name": "resnet18_reduced"})
    assert estimate(spec).parameters == _engine_parameters(spec) == 1_094_750


# --- Evaluation plan --------------------------------------------------------------------------


def test_eval_values_of_a_tiny_plan_by_hand() -> None:
    # 2 tasks of 10, every 5: step 0 (both tasks), 5 (task 0), 10 (both), 15 (both), 20 (both).
    assert count_eval_values([10, 10], 5, include_unseen=False) == (5, 2 + 1 + 2 + 2 + 2)
    assert count_eval_values([10, 10], 5, include_unseen=True) == (5, 10)
    # tests/worker/test_loop.py's plan: 3 tasks of 10, every 7 -> 8 + 7 + 5 points.
    assert count_eval_values([10, 10, 10], 7, include_unseen=False) == (8, 20)


def test_eval_values_of_the_largest_plan_are_exact() -> None:
    spec = _spec(
        benchmark={"name": "permuted_mnist", "n_tasks": 100},
        training={"iterations_per_task": 10_000_000},
    )
    tasks, length = 100, 10_000_000
    # Step 0 and the end: every task; inside task k: k + 1 tasks at L - 1 steps; and at the
    # start of task k >= 1: k + 1 tasks.
    seen = tasks * (tasks + 1) // 2
    by_hand = tasks + seen * (length - 1) + (seen - 1) + tasks
    found = estimate(spec)
    assert found.eval_values == by_hand == 50_500_000_199
    assert found.evaluations == tasks * length + 1
    [problem] = check_limits(spec, **DEFAULTS)
    assert problem.loc == ("body", "evaluation")
    assert problem.setting == "GAPWATCH_MAX_EVAL_ROWS"
    assert (problem.estimate, problem.cap) == (50_500_000_199, 2_000_000_000)
    assert "50,500,000,199 accuracy values" in problem.message
    assert "the cap is 2,000,000,000 (GAPWATCH_MAX_EVAL_ROWS)" in problem.message


@pytest.mark.parametrize(
    ("benchmark", "training", "evaluation"),
    [
        ({"n_tasks": 2}, {"iterations_per_task": 10}, {"every": 5}),
        ({"n_tasks": 3}, {"iterations_per_task": 10}, {"every": 7}),
        ({"n_tasks": 3}, {"iterations_per_task": 9}, {"every": 3, "include_unseen": True}),
        ({"n_tasks": 5}, {"iterations_per_task": 4}, {"every": 1}),
        ({"n_tasks": 5}, {"iterations_per_task": 6}, {"every": 100}),
        # Epochs: task lengths follow each task's train split (uneven classes).
        ({"n_tasks": 4}, {"epochs_per_task": 0.3, "batch_size": 16}, {"every": 4}),
    ],
)
def test_eval_values_equal_what_the_loop_logs(
    benchmark: dict[str, Any], training: dict[str, Any], evaluation: dict[str, Any]
) -> None:
    spec = _spec(
        benchmark={"name": "split_digits", **benchmark},
        model={"name": "mlp", "hidden_sizes": [8]},
        optimizer={"lr": 0.01},
        training={"batch_size": 8, **training},
        evaluation={"subset_size": 8, **evaluation},
    )
    reporter = MemoryReporter()
    outcome = run_experiment(spec, reporter)
    logged = sum(
        len(reporter.steps(metric_key_eval_acc(task)))
        for task in range(spec.benchmark.n_tasks)  # type: ignore[union-attr]
    )
    found = estimate(spec)
    assert found.eval_values == logged
    assert (found.evaluations, found.iterations) == (outcome.evaluations, outcome.iterations)


@pytest.mark.parametrize("n_tasks", [2, 3, 4, 5])
@pytest.mark.parametrize("test_fraction", [0.01, 0.3, 0.5, 0.77, 0.99])
def test_epochs_follow_the_engine_s_split_digits_sizes(n_tasks: int, test_fraction: float) -> None:
    spec = _spec(
        benchmark={"name": "split_digits", "n_tasks": n_tasks, "test_fraction": test_fraction},
        training={"epochs_per_task": 1.0, "batch_size": 1},
    )
    built = build_benchmark(spec.benchmark, spec.seed, "cpu")
    assert estimate(spec).iterations == sum(
        spec.training.updates_per_task(len(t.train_y)) for t in built.tasks
    )


# --- Memory -----------------------------------------------------------------------------------

OFFLINE_BENCHMARKS = [
    {"name": "split_digits"},
    {"name": "split_digits", "n_tasks": 3, "test_fraction": 0.5},
    {"name": "synthetic"},
    {"name": "synthetic", "n_tasks": 3, "classes_per_task": 5, "dim": 7, "train_per_class": 11},
    {"name": "permuted_digits", "n_tasks": 4},
    {"name": "permuted_digits", "n_tasks": 5, "permute": "labels", "scenario": "task_incremental"},
    {"name": "permuted_digits", "n_tasks": 3, "test_fraction": 0.5},
]


def _distinct_nbytes(tensors: list[torch.Tensor]) -> int:
    """Bytes of the distinct storages among `tensors`: tasks that share a tensor (the inputs of
    label-permuted tasks) hold it once."""
    storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}
    return sum(storages.values())


@pytest.mark.parametrize("benchmark", OFFLINE_BENCHMARKS, ids=lambda b: str(b))
def test_data_and_subsets_are_the_engine_s_tensors(benchmark: dict[str, Any]) -> None:
    spec = _spec(benchmark=benchmark, evaluation={"subset_size": 150})
    built = build_benchmark(spec.benchmark, spec.seed, "cpu")
    found = estimate(spec)
    assert found.part("benchmark data") == _distinct_nbytes(
        [x for t in built.tasks for x in (t.train_x, t.train_y, t.test_x, t.test_y)]
    )
    evaluator = build_evaluator(built.tasks, spec.evaluation.subset_size, spec.seed)
    assert found.part("evaluation subsets") == _nbytes(
        evaluator.x, evaluator.y, evaluator.task_index, *evaluator.subsets
    )


@pytest.mark.parametrize(
    "strategy",
    [
        {"name": "er", "buffer_size": 300},
        {"name": "er", "buffer_size": 300, "buffer_policy": "class_balanced"},
        {"name": "er_ace", "buffer_size": 50},
        {"name": "der", "buffer_size": 70},
        {"name": "derpp", "buffer_size": 70},
        {"name": "agem", "buffer_size": 90},
        {"name": "er", "buffer_size": 300, "buffer_policy": "task_end"},
        {"name": "gem", "memories_per_task": 40},
    ],
    ids=lambda s: f"{s['name']}-{s.get('buffer_policy', '')}",
)
def test_replay_memory_is_the_engine_s_buffer(strategy: dict[str, Any]) -> None:
    spec = _spec(
        benchmark={"name": "split_digits", "scenario": "task_incremental"}, strategy=strategy
    )
    built = build_benchmark(spec.benchmark, spec.seed, "cpu")
    model = build_model(spec.model, built.input_shape, built.n_outputs)
    optimizer = build_optimizer(spec.optimizer, model.parameters(), seed=spec.seed)
    engine = build_strategy(
        spec.strategy,
        BuildContext(model, optimizer, spec.training, torch.device("cpu"), 0, built),
    )
    task = built.tasks[0]
    engine.begin_task(0, task)
    engine.observe(task.train_x[:32], task.train_y[:32], 0)
    engine.end_task(0, task)
    if spec.strategy.name == "gem":  # one (input, target) block per task
        held = _nbytes(engine.memory_x, engine.memory_y)  # type: ignore[attr-defined]
    else:
        buffer = engine.memory if hasattr(engine, "memory") else engine.buffer  # type: ignore[attr-defined]
        held = _nbytes(*buffer.items) + _nbytes(getattr(buffer, "keys", torch.empty(0)))
    assert estimate(spec).part("replay memory") == held


def _state_tensors(state: Any) -> list[torch.Tensor]:
    if isinstance(state, torch.Tensor):
        return [state]
    if isinstance(state, dict):
        return [t for value in state.values() for t in _state_tensors(value)]
    if isinstance(state, list | tuple):
        return [t for value in state for t in _state_tensors(value)]
    return []


@pytest.mark.parametrize("strategy", ["ewc", "si", "lwf"])
def test_strategy_state_covers_what_the_engine_keeps(strategy: str) -> None:
    spec = _spec(model={"name": "mlp", "hidden_sizes": [64, 64]}, strategy={"name": strategy})
    built = build_benchmark(spec.benchmark, spec.seed, "cpu")
    model = build_model(spec.model, built.input_shape, built.n_outputs)
    optimizer = build_optimizer(spec.optimizer, model.parameters(), seed=spec.seed)
    engine = build_strategy(
        spec.strategy,
        BuildContext(model, optimizer, spec.training, torch.device("cpu"), 0, built),
    )
    for k in (0, 1):
        engine.begin_task(k, built.tasks[k])
        engine.observe(built.tasks[k].train_x[:32], built.tasks[k].train_y[:32], k)
        engine.end_task(k, built.tasks[k])
    kept = _nbytes(*{id(t): t for t in _state_tensors(engine.state_dict())}.values())
    p_bytes = estimate(spec).parameters * 4
    assert kept >= p_bytes  # EWC: Fisher and anchor; SI: omega, importance, anchor; LwF: model
    counted = estimate(spec).part("strategy state")
    assert kept <= counted
    if strategy == "ewc":
        # Its parameter copies, plus the chunk of per-sample gradients and their squares
        # (2 x 2**25 float32 values) and its Fisher samples.
        assert counted <= 8 * p_bytes + 2**28 + 2**20
    else:  # SI: 8 parameter-sized tensors; LwF: the previous model and its outputs' copy
        assert counted == {"si": 8, "lwf": 2}[strategy] * p_bytes


@pytest.mark.parametrize(
    "strategy",
    [
        {"name": "l2_init"},
        {"name": "shrink_perturb"},
        {"name": "cbp", "replacement_rate": 0.5, "maturity_threshold": 0},
    ],
    ids=lambda s: s["name"],
)
def test_plasticity_strategies_state_is_counted(strategy: dict[str, Any]) -> None:
    spec = _spec(model={"name": "mlp", "hidden_sizes": [64, 64]}, strategy=strategy)
    built = build_benchmark(spec.benchmark, spec.seed, "cpu")
    model = build_model(spec.model, built.input_shape, built.n_outputs)
    optimizer = build_optimizer(spec.optimizer, model.parameters(), seed=spec.seed)
    engine = build_strategy(
        spec.strategy,
        BuildContext(model, optimizer, spec.training, torch.device("cpu"), 0, built),
    )
    for k in (0, 1):
        engine.begin_task(k, built.tasks[k])
        for _ in range(3):  # CBP replaces units from its first updates on
            engine.observe(built.tasks[k].train_x[:32], built.tasks[k].train_y[:32], k)
        engine.end_task(k, built.tasks[k])
    kept = _nbytes(*{id(t): t for t in _state_tensors(engine.state_dict())}.values())
    found = estimate(spec)
    p_bytes = found.parameters * 4
    assert kept <= found.part("strategy state")
    if strategy["name"] == "l2_init":
        assert kept == p_bytes  # theta_0
        assert found.part("strategy state") == 3 * p_bytes
    else:
        assert found.part("strategy state") > 0  # no longer counted as finetune's nothing


def test_upgd_keeps_a_utility_per_weight_and_its_scratch() -> None:
    model = {"name": "mlp", "hidden_sizes": [400, 400]}
    upgd = estimate(_spec(model=model, optimizer={"name": "upgd"}))
    p_bytes = upgd.parameters * 4
    # Parameters, gradients, the utility trace and five of the step's temporaries.
    assert upgd.part("model and optimizer") == 8 * p_bytes
    spec = _spec(model=model, optimizer={"name": "upgd"})
    built = build_benchmark(spec.benchmark, spec.seed, "cpu")
    engine_model = build_model(spec.model, built.input_shape, built.n_outputs)
    optimizer = build_optimizer(spec.optimizer, engine_model.parameters(), seed=spec.seed)
    x, y = built.tasks[0].train_x[:8], built.tasks[0].train_y[:8]
    torch.nn.functional.cross_entropy(engine_model(x), y).backward()
    optimizer.step()
    state = _nbytes(*_state_tensors(optimizer.state_dict()["state"]))
    assert p_bytes <= state <= p_bytes + 1024  # the utility trace (and step counts)


def test_optimizer_state_is_counted() -> None:
    model = {"name": "mlp", "hidden_sizes": [400, 400]}
    sgd = estimate(_spec(model=model))
    momentum = estimate(_spec(model=model, optimizer={"name": "sgd", "momentum": 0.9}))
    adam = estimate(_spec(model=model, optimizer={"name": "adam"}))
    p_bytes = sgd.parameters * 4
    assert sgd.part("model and optimizer") == 2 * p_bytes  # parameters and gradients
    assert momentum.part("model and optimizer") == 3 * p_bytes
    assert adam.part("model and optimizer") == 5 * p_bytes  # two moments and a scratch
    assert sgd.memory_bytes < momentum.memory_bytes < adam.memory_bytes


def test_split_digits_mlp_takes_a_few_megabytes() -> None:
    found = estimate(_spec(model={"name": "mlp", "hidden_sizes": [400, 400]}))
    assert 1 * MiB < found.memory_bytes < 20 * MiB
    data = found.part("benchmark data")
    # 1,797 images of 64 float32 pixels and an int64 target (none dropped with 5 tasks).
    assert data == 1797 * (64 * 4 + 8)


def test_memory_grows_with_every_knob() -> None:
    def memory(**changes: Any) -> int:
        parts: dict[str, Any] = {
            "benchmark": {"name": "synthetic"},
            "model": {"name": "mlp", "hidden_sizes": [256]},
            "strategy": {"name": "er", "buffer_size": 500},
            "training": {"batch_size": 32},
            "evaluation": {"subset_size": 200},
        }
        for key, value in changes.items():
            parts[key] = parts[key] | value
        return estimate(_spec(**parts)).memory_bytes

    base = memory()
    assert memory(benchmark={"n_tasks": 6}) > base
    assert memory(benchmark={"dim": 64}) > base
    assert memory(benchmark={"train_per_class": 600}) > base
    assert memory(benchmark={"test_per_class": 300}) > base
    assert memory(model={"hidden_sizes": [512]}) > base
    assert memory(model={"hidden_sizes": [256, 256]}) > base
    assert memory(strategy={"buffer_size": 5000}) > base
    # A replayed batch is at most the buffer: 4096 rows of a 500-row buffer are 500 rows.
    assert memory(strategy={"replay_batch_size": 4096}) == memory(
        strategy={"replay_batch_size": 500}
    )
    big_buffer = memory(strategy={"buffer_size": 5000})
    assert memory(strategy={"buffer_size": 5000, "replay_batch_size": 4096}) > big_buffer
    assert memory(training={"batch_size": 4096}) > base
    assert memory(evaluation={"subset_size": 400}) > base


def test_strategies_cost_what_they_keep() -> None:
    def memory(strategy: dict[str, Any]) -> int:
        model = {"name": "mlp", "hidden_sizes": [400, 400]}
        return estimate(_spec(model=model, strategy=strategy)).memory_bytes

    finetune = memory({"name": "finetune"})
    assert memory({"name": "joint"}) == finetune  # joint draws from the benchmark's tensors
    for name in ("ewc", "si", "lwf", "agem", "er", "er_ace", "der", "derpp"):
        assert memory({"name": name}) > finetune, name
    er, der = (estimate(_spec(strategy={"name": n, "buffer_size": 100})) for n in ("er", "der"))
    # DER's buffer also holds the 10 logits of every row.
    assert der.part("replay memory") - er.part("replay memory") == 100 * 10 * 4


def test_permuted_and_rotated_mnist_copy_mnist_per_transformed_task() -> None:
    images = 70_000 * 784 * 4
    permuted = estimate(_spec(benchmark={"name": "permuted_mnist", "n_tasks": 10}))
    assert permuted.part("benchmark data") == 10 * images + 11 * 70_000 * 8
    # Task 0 keeps the unpermuted tensors: the build adds only MNIST's uint8 arrays.
    assert permuted.part("benchmark build") == 70_000 * 784
    # 0 and 360 degrees keep the unrotated tensors: two copies of MNIST plus the base.
    shared = {"name": "rotated_mnist", "n_tasks": 4, "angles": [0.0, 45.0, 360.0, 90.0]}
    assert estimate(_spec(benchmark=shared)).part("benchmark data") == 3 * images + 5 * 70_000 * 8
    # Every task rotated: the base is only alive while the benchmark is built.
    turned = {"name": "rotated_mnist", "n_tasks": 2, "angles": [10.0, 20.0]}
    found = estimate(_spec(benchmark=turned))
    assert found.part("benchmark data") == 2 * images + 3 * 70_000 * 8
    assert found.part("benchmark build") == 70_000 * 784 + images


def test_permuted_digits_copy_the_inputs_per_permuted_task_only() -> None:
    # 1,797 digits of 64 float32 pixels; every task keeps its own int64 targets.
    inputs, targets = 1797 * 64 * 4, 1797 * 8
    permuted = estimate(_spec(benchmark={"name": "permuted_digits", "n_tasks": 10}))
    assert permuted.part("benchmark data") == 10 * inputs + 10 * targets
    relabelled = {"name": "permuted_digits", "n_tasks": 10, "permute": "labels"}
    assert estimate(_spec(benchmark=relabelled)).part("benchmark data") == inputs + 10 * targets
    # Every task holds every sample: 1,258 to train on (30% of each class held out).
    assert permuted.iterations == 10 * 500  # 500 iterations per task by default
    online = estimate(
        _spec(benchmark={"name": "permuted_digits", "n_tasks": 10}, training={"online": True})
    )
    assert online.iterations == 10 * math.ceil(1258 / 32)


@pytest.mark.parametrize(
    "benchmark",
    [
        {"name": "permuted_digits", "n_tasks": 1000},
        {"name": "permuted_digits", "n_tasks": 1000, "permute": "labels"},
        {"name": "synthetic", "n_tasks": 1000},
    ],
    ids=["inputs", "labels", "synthetic"],
)
def test_a_thousand_task_online_run_fits_the_default_caps(benchmark: dict[str, Any]) -> None:
    # The long-horizon bound: one pass per task, evaluated at every task's end or so.
    spec = _spec(
        benchmark=benchmark,
        model={"name": "mlp", "hidden_sizes": [100, 100]},
        training={"online": True},
        evaluation={"every": 40},
    )
    assert check_limits(spec, **DEFAULTS) == []
    assert estimate(spec).memory_bytes < 1 * GiB


# --- Refusals ---------------------------------------------------------------------------------


def test_the_issue_s_mlp_is_refused_for_its_parameters() -> None:
    spec = RunSpec.model_validate(
        {
            "benchmark": {"name": "split_digits"},
            "model": {"name": "mlp", "hidden_sizes": [16384] * 16},
            "strategy": {"name": "finetune"},
        }
    )
    problems = check_limits(spec, **DEFAULTS)
    assert problems[0].loc == ("body", "model")
    assert problems[0].message == (
        "the model has an estimated 4,028,006,410 parameters; "
        "the cap is 200,000,000 (GAPWATCH_MAX_PARAMETERS)"
    )
    assert (problems[0].estimate, problems[0].cap) == (4_028_006_410, 200_000_000)
    assert problems[0].setting == "GAPWATCH_MAX_PARAMETERS"


# The issue's synthetic benchmark of about 4 billion values, with the options at their maxima
# (dim 4096, 20 classes per task) and the fewest tasks: 2 x 20 x (25,000 + 200) x 4096.
FOUR_BILLION = {
    "name": "synthetic",
    "n_tasks": 2,
    "classes_per_task": 20,
    "dim": 4096,
    "train_per_class": 25_000,
}


def test_the_issue_s_four_billion_value_synthetic_benchmark_is_refused() -> None:
    spec = _spec(benchmark=FOUR_BILLION)
    values = 2 * 20 * (25_000 + 200) * 4096
    assert 4.0e9 < values < 4.2e9
    found = estimate(spec)
    assert found.part("benchmark data") == 2 * 20 * (25_000 + 200) * (4096 * 4 + 8)
    # Each task's 500,000 x 4096 train split is drawn in float64, four copies at once.
    assert found.part("benchmark build") >= 4 * 8 * 500_000 * 4096
    assert found.memory_bytes > 64 * GiB
    [problem] = check_limits(spec, **DEFAULTS)
    assert problem.loc == ("body", "benchmark")
    assert problem.setting == "GAPWATCH_MAX_MEMORY_BYTES"
    assert problem.estimate == found.memory_bytes and problem.cap == 32 * GiB
    assert problem.message.startswith(f"the run needs an estimated {found.memory_bytes / GiB:.1f}")
    assert "the cap is 32.0 GiB (GAPWATCH_MAX_MEMORY_BYTES)" in problem.message


def test_the_synthetic_benchmark_at_its_bounds_is_refused() -> None:
    spec = _spec(
        benchmark={
            "name": "synthetic",
            "n_tasks": 50,
            "classes_per_task": 20,
            "dim": 4096,
            "train_per_class": 100_000,
            "test_per_class": 100_000,
        }
    )
    found = estimate(spec)
    # 8.2e11 float32 values: about 3 TiB.
    assert found.part("benchmark data") > 50 * 20 * 200_000 * 4096 * 4
    assert [p.setting for p in check_limits(spec, **DEFAULTS)] == ["GAPWATCH_MAX_MEMORY_BYTES"]


def test_a_huge_replay_buffer_is_refused_on_the_strategy() -> None:
    spec = _spec(
        benchmark={"name": "split_cifar100"},
        strategy={"name": "der", "buffer_size": 1_000_000},
    )
    found = estimate(spec)
    # Preallocated for the full capacity: 1e6 x (3072 float32 + target, task, 100 logits).
    assert found.part("replay memory") == 1_000_000 * (3072 * 4 + 16 + 100 * 4)
    [problem] = check_limits(spec, **DEFAULTS | {"max_memory_bytes": 8 * GiB})
    assert problem.loc == ("body", "strategy")
    assert "replay memory, 11.8 GiB" in problem.message


def test_caps_are_strict_upper_bounds() -> None:
    spec = _spec()
    found = estimate(spec)
    exact = {
        "max_parameters": found.parameters,
        "max_eval_rows": found.eval_values,
        "max_memory_bytes": found.memory_bytes,
    }
    assert check_limits(spec, **exact) == []
    for cap in exact:
        [problem] = check_limits(spec, **exact | {cap: exact[cap] - 1})
        assert problem.estimate == exact[cap] and problem.cap == exact[cap] - 1


def test_every_preset_passes_the_default_caps() -> None:
    presets = validated_presets()
    assert len(presets) >= 5
    for preset in presets:
        spec = RunSpec.model_validate(preset.spec)
        assert check_limits(spec, **DEFAULTS) == [], preset.id
        found = estimate(spec)
        assert found.memory_bytes < 4 * GiB, preset.id


def test_estimates_are_cheap_for_every_combination() -> None:
    # Every strategy on every benchmark at its bounds: no error, no huge loop.
    strategies = [c.name for c in STRATEGY_COMPONENTS if c.builtin]
    for benchmark in BENCHMARKS:
        for name in strategies:
            found = estimate(_spec(benchmark=benchmark, strategy={"name": name}))
            assert isinstance(found, ResourceEstimate) and found.memory_bytes > 0


def test_format_bytes() -> None:
    assert format_bytes(32 * GiB) == "32.0 GiB"
    assert format_bytes(5 * MiB + MiB // 2) == "5.5 MiB"
    assert format_bytes(3 * 1024 * GiB) == "3,072.0 GiB"


def test_resources_import_neither_torch_nor_numpy_nor_the_server() -> None:
    code = (
        "import sys, gapwatch.resources; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy') "
        "or m.startswith(('gapwatch.server', 'gapwatch_worker'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=builtins_only_env(),
    )
    assert out.stdout.strip() == "[]"


# --- Custom benchmarks ------------------------------------------------------------------------


def _custom_arrays(sample: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Four classes, uneven: 30 train and 12 test rows of uint8 inputs of shape `sample`."""
    rng = np.random.default_rng(5)
    y_train = np.array([0] * 4 + [1] * 11 + [2] * 9 + [3] * 6, dtype=np.int64)
    y_test = np.array([0, 1, 1, 2, 2, 2, 3, 3, 3, 3, 0, 1], dtype=np.int64)
    return {
        "x_train": rng.integers(0, 256, (30, *sample), dtype=np.uint8),
        "y_train": rng.permutation(y_train),
        "x_test": rng.integers(0, 256, (12, *sample), dtype=np.uint8),
        "y_test": y_test,
    }


def _custom_setup(
    tmp_path: Path, arrays: dict[str, np.ndarray], benchmark: dict[str, Any], **rest: Any
) -> tuple[RunSpec, DatasetShape]:
    """A custom run over `arrays` (stored where the worker reads them) and the shape that the
    API gives its estimate (`gapwatch.server.datasets.service.dataset_shape`)."""
    digest = array_digest(arrays)
    path = dataset_path(tmp_path, digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    spec = _spec(benchmark={"name": "custom", "dataset": 1, "digest": digest, **benchmark}, **rest)
    classes = np.union1d(arrays["y_train"], arrays["y_test"])
    shape = DatasetShape(
        sample_shape=arrays["x_train"].shape[1:],
        classes=tuple(int(c) for c in classes),
        n_train=len(arrays["y_train"]),
        n_test=len(arrays["y_test"]),
        file_bytes=path.stat().st_size,
        itemsize=arrays["x_train"].dtype.itemsize,
    )
    return spec, shape


def _distinct_nbytes(tensors: list[torch.Tensor]) -> int:
    """Bytes of the storages under `tensors`, each counted once (tasks share some)."""
    storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}
    return sum(storages.values())


CLASSES = "classes"
CUSTOM_CASES = [
    ((6, 6), {"split": {"kind": CLASSES, "tasks": [[0, 1], [2, 3]]}}),
    (
        (6, 6),
        {"split": {"kind": CLASSES, "tasks": [[3], [1, 0], [2]]}, "scenario": "task_incremental"},
    ),
    (
        (2, 5, 5),
        {"split": {"kind": CLASSES, "tasks": [[0, 2, 3], [1]]}, "scenario": "domain_incremental"},
    ),
    ((2, 3, 2, 2), {"split": {"kind": CLASSES, "tasks": [[0, 1], [2, 3]]}}),  # flattened
    ((7,), {"split": {"kind": "permutations", "n_tasks": 3}, "scenario": "task_incremental"}),
    ((), {"split": {"kind": "permutations", "n_tasks": 2}, "scenario": "domain_incremental"}),
    (
        (3, 4, 4),
        {
            "split": {"kind": "rotations", "angles": [0.0, 90.0, 360.0]},
            "scenario": "domain_incremental",
        },
    ),
    (
        (5, 5),
        {"split": {"kind": "rotations", "angles": [10.0, 20.0]}, "scenario": "task_incremental"},
    ),
]


@pytest.mark.parametrize(("sample", "benchmark"), CUSTOM_CASES)
def test_a_custom_benchmark_s_estimate_follows_the_engine_s_model_and_tensors(
    tmp_path: Path, sample: tuple[int, ...], benchmark: dict[str, Any]
) -> None:
    spec, shape = _custom_setup(tmp_path, _custom_arrays(sample), benchmark)
    built = build_benchmark(spec.benchmark, spec.seed, "cpu", tmp_path)
    assert shape.input_shape == built.input_shape
    with torch.device("meta"):
        model = build_model(spec.model, built.input_shape, built.n_outputs)
    found = estimate(spec, shape)
    assert found.parameters == sum(p.numel() for p in model.parameters())
    # Every row's class is in a task here: a class split's bound on the data is reached.
    tensors = [t for task in built.tasks for t in (task.train_x, task.train_y)]
    tensors += [t for task in built.tasks for t in (task.test_x, task.test_y)]
    assert found.part("benchmark data") == _distinct_nbytes(tensors)
    bench = _benchmark_shape(spec, shape)
    train, test = [len(t.train_y) for t in built.tasks], [len(t.test_y) for t in built.tasks]
    if benchmark["split"]["kind"] == CLASSES:  # bounds: the row has no per-class counts
        assert all(n <= bound for n, bound in zip(train, bench.train_sizes, strict=True))
        assert all(n <= bound for n, bound in zip(test, bench.test_sizes, strict=True))
        assert bench.total_rows == (sum(train), sum(test))
    else:
        assert (list(bench.train_sizes), list(bench.test_sizes)) == (train, test)
    evaluator = build_evaluator(built.tasks, spec.evaluation.subset_size, spec.seed)
    assert found.part("evaluation subsets") >= _nbytes(
        evaluator.x, evaluator.y, evaluator.task_index, *evaluator.subsets
    )


@pytest.mark.parametrize(
    ("training", "evaluation", "exact"),
    [
        ({"iterations_per_task": 7}, {"every": 2}, True),  # lengths do not depend on sizes
        ({"iterations_per_task": 5}, {"every": 1, "include_unseen": True}, True),
        ({"epochs_per_task": 1.0}, {"every": 1}, False),
        ({"epochs_per_task": 2.5}, {"every": 3, "include_unseen": True}, False),
    ],
)
def test_a_custom_class_split_s_evaluation_plan_bounds_what_the_loop_logs(
    tmp_path: Path, training: dict[str, Any], evaluation: dict[str, Any], exact: bool
) -> None:
    tasks = [[3], [1, 0], [2]]
    spec, shape = _custom_setup(
        tmp_path,
        _custom_arrays((4,)),
        {"split": {"kind": CLASSES, "tasks": tasks}},
        model={"name": "mlp", "hidden_sizes": [8]},
        training={"batch_size": 4, **training},
        evaluation={"subset_size": 4, **evaluation},
    )
    reporter = MemoryReporter()
    outcome = run_experiment(spec, reporter, data_dir=tmp_path)
    logged = sum(len(reporter.steps(metric_key_eval_acc(task))) for task in range(len(tasks)))
    found = estimate(spec, shape)
    if exact:
        assert (found.eval_values, found.evaluations) == (logged, outcome.evaluations)
        assert found.iterations == outcome.iterations
    else:
        assert found.eval_values >= logged and found.evaluations >= outcome.evaluations
        assert found.iterations >= outcome.iterations
        # Within twice the truth here: the tasks' lengths are bounded together.
        assert found.eval_values <= 2 * logged


def test_the_eval_values_bound_covers_every_split_of_the_iterations() -> None:
    rng = np.random.default_rng(0)
    for _ in range(2000):
        n_tasks = int(rng.integers(1, 6))
        lengths = [int(n) for n in rng.integers(1, 30, n_tasks)]
        every = int(rng.integers(1, 8))
        unseen = bool(rng.integers(0, 2))
        bound = bound_eval_values(n_tasks, sum(lengths) + int(rng.integers(0, 3)), every, unseen)
        exact = count_eval_values(lengths, every, unseen)
        assert bound[0] >= exact[0] and bound[1] >= exact[1], (lengths, every, unseen)
    # Exact for one task: no boundary to be generous about.
    for length, every in [(1, 1), (10, 3), (9, 3), (100, 7)]:
        assert bound_eval_values(1, length, every, False) == count_eval_values(
            [length], every, False
        )


def test_the_caps_apply_to_a_custom_benchmark_over_its_dataset(tmp_path: Path) -> None:
    # The issue's four-billion-parameter MLP over 36 pixels and 4 classes.
    spec, shape = _custom_setup(
        tmp_path,
        _custom_arrays((6, 6)),
        {"split": {"kind": CLASSES, "tasks": [[0, 1], [2, 3]]}},
        model={"name": "mlp", "hidden_sizes": [16_384] * 16},
    )
    problems = check_limits(spec, **DEFAULTS, dataset=shape)
    assert [p.setting for p in problems] == ["GAPWATCH_MAX_PARAMETERS"]
    assert problems[0].loc == ("body", "model")
    assert problems[0].estimate == 36 * 16_384 + 16_384 + 15 * (16_384**2 + 16_384) + 16_384 * 4 + 4
    # Without its dataset a custom benchmark has no estimate (as a plugin's).
    assert check_limits(spec, **DEFAULTS) == []
    with pytest.raises(NoEstimate):
        estimate(spec)
