"""The example plugin's strategy (examples/plugin, installed by tests/example_plugin.py) in the
engine: built by name like a built-in, a cosine head on the model's own weight, learning with
replay, and resuming bit-exactly, on its own and in the run loop."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import TypeAdapter
from torch import nn

from gapwatch.spec import RunSpec, StrategySpec, TrainingSpec
from gapwatch_worker.cl.strategies import BuildContext, ExperienceReplay, build_strategy
from tests.worker.strategy_fixtures import (
    CPU,
    DIM,
    blobs_benchmark,
    checkpoint,
    make_strategy,
    restore,
    tiny_model,
    train,
)
from tests.worker.test_checkpoint import assert_resumed_from, crash_then_resume

SpecFactory = Callable[..., RunSpec]
OPTIONS = {"name": "er_cosine", "buffer_size": 40}


def er_cosine(**options: float) -> Any:
    """The plugin's spec, validated through the run spec's strategy union as the API does."""
    return TypeAdapter(StrategySpec).validate_python({**OPTIONS, **options})


def test_the_output_layer_becomes_a_cosine_head_on_the_same_weight() -> None:
    benchmark = blobs_benchmark()
    model = tiny_model(benchmark)
    weight = model[2].weight
    strategy = make_strategy(er_cosine(scale=10.0), benchmark, model=model)
    assert type(strategy).__name__ == "ERCosine" and isinstance(strategy, ExperienceReplay)

    head = model[2]
    assert type(head).__name__ == "CosineLinear" and head.weight is weight
    # The optimizer was built before the swap: it must still hold (and so update) the weight.
    assert any(p is weight for group in strategy.optimizer.param_groups for p in group["params"])
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight"]

    x = torch.randn(5, DIM, generator=torch.Generator().manual_seed(1))
    features = model[:2](x)
    cosines = torch.stack(
        [nn.functional.cosine_similarity(features, w.expand_as(features)) for w in weight]
    ).T
    torch.testing.assert_close(model(x), 10.0 * cosines)
    before = model(x)
    with torch.no_grad():
        weight[1] *= 7.0  # a longer weight row does not make its class more likely
    torch.testing.assert_close(model(x), before)


def test_a_model_without_a_linear_output_layer_is_refused() -> None:
    benchmark = blobs_benchmark()
    for model, message in (
        (nn.Sequential(nn.Conv1d(1, 1, 1)), "output layer is an nn.Linear"),
        (nn.Sequential(nn.Linear(DIM, benchmark.n_outputs), nn.Linear(6, 3)), "3 outputs"),
    ):
        context = BuildContext(
            model, torch.optim.SGD(model.parameters(), lr=0.1), TrainingSpec(), CPU, 0, benchmark
        )
        with pytest.raises(ValueError, match=message):
            build_strategy(er_cosine(), context)


def test_it_learns_each_task_and_keeps_the_first_through_replay() -> None:
    benchmark = blobs_benchmark(n_tasks=2)
    strategy = make_strategy(er_cosine(), benchmark)
    losses = torch.stack(train(strategy, benchmark, [(0, 0, -25), (1, 0, -25)])).tolist()
    for task in range(2):
        task_losses = losses[25 * task : 25 * (task + 1)]
        assert sum(task_losses[-5:]) < 0.2 * sum(task_losses[:5]), task
    assert len(strategy.buffer) == 40
    first = benchmark.tasks[0]
    with torch.no_grad():
        accuracy = (strategy.model(first.test_x).argmax(1) == first.test_y).float().mean()
    assert accuracy > 0.9  # class-incremental: without replay task 0's classes are lost


@pytest.mark.parametrize("scenario", ["class_incremental", "task_incremental"])
def test_restored_state_continues_with_identical_losses(scenario: str) -> None:
    benchmark = blobs_benchmark(scenario)
    spec = er_cosine()
    original = make_strategy(spec, benchmark, momentum=0.9)
    train(original, benchmark, [(0, 0, -10), (1, 0, 5)])
    saved = checkpoint(original)
    continuation = [(1, 5, -10), (2, 0, -6)]
    expected = torch.stack(train(original, benchmark, continuation))

    resumed = make_strategy(spec, benchmark, momentum=0.9, model_seed=1)  # other initial weights
    restore(resumed, saved)
    resumed.begin_task(1, benchmark.tasks[1])
    actual = torch.stack(train(resumed, benchmark, continuation))
    assert torch.equal(actual, expected), (actual - expected).abs().max()
    for p, q in zip(original.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(p, q)


def test_a_crashed_run_resumes_to_the_curves_of_an_uninterrupted_one(
    make_spec: SpecFactory, tmp_path: Path
) -> None:
    # The loop builds the strategy (which swaps the head) before it loads the checkpoint.
    spec = make_spec(
        strategy={**OPTIONS, "scale": 12.0},
        benchmark={"n_tasks": 3},
        training={"iterations_per_task": 12},
        evaluation={"every": 1},
        checkpoint_every=5,
    )
    uninterrupted, _, resumed, outcome = crash_then_resume(spec, tmp_path / "run", 23)
    assert outcome.resumed_from == 20 and outcome.iterations == 36
    assert_resumed_from(uninterrupted, resumed, 20)
