"""The strategies that regularise: EWC and online EWC, SI, LwF."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gapwatch_worker.cl.benchmarks.base import Benchmark
from gapwatch_worker.cl.strategies import EWC, SI, LwF
from tests.worker.strategy_fixtures import (
    batch,
    blobs_benchmark,
    make_strategy,
    strategy_spec,
    train,
)


def _penalty(strategy: EWC | SI) -> float:
    return float(strategy.penalty().detach())


# --- EWC ----------------------------------------------------------------------------------------


def _ewc(scenario: str = "class_incremental", **options: object) -> tuple[EWC, Benchmark]:
    benchmark = blobs_benchmark(scenario)
    strategy = make_strategy(strategy_spec("ewc", **options), benchmark)
    assert isinstance(strategy, EWC)
    return strategy, benchmark


def _shift_parameters(model: nn.Module, direction: list[torch.Tensor], scale: float) -> None:
    with torch.no_grad():
        for p, d in zip(model.parameters(), direction, strict=True):
            p.add_(scale * d)


@pytest.mark.parametrize("scenario", ["class_incremental", "task_incremental"])
def test_empirical_fisher_is_the_mean_of_per_sample_squared_gradients(scenario: str) -> None:
    strategy, benchmark = _ewc(scenario, fisher_samples=10_000)  # the whole train set
    train(strategy, benchmark, [(0, 0, 5)])
    task = benchmark.tasks[0]
    fisher = strategy.empirical_fisher(0, task)
    expected = {n: torch.zeros_like(p) for n, p in strategy.model.named_parameters()}
    for x, y in zip(task.train_x, task.train_y, strict=True):
        strategy.model.zero_grad()
        logits = strategy.logits(x[None], 0)
        nn.functional.cross_entropy(logits, y[None]).backward()
        for n, p in strategy.model.named_parameters():
            expected[n] += p.grad**2 / len(task.train_y)  # type: ignore[operator]
    for n, f in fisher.items():
        assert torch.allclose(f, expected[n], rtol=1e-4, atol=1e-9), n


def test_ewc_penalty_is_zero_at_the_anchor_and_quadratic_around_it() -> None:
    strategy, benchmark = _ewc()
    assert _penalty(strategy) == 0.0  # nothing consolidated yet
    train(strategy, benchmark, [(0, 0, -10)])
    assert _penalty(strategy) == 0.0
    generator = torch.Generator().manual_seed(0)
    direction = [torch.randn(p.shape, generator=generator) for p in strategy.model.parameters()]
    values = []
    for scale in (1.0, 2.0, 3.0):
        _shift_parameters(strategy.model, direction, scale)
        values.append(_penalty(strategy))
        _shift_parameters(strategy.model, direction, -scale)
    assert values[0] > 0
    assert values[1] == pytest.approx(4 * values[0], rel=1e-4)
    assert values[2] == pytest.approx(9 * values[0], rel=1e-4)


def test_offline_ewc_penalty_is_the_sum_over_tasks() -> None:
    strategy, benchmark = _ewc(ewc_lambda=3.0)
    tasks = benchmark.tasks
    fishers, anchors = [], []
    for k in range(2):
        train(strategy, benchmark, [(k, 0, 10)])
        state = strategy.generator.get_state()
        fishers.append(strategy.empirical_fisher(k, tasks[k]))
        strategy.generator.set_state(state)
        anchors.append({n: p.detach().clone() for n, p in strategy.model.named_parameters()})
        strategy.end_task(k, tasks[k])
    train(strategy, benchmark, [(2, 0, 5)])
    expected = sum(
        (fisher[n] * (p.detach() - anchor[n]) ** 2).sum()
        for fisher, anchor in zip(fishers, anchors, strict=True)
        for n, p in strategy.model.named_parameters()
    )
    assert _penalty(strategy) == pytest.approx(3.0 / 2 * float(expected), rel=1e-4)


@pytest.mark.parametrize("gamma", [1.0, 0.5])
def test_online_ewc_keeps_one_fisher_that_decays_by_gamma(gamma: float) -> None:
    strategy, benchmark = _ewc(online=True, gamma=gamma)
    tasks = benchmark.tasks
    train(strategy, benchmark, [(0, 0, -10)])
    assert strategy.fisher is not None
    first = {n: f.clone() for n, f in strategy.fisher.items()}
    train(strategy, benchmark, [(1, 0, 10)])
    state = strategy.generator.get_state()
    second = strategy.empirical_fisher(1, tasks[1])
    strategy.generator.set_state(state)
    strategy.end_task(1, tasks[1])
    for n, f in strategy.fisher.items():
        assert torch.allclose(f, gamma * first[n] + second[n])
    # The anchor is the latest parameters: the penalty is zero right after the task's end.
    assert _penalty(strategy) == 0.0


# --- SI -----------------------------------------------------------------------------------------


def test_si_path_integral_is_lr_times_squared_gradients_under_plain_sgd() -> None:
    # -g . delta = lr * g^2 for SGD: non-negative, and exactly what omega must accumulate.
    benchmark = blobs_benchmark()
    strategy = make_strategy(strategy_spec("si"), benchmark, lr=0.05)
    assert isinstance(strategy, SI)
    expected = [torch.zeros_like(p) for p in strategy.model.parameters()]
    for step in range(8):
        x, y = batch(benchmark.tasks[0], step)
        strategy.model.zero_grad()
        nn.functional.cross_entropy(strategy.model(x), y).backward()
        grads = [p.grad.clone() for p in strategy.model.parameters()]  # type: ignore[union-attr]
        strategy.observe(x, y, 0)
        for e, g in zip(expected, grads, strict=True):
            e += 0.05 * g * g
    for omega, e in zip(strategy.omega, expected, strict=True):
        assert (omega >= 0).all()
        assert torch.allclose(omega, e, rtol=1e-4, atol=1e-10)


def test_si_importance_and_penalty_at_the_previous_task_parameters() -> None:
    benchmark = blobs_benchmark()
    strategy = make_strategy(strategy_spec("si", si_c=0.5, epsilon=0.1), benchmark)
    assert isinstance(strategy, SI)
    start = [p.detach().clone() for p in strategy.model.parameters()]
    train(strategy, benchmark, [(0, 0, 10)])
    omega = [o.clone() for o in strategy.omega]
    strategy.end_task(0, benchmark.tasks[0])
    for p, s, o, importance in zip(
        strategy.model.parameters(), start, omega, strategy.importance, strict=True
    ):
        assert torch.allclose(importance, o / ((p.detach() - s) ** 2 + 0.1))
    assert all(o.eq(0).all() for o in strategy.omega)  # restarts for the next task
    assert _penalty(strategy) == 0.0  # at the previous task's parameters
    losses = torch.stack(train(strategy, benchmark, [(1, 0, 5)]))
    assert _penalty(strategy) > 0
    assert torch.isfinite(losses).all()


def test_si_path_integral_leaves_out_the_penalty_gradient() -> None:
    benchmark = blobs_benchmark()
    strategy = make_strategy(strategy_spec("si", si_c=0.5), benchmark, lr=0.05)
    assert isinstance(strategy, SI)
    train(strategy, benchmark, [(0, 0, -10), (1, 0, 3)])  # away from the anchor: a penalty
    assert _penalty(strategy) > 0
    omega_before = [o.clone() for o in strategy.omega]
    x, y = batch(benchmark.tasks[1], 3)
    strategy.model.zero_grad()
    nn.functional.cross_entropy(strategy.model(x), y).backward()
    task_grads = [p.grad.clone() for p in strategy.model.parameters()]  # type: ignore[union-attr]
    before = [p.detach().clone() for p in strategy.model.parameters()]
    strategy.observe(x, y, 1)
    for omega, previous, g, b, p in zip(
        strategy.omega, omega_before, task_grads, before, strategy.model.parameters(), strict=True
    ):
        assert torch.allclose(omega - previous, -g * (p.detach() - b), atol=1e-9)


# --- LwF ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["class_incremental", "task_incremental"])
def test_lwf_distillation_is_zero_at_the_task_end_and_grows_after(scenario: str) -> None:
    benchmark = blobs_benchmark(scenario)
    strategy = make_strategy(strategy_spec("lwf", temperature=2.0), benchmark)
    assert isinstance(strategy, LwF)
    x, _ = batch(benchmark.tasks[1], 0)
    assert strategy.old_model is None
    assert float(strategy.distillation(strategy.model(x), strategy.model(x))) == 0.0
    train(strategy, benchmark, [(0, 0, -10)])
    assert strategy.old_model is not None

    def distillation() -> float:
        with torch.no_grad():
            return float(strategy.distillation(strategy.model(x), strategy.old_model(x)))  # type: ignore[misc]

    assert distillation() == 0.0
    train(strategy, benchmark, [(1, 0, 10)])
    assert distillation() > 0.0
    assert all(not p.requires_grad for p in strategy.old_model.parameters())


def test_lwf_distils_the_old_classes_or_the_old_heads() -> None:
    class_il = make_strategy(strategy_spec("lwf"), blobs_benchmark("class_incremental"))
    task_il = make_strategy(strategy_spec("lwf"), blobs_benchmark("task_incremental"))
    domain = blobs_benchmark("domain_incremental")
    domain_il = make_strategy(strategy_spec("lwf"), domain)
    assert isinstance(class_il, LwF) and isinstance(task_il, LwF) and isinstance(domain_il, LwF)
    for strategy in (class_il, task_il, domain_il):
        strategy.end_task(0, domain.tasks[0])  # the task data are not read
        strategy.end_task(1, domain.tasks[1])
    assert class_il.old_units == [(0, 1, 2, 3)]
    assert task_il.old_units == [(0, 1), (2, 3)]
    assert domain_il.old_units == [(0, 1)]


def test_lwf_task_incremental_distillation_is_a_sum_over_heads() -> None:
    strategy = make_strategy(
        strategy_spec("lwf", temperature=3.0), blobs_benchmark("task_incremental")
    )
    assert isinstance(strategy, LwF)
    strategy.end_task(1, blobs_benchmark().tasks[1])
    generator = torch.Generator().manual_seed(0)
    new, old = torch.randn(5, 6, generator=generator), torch.randn(5, 6, generator=generator)

    def kd(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return 9.0 * nn.functional.kl_div(
            torch.log_softmax(a / 3, 1),
            torch.log_softmax(b / 3, 1),
            log_target=True,
            reduction="batchmean",
        )

    expected = kd(new[:, :2], old[:, :2]) + kd(new[:, 2:4], old[:, 2:4])
    assert torch.allclose(strategy.distillation(new, old), expected)
