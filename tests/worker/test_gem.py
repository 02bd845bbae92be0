"""GEM: the projection against brute-force solutions, and the strategy's memory and updates."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
import torch

from gapwatch_worker.cl.strategies.agem import project_gradient
from gapwatch_worker.cl.strategies.gem import GEM, QP_EPS, project_to_cone
from tests.worker.strategy_fixtures import (
    batch,
    batch_grad,
    blobs_benchmark,
    current_grad,
    make_strategy,
    strategy_spec,
    train,
)

# --- Brute force ------------------------------------------------------------------------------


def primal_by_active_sets(g: np.ndarray, G: np.ndarray) -> np.ndarray:
    """argmin ||z - g||^2 s.t. G z >= 0, by trying every set of tight constraints.

    For a set A, z = g + G_A^T mu with G_A z = 0; it is the answer when mu >= 0 (KKT) and every
    constraint holds. The problem is strictly convex, so exactly one set qualifies (up to ties
    that give the same z); the closest feasible candidate is returned.
    """
    best, best_distance = None, np.inf
    t = len(G)
    for size in range(t + 1):
        for active in itertools.combinations(range(t), size):
            rows = G[list(active)]
            mu = np.linalg.solve(rows @ rows.T, -(rows @ g)) if size else np.zeros(0)
            z = g + rows.T @ mu
            if (mu >= -1e-12).all() and (G @ z >= -1e-10).all():
                distance = float(np.sum((z - g) ** 2))
                if distance < best_distance:
                    best, best_distance = z, distance
    assert best is not None
    return best


def dual_by_active_sets(
    g: np.ndarray, G: np.ndarray, margin: float, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    """The released code's dual, min v^T P v / 2 + (G g)^T v s.t. v >= margin, by enumeration.

    P = G G^T + eps I. For a set A of bounds at the margin, the free variables solve
    P_FF v_F = -(G g)_F - P_FA margin; the answer has v_F >= margin and the bounds'
    multipliers (P v + G g)_A >= 0. Returns (z = G^T v + g, v).
    """
    t = len(G)
    P = G @ G.T + eps * np.eye(t)
    c = G @ g
    for size in range(t + 1):
        for active in itertools.combinations(range(t), size):
            free = [i for i in range(t) if i not in active]
            v = np.full(t, margin)
            if free:
                rhs = -c[free] - P[np.ix_(free, list(active))] @ v[list(active)]
                v[free] = np.linalg.solve(P[np.ix_(free, free)], rhs)
            multipliers = P @ v + c
            if (v[free] >= margin - 1e-12).all() and (multipliers[list(active)] >= -1e-12).all():
                return G.T @ v + g, v
    raise AssertionError("no KKT point: the enumeration is wrong")


def conflicting_case(seed: int, t: int, p: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """A random gradient and t memory gradients, at least one of them in conflict."""
    rng = np.random.default_rng(seed)
    while True:
        g, G = rng.normal(size=p), rng.normal(size=(t, p))
        if (G @ g < 0).any():
            return g, G


def _project(g: np.ndarray, G: np.ndarray, margin: float, eps: float) -> np.ndarray:
    z = project_to_cone(torch.from_numpy(g), torch.from_numpy(G), margin, eps)
    assert z.dtype == torch.float64
    return z.numpy()


# --- The projection -----------------------------------------------------------------------------


def test_one_constraint_is_agem_s_projection() -> None:
    for seed in range(10):
        g, G = conflicting_case(seed, 1)
        expected = project_gradient(torch.from_numpy(g), torch.from_numpy(G[0])).numpy()
        z = _project(g, G, margin=0.0, eps=0.0)
        np.testing.assert_allclose(z, expected, atol=1e-6)
        assert abs(float(G[0] @ z)) < 1e-9  # on the constraint's boundary
        assert np.linalg.norm(z - g) > 1e-3  # it did move


@pytest.mark.parametrize("t", [2, 3])
def test_several_constraints_give_the_exact_euclidean_projection(t: int) -> None:
    tight_counts = set()
    for seed in range(40):
        g, G = conflicting_case(100 * t + seed, t)
        expected = primal_by_active_sets(g, G)
        z = _project(g, G, margin=0.0, eps=0.0)
        np.testing.assert_allclose(z, expected, atol=1e-6)
        assert (G @ z >= -1e-9).all()  # every constraint holds
        tight_counts.add(int(np.sum(np.abs(G @ z) < 1e-8)))
    # The cases covered one tight constraint and several at once.
    assert 1 in tight_counts and max(tight_counts) >= 2, tight_counts


@pytest.mark.parametrize("t", [2, 3, 4])
def test_the_margin_and_eps_solve_the_released_code_s_dual(t: int) -> None:
    for seed in range(30):
        g, G = conflicting_case(1000 * t + seed, t)
        expected, v = dual_by_active_sets(g, G, margin=0.5, eps=QP_EPS)
        z = _project(g, G, margin=0.5, eps=QP_EPS)
        np.testing.assert_allclose(z, expected, atol=1e-6)
        # KKT: G z = multipliers - eps v with multipliers >= 0.
        assert (G @ z >= -QP_EPS * v - 1e-9).all()
        # The margin pushes the update into the cone: v >= 0.5 on every memory.
        assert (v >= 0.5 - 1e-12).all()


def test_a_positive_margin_without_eps_keeps_every_constraint() -> None:
    for seed in range(20):
        g, G = conflicting_case(seed, 3)
        z = _project(g, G, margin=0.5, eps=0.0)
        assert (G @ z >= -1e-9).all()
        # Farther from g than the plain projection, which is the closest point of the cone.
        plain = primal_by_active_sets(g, G)
        assert np.linalg.norm(z - g) >= np.linalg.norm(plain - g) - 1e-9


def test_no_conflict_and_no_margin_leaves_the_gradient_unchanged() -> None:
    rng = np.random.default_rng(7)
    g = rng.normal(size=5)
    G = np.stack([g + 0.1 * rng.normal(size=5), np.abs(g) * np.sign(g)])  # both agree with g
    assert (G @ g > 0).all()
    for eps in (0.0, QP_EPS):
        np.testing.assert_allclose(_project(g, G, margin=0.0, eps=eps), g, atol=1e-12)


def test_the_projection_keeps_the_gradient_s_dtype_and_device() -> None:
    g, G = conflicting_case(3, 2)
    z = project_to_cone(torch.from_numpy(g).float(), torch.from_numpy(G).float(), 0.5)
    assert z.dtype == torch.float32 and z.device == torch.device("cpu") and z.shape == (6,)


# --- The strategy ------------------------------------------------------------------------------


def test_gem_keeps_memories_per_task_distinct_rows_of_each_finished_task() -> None:
    benchmark = blobs_benchmark()
    strategy = make_strategy(strategy_spec("gem", memories_per_task=20), benchmark)
    assert isinstance(strategy, GEM)
    train(strategy, benchmark, [(0, 0, 5)])
    assert strategy.memory_x is None and strategy.memory_counts == [0, 0, 0]
    strategy.end_task(0, benchmark.tasks[0])
    assert strategy.memory_counts == [20, 0, 0]
    assert strategy.memory_x is not None and strategy.memory_y is not None
    assert strategy.memory_x.shape == (3, 20, 8)  # every task's rows, allocated once
    task = benchmark.tasks[0]
    # Each kept row is a row of the task's train set, with its own target, none twice.
    matches = (strategy.memory_x[0][:, None, :] == task.train_x[None]).all(-1)
    source = matches.float().argmax(1)
    assert matches.any(1).all() and len(set(source.tolist())) == 20
    assert torch.equal(strategy.memory_y[0], task.train_y[source])
    before = strategy.memory_x.clone()
    strategy.end_task(0, task)  # a task ends once: nothing is redrawn
    assert torch.equal(strategy.memory_x, before)


def test_a_task_smaller_than_the_memory_is_kept_whole() -> None:
    benchmark = blobs_benchmark(n_train=12)
    strategy = make_strategy(strategy_spec("gem", memories_per_task=20), benchmark)
    assert isinstance(strategy, GEM)
    strategy.end_task(0, benchmark.tasks[0])
    assert strategy.memory_counts == [12, 0, 0]
    assert strategy.memory_y is not None
    assert sorted(strategy.memory_y[0, :12].tolist()) == sorted(benchmark.tasks[0].train_y.tolist())


def test_the_first_task_trains_without_memory() -> None:
    benchmark = blobs_benchmark(n_tasks=2)
    gem = make_strategy(strategy_spec("gem"), benchmark)
    finetune = make_strategy(strategy_spec("finetune"), benchmark)
    assert torch.equal(
        torch.stack(train(gem, benchmark, [(0, 0, 8)])),
        torch.stack(train(finetune, benchmark, [(0, 0, 8)])),
    )


@pytest.mark.parametrize("scenario", ["class_incremental", "task_incremental"])
def test_gem_applies_the_projection_against_every_earlier_task(scenario: str) -> None:
    benchmark = blobs_benchmark(scenario)
    strategy = make_strategy(strategy_spec("gem", memory_strength=0.5), benchmark, lr=0.2)
    assert isinstance(strategy, GEM)
    train(strategy, benchmark, [(0, 0, -15), (1, 0, -15)])
    projected = unchanged = 0
    for step in range(12):
        x, y = batch(benchmark.tasks[2], step)
        before = copy.deepcopy(strategy.model)
        assert strategy.memory_x is not None and strategy.memory_y is not None
        memories = torch.stack(
            [
                batch_grad(strategy, before, strategy.memory_x[k], strategy.memory_y[k], k)
                for k in (0, 1)
            ]
        )
        raw = batch_grad(strategy, before, x, y, 2)
        strategy.observe(x, y, 2)
        applied = current_grad(strategy.model)
        if (memories @ raw >= 0).all():
            unchanged += 1
            assert torch.allclose(applied, raw, atol=1e-7)
        else:
            projected += 1
            expected = project_to_cone(raw, memories, 0.5)
            assert torch.allclose(applied, expected, atol=1e-5)
            # The worst conflict is eased (the eps regularisation, large next to these small
            # memory gradients, lets a constraint stay slightly negative: see the dual's test).
            assert float((memories @ applied).min()) > float((memories @ raw).min())
    assert projected > 0
    if scenario == "task_incremental":  # separate heads conflict less: both cases were seen
        assert unchanged > 0
