"""Every strategy: it is built by name, learns, masks task-incremental heads, resumes exactly."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Literal

import pytest
import torch

from gapwatch.spec import STRATEGY_COMPONENTS, RunSpec, StrategySpecBase, TrainingSpec
from gapwatch_worker.cl.loop import run_experiment
from gapwatch_worker.cl.reporting import MemoryReporter
from gapwatch_worker.cl.strategies import BuildContext, Strategy, build_strategy, strategy_class
from tests.worker.strategy_fixtures import (
    CPU,
    STRATEGY_NAMES,
    assert_resumes_bit_exactly,
    blobs_benchmark,
    last_layer,
    make_strategy,
    strategy_spec,
    tiny_model,
    train,
)

SpecFactory = Callable[..., RunSpec]


def test_every_builtin_strategy_has_test_options_and_an_implementation() -> None:
    builtin = [c for c in STRATEGY_COMPONENTS if c.builtin]
    assert sorted(c.name for c in builtin) == sorted(STRATEGY_NAMES)
    for name in STRATEGY_NAMES:
        assert issubclass(strategy_class(strategy_spec(name)), Strategy)


def test_a_missing_implementation_is_a_clear_error() -> None:
    benchmark = blobs_benchmark()
    model = tiny_model(benchmark)

    class Missing(StrategySpecBase):
        implementation: ClassVar[str] = "gapwatch_no_such_plugin.strategy:Missing"
        name: Literal["missing"]

    context = BuildContext(
        model, torch.optim.SGD(model.parameters(), lr=0.1), TrainingSpec(), CPU, 0, benchmark
    )
    with pytest.raises(ImportError, match="'missing'.*gapwatch_no_such_plugin"):
        build_strategy(Missing(name="missing"), context)


@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_loss_falls_on_each_task(name: str) -> None:
    benchmark = blobs_benchmark(n_tasks=2)
    strategy = make_strategy(strategy_spec(name), benchmark)
    losses = train(strategy, benchmark, [(0, 0, -25), (1, 0, -25)])
    assert all(loss.ndim == 0 and not loss.requires_grad for loss in losses)  # detached tensors
    values = torch.stack(losses).tolist()
    for task in range(2):
        task_losses = values[25 * task : 25 * (task + 1)]
        start, end = sum(task_losses[:5]) / 5, sum(task_losses[-5:]) / 5
        assert end < 0.5 * start, (task, start, end)


@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_task_incremental_updates_leave_other_heads_alone(name: str) -> None:
    benchmark = blobs_benchmark("task_incremental")
    strategy = make_strategy(strategy_spec(name), benchmark)
    train(strategy, benchmark, [(0, 0, -12), (1, 0, 6)])
    head = last_layer(strategy)
    assert head.weight.grad is not None and head.bias.grad is not None
    start, end = benchmark.tasks[2].output_units or (0, 0)
    # Task 2 was never trained: nothing may have pushed its head, in any strategy.
    assert torch.count_nonzero(head.weight.grad[start:end]) == 0
    assert torch.count_nonzero(head.bias.grad[start:end]) == 0
    assert torch.count_nonzero(head.weight.grad[: benchmark.tasks[1].output_units[1]]) > 0  # type: ignore[index]


def test_task_incremental_finetune_only_moves_the_current_head() -> None:
    benchmark = blobs_benchmark("task_incremental")
    strategy = make_strategy(strategy_spec("finetune"), benchmark)
    train(strategy, benchmark, [(0, 0, -5), (1, 0, 1)])
    grad = last_layer(strategy).bias.grad
    assert grad is not None
    assert grad[:2].eq(0).all() and grad[4:].eq(0).all() and grad[2:4].ne(0).all()


@pytest.mark.parametrize("scenario", ["class_incremental", "task_incremental"])
@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_restored_state_continues_with_identical_losses(name: str, scenario: str) -> None:
    benchmark = blobs_benchmark(scenario)
    spec = strategy_spec(name)
    assert_resumes_bit_exactly(
        lambda model_seed: make_strategy(spec, benchmark, momentum=0.9, model_seed=model_seed),
        benchmark,
    )


@pytest.mark.parametrize("scenario", ["task_incremental", "domain_incremental"])
@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_each_strategy_runs_in_the_loop(make_spec: SpecFactory, name: str, scenario: str) -> None:
    options = strategy_spec(name).model_dump()
    spec = make_spec(
        benchmark={"n_tasks": 2, "scenario": scenario},
        strategy=options,
        training={"iterations_per_task": 6},
        evaluation={"every": 3, "subset_size": 20},
    )
    reporter = MemoryReporter()
    outcome = run_experiment(spec, reporter)
    assert outcome.iterations == 12 and not outcome.stopped
    losses = reporter.values("train/loss")
    assert len(losses) == 12 and all(0 < v < 100 for v in losses)
