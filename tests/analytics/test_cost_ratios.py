"""Costs against retraining (gapwatch.analytics.cost), every number computed by hand."""

from __future__ import annotations

import math

import pytest

from gapwatch.analytics.cost import (
    CostRun,
    joint_baseline,
    run_totals,
    task_costs,
    task_end_steps,
)

BENCH = {"name": "split_digits", "n_tasks": 3}


def run(
    run_id: int,
    strategy: str,
    *,
    seed: int = 0,
    group: str | None = "g",
    sweep=None,
    bench=BENCH,
    **totals: float,
) -> CostRun:  # noqa: E501
    return CostRun(run_id, strategy, bench, seed, group, sweep, totals)


def test_totals_are_the_last_run_point_and_tasks_are_numbered_by_their_end_events() -> None:
    series = {
        "cost/run/train_flops": ([10, 20, 30], [1e6, 3e6, 6e6]),
        "cost/run/wall_seconds": ([10, 20], [1.0, float("nan")]),  # NaN: left out
        "cost/task/train_flops": ([10, 20, 30], [1e6, 2e6, 3e6]),
        "cost/task/updates": ([20, 30], [5.0, 7.0]),
        "cost/run/": ([1], [2.0]),  # no quantity: ignored
        "eval/acc/task_0": ([10], [0.5]),
    }
    assert run_totals(series) == {"train_flops": 6e6}
    events = [
        (0, "task_start", {"task": 0}),
        (10, "task_end", {"task": 0}),
        (20, "task_end", {}),  # no index: the second task_end is task 1
        (25, "note", {"task": 9}),
    ]
    ends = task_end_steps(events)
    assert ends == {10: 0, 20: 1}
    rows = task_costs(series, ends)
    assert [(r.task, r.step, r.values) for r in rows] == [
        (0, 10, {"train_flops": 1e6}),
        (1, 20, {"updates": 5.0, "train_flops": 2e6}),
        (2, 30, {"updates": 7.0, "train_flops": 3e6}),  # no event: third step with costs
    ]
    assert list(rows[1].values) == ["updates", "train_flops"]  # COST_QUANTITIES order


def test_er_over_the_joint_run_of_its_seed() -> None:
    er = run(2, "er", seed=1, train_flops=3.1e9, replay_bytes=4096.0, peak_accelerator_bytes=0.0)
    joint_1 = run(
        1, "joint", seed=1, train_flops=10e9, replay_bytes=0.0, peak_accelerator_bytes=0.0
    )  # noqa: E501
    joint_2 = run(3, "joint", seed=2, train_flops=30e9, replay_bytes=0.0)
    base = joint_baseline(er, [er, joint_1, joint_2])
    assert base is not None and base.run_ids == [1]
    assert base.ratios["train_flops"] == pytest.approx(0.31)  # "ER cost 0.31x retraining"
    assert base.ratios["replay_bytes"] is None  # joint keeps no memory: no ratio
    assert base.ratios["peak_accelerator_bytes"] is None  # 0 on a CPU


def test_without_one_of_the_same_seed_the_mean_of_the_joint_runs() -> None:
    er = run(5, "er", seed=7, train_flops=6e9, wall_seconds=30.0)
    joints = [run(1, "joint", seed=1, train_flops=10e9, wall_seconds=10.0),
              run(2, "joint", seed=2, train_flops=20e9)]  # fmt: skip
    base = joint_baseline(er, [*joints, er])
    assert base is not None and base.run_ids == [1, 2]
    assert base.totals == {"train_flops": 15e9, "wall_seconds": 10.0}
    assert base.ratios == {"train_flops": pytest.approx(0.4), "wall_seconds": pytest.approx(3.0)}


def test_a_joint_run_elsewhere_or_on_another_benchmark_is_no_baseline() -> None:
    er = run(5, "er", group="a", sweep=4, train_flops=1.0)
    other_group = run(1, "joint", group="b", train_flops=2.0)
    other_bench = run(2, "joint", group="a", bench={**BENCH, "n_tasks": 5}, train_flops=2.0)
    no_costs = run(3, "joint", group="a")
    assert joint_baseline(er, [er, other_group, other_bench, no_costs]) is None
    # The same sweep is enough (a sweep's runs need not share a group).
    in_sweep = run(6, "joint", group=None, sweep=4, train_flops=4.0)
    base = joint_baseline(er, [er, other_group, in_sweep])
    assert base is not None and base.run_ids == [6] and base.ratios == {"train_flops": 0.25}
    # An ungrouped run outside any sweep has no baseline but itself, if joint.
    alone = run(7, "joint", group=None, train_flops=8.0)
    assert joint_baseline(run(8, "er", group=None, train_flops=1.0), [alone]) is None
    itself = joint_baseline(alone, [alone])
    assert itself is not None and itself.ratios == {"train_flops": 1.0}
    assert not math.isnan(itself.totals["train_flops"])
