"""Cost of a run against retraining: per-task costs and the ratio of a run's totals to those of
its `joint` baseline (METRICS.md, "Cost of a run").

Harun et al., "How efficient are today's continual learning algorithms?" (CVPR-W 2023), report
each method's compute and memory next to those of retraining on everything seen so far; in this
product that is the `joint` strategy run on the same benchmark. The engine stores the costs as
ordinary metric points (`gapwatch.components.cost_key`): at each task's end step, `cost/task/<q>`
(that task's share) and `cost/run/<q>` (the run's total so far; peaks are the maximum so far), so
the last `cost/run/<q>` point of a run is its total. Pure: no server, no database.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gapwatch.components import COST_QUANTITIES, EVENT_TASK_END

JOINT_STRATEGY = "joint"
TASK_PREFIX = "cost/task/"
RUN_PREFIX = "cost/run/"

Series = tuple[Sequence[int], Sequence[float]]
"""A stored series as (steps, values), steps increasing."""


def quantity_of(key: str, prefix: str) -> str | None:
    """`q` of `<prefix><q>` (any quantity, not only COST_QUANTITIES: a newer engine may log
    more), or None for another key."""
    if not key.startswith(prefix):
        return None
    quantity = key[len(prefix) :]
    return quantity if quantity and "/" not in quantity else None


def ordered(quantities: Sequence[str]) -> list[str]:
    """COST_QUANTITIES' order first, then any others by name: one column order everywhere."""
    known = [q for q in COST_QUANTITIES if q in quantities]
    return known + sorted(set(quantities) - set(known))


def run_totals(series: Mapping[str, Series]) -> dict[str, float]:
    """{q: the last point of `cost/run/<q>`} from a run's series by key (other keys ignored;
    NaN and empty series are left out: a number the run does not have)."""
    totals = {}
    for key, (steps, values) in series.items():
        quantity = quantity_of(key, RUN_PREFIX)
        if quantity is None or len(steps) == 0:
            continue
        last = float(values[-1])
        if not math.isnan(last):
            totals[quantity] = last
    return {q: totals[q] for q in ordered(list(totals))}


@dataclass(frozen=True)
class TaskCost:
    """One task's costs: its index, its end step and {q: value} of `cost/task/<q>` there."""

    task: int
    step: int
    values: dict[str, float]


def task_costs(
    series: Mapping[str, Series], task_ends: Mapping[int, int] | None = None
) -> list[TaskCost]:
    """The `cost/task/<q>` points of a run, one row per step that has any, by step.

    Args:
        series: The run's series by key (other keys ignored).
        task_ends: {step: task index} of the run's task_end events. A step without an event
            is numbered by the order of the points (the k-th step with costs is task k).

    Returns:
        Rows in step order; a quantity without a point at a row's step is absent from it.
    """
    by_step: dict[int, dict[str, float]] = {}
    for key, (steps, values) in series.items():
        quantity = quantity_of(key, TASK_PREFIX)
        if quantity is None:
            continue
        for step, value in zip(steps, values, strict=True):
            if not math.isnan(float(value)):
                by_step.setdefault(int(step), {})[quantity] = float(value)
    ends = task_ends or {}
    rows = []
    for index, step in enumerate(sorted(by_step)):
        values = by_step[step]
        rows.append(
            TaskCost(
                task=ends.get(step, index),
                step=step,
                values={q: values[q] for q in ordered(list(values))},
            )
        )
    return rows


def task_end_steps(events: Sequence[tuple[int, str, Mapping[str, Any]]]) -> dict[int, int]:
    """{step: task index} of the task_end events (step, kind, payload); an event without a
    valid `task` in its payload is numbered by the order of the task_end events."""
    out: dict[int, int] = {}
    count = 0
    for step, kind, payload in events:
        if kind != EVENT_TASK_END:
            continue
        task = payload.get("task")
        valid = isinstance(task, int) and not isinstance(task, bool) and task >= 0
        out.setdefault(step, task if valid else count)
        count += 1
    return out


@dataclass(frozen=True)
class CostRun:
    """What choosing a joint baseline needs to know of a run.

    Attributes:
        run_id: The run.
        strategy: Its strategy's name (`joint` for retraining on everything seen).
        benchmark: Its benchmark spec (a dict); runs compare only on an equal one.
        seed: Its spec's seed, if known.
        group: Its group, if any.
        sweep_id: The sweep that created it, if any.
        totals: {q: total} (see `run_totals`).
    """

    run_id: int
    strategy: str | None
    benchmark: Mapping[str, Any] | None
    seed: int | None = None
    group: str | None = None
    sweep_id: int | None = None
    totals: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Baseline:
    """The joint run(s) a run's costs are divided by, their (mean) totals and the ratios."""

    run_ids: list[int]
    totals: dict[str, float]
    ratios: dict[str, float | None]


def related(run: CostRun, other: CostRun) -> bool:
    """Whether `other` is in the same group or the same sweep as `run`."""
    same_group = run.group is not None and other.group == run.group
    same_sweep = run.sweep_id is not None and other.sweep_id == run.sweep_id
    return same_group or same_sweep


def joint_candidates(run: CostRun, runs: Sequence[CostRun]) -> list[CostRun]:
    """The `joint` runs among `runs` with costs, on an equal benchmark spec, in `run`'s group
    or sweep (a joint run is its own candidate)."""
    if run.benchmark is None:
        return []
    return [
        other
        for other in runs
        if other.strategy == JOINT_STRATEGY
        and other.totals
        and other.benchmark == run.benchmark
        and (other.run_id == run.run_id or related(run, other))
    ]


def ratio(value: float | None, base: float | None) -> float | None:
    """value / base; None where either is missing or the base is 0 (e.g. accelerator memory
    of a CPU run: no ratio exists)."""
    if value is None or base is None or base == 0 or math.isnan(value) or math.isnan(base):
        return None
    return value / base


def joint_baseline(run: CostRun, runs: Sequence[CostRun]) -> Baseline | None:
    """The run's joint baseline among `runs`, or None when there is none.

    The joint run of the same seed is preferred (several: their mean); otherwise the mean of
    every candidate's totals, quantity by quantity over the candidates that have it. Each ratio
    is the run's total over the baseline's, for the quantities the run has.
    """
    candidates = joint_candidates(run, runs)
    if not candidates:
        return None
    same_seed = [c for c in candidates if run.seed is not None and c.seed == run.seed]
    chosen = same_seed or candidates
    quantities = ordered(list({q for c in chosen for q in c.totals}))
    totals = {}
    for q in quantities:
        values = [c.totals[q] for c in chosen if q in c.totals]
        totals[q] = sum(values) / len(values)
    ratios = {q: ratio(run.totals[q], totals.get(q)) for q in ordered(list(run.totals))}
    return Baseline(run_ids=[c.run_id for c in chosen], totals=totals, ratios=ratios)
