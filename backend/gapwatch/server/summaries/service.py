"""Run summaries and gap tables: load curves and boundaries, run `gapwatch.analytics`, cache.

The cache is keyed by what the numbers depend on: the run's status and how many accuracy
points and boundary events are stored. Both counts only grow (ingestion never removes or
changes a point), so any new point or event changes the key and the next request computes
afresh: a running run's summary is live, a finished run's is computed once per process.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Collection, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from gapwatch import analytics
from gapwatch.analytics import continual, registry
from gapwatch.analytics import cost as costs
from gapwatch.analytics.gap import STABILITY_GAP
from gapwatch.analytics.registry import GAP_DEFINITION
from gapwatch.components import EVENT_TASK_START
from gapwatch.server.cache import AnalysisCache
from gapwatch.server.metrics.service import read_all, read_all_of
from gapwatch.server.models import Run
from gapwatch.server.summaries import repository
from gapwatch.server.summaries.schemas import (
    AccuracyMatrix,
    AlignedBandRead,
    AverageAccuracy,
    BoundaryGapsRead,
    CostBaseline,
    EvalSamples,
    Forgetting,
    ForwardTransfer,
    GapRowRead,
    LearningAccuracy,
    MetricRead,
    MinAccuracy,
    RunCost,
    RunCostTotals,
    RunGaps,
    RunSummary,
    TaskCostRead,
    Transfer,
    Windowed,
    WindowValue,
    WorstCaseAccuracy,
)

log = logging.getLogger(__name__)

ACCURACY_MATRIX_FORMULA = "R[k][j] = a_j(e_k): accuracy on task j right after training task k"


def named(metric_id: str) -> dict[str, str]:
    """A summary entry's definition id and its formula, from the metric registry."""
    return {"definition": metric_id, "formula": registry.metric(metric_id).formula}


def num(value: float | None) -> float | None:
    """JSON has no NaN: undefined numbers are null."""
    if value is None or math.isnan(value):
        return None
    return float(value)


def nums(values: Sequence[float] | np.ndarray) -> list[float | None]:
    return [num(float(v)) for v in values]


@dataclass(frozen=True)
class RunCurves:
    """What the analytics need from the store."""

    curves: list[analytics.Curve]
    schedule: analytics.Schedule
    eval_samples: list[int | None]
    samples_source: str
    classes: analytics.TaskClasses

    def run_data(self, gap_window: int) -> registry.RunData:
        return registry.RunData(
            self.curves, self.schedule, self.eval_samples, self.classes, gap_window
        )


def _schedule(events: list[repository.BoundaryEvent]) -> tuple[analytics.Schedule, list[Any]]:
    starts: dict[int, int] = {}
    ends: dict[int, int] = {}
    payloads: dict[int, dict[str, Any]] = {}
    for event in events:
        task = event.payload.get("task")
        target = starts if event.kind == EVENT_TASK_START else ends
        if not isinstance(task, int) or isinstance(task, bool) or task < 0:
            task = len(target)  # no task index: count the events of this kind
        if task not in target:
            target[task] = event.step
            if event.kind == EVENT_TASK_START:
                payloads[task] = event.payload
    n = 0
    while n in starts:
        n += 1
    schedule = analytics.Schedule(
        tuple(starts[k] for k in range(n)), tuple(ends.get(k) for k in range(n))
    )
    return schedule, [payloads.get(k, {}) for k in range(n)]


def _eval_samples(run: Run, payloads: list[dict[str, Any]]) -> tuple[list[int | None], str]:
    """n per task: the task_start event's `eval_samples` if the worker sent it, else the spec's
    evaluation.subset_size (an upper bound: a test split smaller than it is used whole)."""
    spec_n = run.spec.get("evaluation", {}).get("subset_size") if run.spec else None
    per_task: list[int | None] = []
    sources = set()
    for payload in payloads:
        sent = payload.get("eval_samples")
        if isinstance(sent, int) and not isinstance(sent, bool) and sent > 0:
            per_task.append(sent)
            sources.add("task_start.eval_samples")
        elif isinstance(spec_n, int) and spec_n > 0:
            per_task.append(spec_n)
            sources.add("spec.evaluation.subset_size")
        else:
            per_task.append(None)
    source = sources.pop() if len(sources) == 1 else ("mixed" if sources else "none")
    return per_task, source


def _task_classes(run: Run, payloads: list[dict[str, Any]]) -> analytics.TaskClasses:
    """chance_j's inputs: each task_start's `classes` (the worker sends them; a loop may) and
    the scenario: the task_start's `scenario`, else the spec's benchmark.scenario."""
    classes: list[tuple[int, ...] | None] = []
    for payload in payloads:
        sent = payload.get("classes")
        valid = isinstance(sent, list) and all(
            isinstance(c, int) and not isinstance(c, bool) for c in sent
        )
        classes.append(tuple(sent) if valid and sent else None)
    scenario = next((p["scenario"] for p in payloads if isinstance(p.get("scenario"), str)), None)
    if scenario is None:
        scenario = ((run.spec or {}).get("benchmark") or {}).get("scenario")
    return analytics.TaskClasses(tuple(classes), scenario == "class_incremental")


def gap_window_of(run: Run, asked: int | None = None) -> int:
    """The gap window to use: the one `asked` (a query parameter), else the run's setting (its
    spec's evaluation.gap_window), else the default."""
    if asked is not None:
        return asked
    setting = ((run.spec or {}).get("evaluation") or {}).get("gap_window")
    valid = isinstance(setting, int) and not isinstance(setting, bool) and setting >= 1
    return setting if valid else analytics.DEFAULT_GAP_WINDOW


def runs_with_stored_counts(
    session: Session, run_ids: Collection[int]
) -> dict[int, tuple[Run, int, int]]:
    """{run id: (run, accuracy points, task-boundary events)} of those of `run_ids` that
    exist, in one statement however many runs: what every live stream of a process watches."""
    return repository.runs_with_counts(session, run_ids)


def _load(session: Session, run: Run, series: dict[int, int]) -> RunCurves:
    schedule, payloads = _schedule(repository.boundary_events(session, run.id))
    n = max([schedule.n_tasks, *(j + 1 for j in series)], default=0)
    curves = []
    for j in range(n):
        if j in series:
            points = read_all(session, series[j])
            curves.append(analytics.Curve(points.steps, points.values))
        else:
            curves.append(analytics.Curve.empty())
    samples, source = _eval_samples(run, payloads)
    return RunCurves(curves, schedule, samples, source, _task_classes(run, payloads))


def _cached(
    session: Session,
    run: Run,
    cache: AnalysisCache,
    product: Hashable,
    compute: Callable[[RunCurves], Any],
) -> Any:
    series = repository.accuracy_series(session, run.id)
    fingerprint = (run.status, *repository.fingerprint(session, run.id, list(series.values())))

    def load_and_compute() -> Any:
        data = _load(session, run, series)
        value = compute(data)
        # One load serves the products a run page asks for together; a companion that fails
        # must not fail the product asked for (its own request reports the error).
        for companion, make in _companions(run).items():
            if companion != product:
                try:
                    cache.put(run.id, fingerprint, companion, make(data))
                except Exception:  # noqa: BLE001
                    log.exception(
                        "run %d: %r not computed alongside %r", run.id, companion, product
                    )
        return value

    return cache.get(run.id, fingerprint, product, load_and_compute)


def _companions(run: Run) -> dict[Hashable, Callable[[RunCurves], Any]]:
    windows = tuple(continual.DEFAULT_WINDOWS)
    gap_window = gap_window_of(run)
    margin = analytics.DEFAULT_MARGIN
    return {
        ("summary", windows, gap_window): lambda data: _summary(run, data, windows, gap_window),
        ("gaps", gap_window): lambda data: _gaps(run, data, gap_window),
        # Small (eligible rows × offsets), and what a sweep page asks of every run at once.
        ("aligned", gap_window, margin): lambda data: _aligned_rows(data, gap_window, margin),
    }


def summarize(
    session: Session,
    run: Run,
    cache: AnalysisCache,
    windows: Sequence[int] = continual.DEFAULT_WINDOWS,
    gap_window: int | None = None,
) -> RunSummary:
    """The run's METRICS.md numbers at the end of its last ended task (cached)."""
    windows = tuple(windows)
    window = gap_window_of(run, gap_window)
    return _cached(
        session,
        run,
        cache,
        ("summary", windows, window),
        lambda data: _summary(run, data, windows, window),
    )


def _tasks_total(run: Run) -> int | None:
    total = (run.spec or {}).get("benchmark", {}).get("n_tasks")
    return total if isinstance(total, int) else None


def _summary(run: Run, data: RunCurves, windows: tuple[int, ...], gap_window: int) -> RunSummary:
    analysis = registry.Analysis(data.run_data(gap_window), windows)
    s = analysis.summary
    total = _tasks_total(run)
    include_unseen = bool((run.spec or {}).get("evaluation", {}).get("include_unseen"))
    fwt_note = None
    if s.tasks_completed >= 2 and math.isnan(s.fwt):
        fwt_note = (
            "needs each task evaluated before it is trained (evaluation.include_unseen)"
            if not include_unseen
            else "a task was not evaluated at step 0 or at the end of the task before it"
        )
    return RunSummary(
        run_id=run.id,
        status=run.status,
        tasks_total=total,
        tasks_completed=s.tasks_completed,
        complete=s.tasks_completed > 0
        and (s.tasks_completed == total if total is not None else run.status == "succeeded"),
        as_of_step=s.as_of_step,
        gap_window=gap_window,
        eval_samples=EvalSamples(per_task=list(s.eval_samples), source=data.samples_source),
        metrics={
            metric_id: MetricRead(value=num(v.value), se=num(v.se), n=v.n)
            for metric_id, v in registry.evaluate(analysis).items()
        },
        accuracy_matrix=AccuracyMatrix(
            definition="accuracy_matrix",
            formula=ACCURACY_MATRIX_FORMULA,
            rows=[nums(row) for row in s.accuracy_matrix],
        ),
        acc=AverageAccuracy(
            **named("acc"),
            value=num(s.acc),
            se=num(s.acc_se),
            per_boundary=nums(s.acc_per_boundary),
        ),
        bwt=Transfer(**named("bwt"), value=num(s.bwt)),
        fwt=ForwardTransfer(
            **named("fwt"),
            value=num(s.fwt),
            initial_accuracy=nums(s.initial_accuracy),
            note=fwt_note,
        ),
        forgetting=Forgetting(
            **named("forgetting"),
            value=num(s.forgetting),
            per_task=nums(s.forgetting_per_task),
        ),
        forgetting_from_learned=Forgetting(
            **named("forgetting_from_learned"),
            value=num(s.forgetting_from_learned),
            per_task=nums(s.forgetting_from_learned_per_task),
        ),
        learning_accuracy=LearningAccuracy(
            **named("learning_accuracy"),
            value=num(s.learning_accuracy),
            se=num(s.learning_accuracy_se),
            per_task=nums(s.learning_accuracy_per_task),
        ),
        min_acc=MinAccuracy(
            **named("min_acc"),
            value=num(s.min_acc),
            se=num(s.min_acc_se),
            per_task=nums(s.min_acc_per_task),
            per_boundary=nums(s.min_acc_per_boundary),
        ),
        wc_acc=WorstCaseAccuracy(
            **named("wc_acc"),
            value=num(s.wc_acc),
            se=num(s.wc_acc_se),
            per_boundary=nums(s.wc_acc_per_boundary),
            se_per_boundary=nums(s.wc_acc_se_per_boundary),
        ),
        wf=_windowed(continual.WINDOWED_FORGETTING, registry.WINDOWED_FORGETTING_FORMULA, s.wf),
        wp=_windowed(continual.WINDOWED_PLASTICITY, registry.WINDOWED_PLASTICITY_FORMULA, s.wp),
    )


def _windowed(name: str, formula: str, values: tuple[analytics.Windowed, ...]) -> Windowed:
    return Windowed(
        definition=name,
        formula=formula,
        windows=[WindowValue(w=v.w, value=num(v.mean), per_task=nums(v.per_task)) for v in values],
    )


def gaps(
    session: Session, run: Run, cache: AnalysisCache, gap_window: int | None = None
) -> RunGaps:
    """The per-boundary stability-gap table, including the task being trained (cached)."""
    window = gap_window_of(run, gap_window)
    return _cached(session, run, cache, ("gaps", window), lambda data: _gaps(run, data, window))


def _gaps(run: Run, data: RunCurves, gap_window: int) -> RunGaps:
    analysis = registry.Analysis(data.run_data(gap_window))
    boundaries = []
    for boundary in analysis.gaps:
        rows = []
        for j, row in boundary.rows:
            if row is None:
                rows.append(GapRowRead(task=j, evaluated=False))
                continue
            n = data.eval_samples[j] if j < len(data.eval_samples) else None
            rows.append(
                GapRowRead(
                    task=j,
                    evaluated=True,
                    eligible=row.eligible,
                    chance=row.chance,
                    before=row.before,
                    before_se=num(analytics.standard_error(row.before, n)),
                    after=row.after,
                    trough=row.trough,
                    trough_at=row.trough_at,
                    depth=row.depth,
                    gap=row.gap,
                    forgetting=row.forgetting,
                    recovered_at=row.recovered_at,
                    area=row.area,
                    evaluations=row.evaluations,
                )
            )
        boundaries.append(
            BoundaryGapsRead(
                task=boundary.task,
                start=boundary.start,
                end=boundary.end,
                window=boundary.window,
                complete=boundary.end is not None,
                evaluated_until=boundary.evaluated_until,
                eligible=len(boundary.eligible),
                mean_gap=num(boundary.mean_gap),
                mean_depth=num(boundary.mean_depth),
                mean_forgetting=num(boundary.mean_forgetting),
                max_depth=num(boundary.max_depth),
                rows=rows,
            )
        )
    return RunGaps(
        run_id=run.id,
        definition=STABILITY_GAP,
        formula=GAP_DEFINITION,
        gap_window=gap_window,
        recovery_tolerance=analytics.RECOVERY_TOLERANCE,
        eligibility_margin=analytics.ELIGIBILITY_MARGIN,
        boundaries=boundaries,
    )


def aligned_rows_of(
    session: Session,
    run: Run,
    cache: AnalysisCache,
    gap_window: int | None = None,
    margin: int = analytics.DEFAULT_MARGIN,
) -> analytics.AlignedRows:
    """The run's boundary-aligned rows (every eligible (j, k)), cached like the summary."""
    window = gap_window_of(run, gap_window)
    return _cached(
        session,
        run,
        cache,
        ("aligned", window, margin),
        lambda data: _aligned_rows(data, window, margin),
    )


def _aligned_rows(data: RunCurves, gap_window: int, margin: int) -> analytics.AlignedRows:
    return analytics.aligned_rows(
        data.curves, data.schedule, classes=data.classes, gap_window=gap_window, margin=margin
    )


def band_read(
    band: analytics.AlignedBand, *, rows: int, gap_window: int, margin: int
) -> AlignedBandRead:
    """An aligned band as the API shows it (JSON has no NaN: undefined is null)."""
    return AlignedBandRead(
        offsets=band.offsets.tolist(),
        mean=nums(band.mean),
        lower=nums(band.lower),
        upper=nums(band.upper),
        n=band.n.tolist(),
        rows=rows,
        gap_window=gap_window,
        margin=margin,
    )


def aligned(
    session: Session,
    run: Run,
    cache: AnalysisCache,
    gap_window: int | None = None,
    margin: int = analytics.DEFAULT_MARGIN,
) -> AlignedBandRead:
    """One run's boundary-aligned view: mean over its eligible rows with a 95% band."""
    window = gap_window_of(run, gap_window)
    rows = aligned_rows_of(session, run, cache, window, margin)
    return band_read(
        analytics.aligned_band([rows]),
        rows=int(rows.rows.shape[0]),
        gap_window=window,
        margin=margin,
    )


def headline(session: Session, run: Run, cache: AnalysisCache) -> dict[str, float | None]:
    """The run's headline numbers (the registry's headline metrics), under its own gap_window,
    from its (cached) summary."""
    metrics = summarize(session, run, cache).metrics
    return {m.id: metrics[m.id].value for m in registry.HEADLINE_METRICS}


def stored_headlines(
    session: Session, run_ids: Collection[int]
) -> dict[int, dict[str, float | None]]:
    """{run id: {metric id: value}} of the headline numbers stored for ended runs."""
    return repository.stored_headlines(session, run_ids)


def derived(
    session: Session,
    run: Run,
    cache: AnalysisCache,
    product: Hashable,
    compute: Callable[[RunCurves], Any],
) -> Any:
    """`compute(curves)` for a floor above this one (figures), cached like the summary under
    `product`: what needs the curves themselves keeps only what it derives from them (a
    million points are never held in the cache)."""
    return _cached(session, run, cache, product, compute)


# Cost of a run (METRICS.md "Cost of a run"): read-only, computed per request from the stored
# cost/... points (a few per task), never written back.


def _cost_points(session: Session, series: dict[str, int]) -> dict[str, costs.Series]:
    points = read_all_of(session, series.values())  # one query for all of them
    return {key: (points[i].steps.tolist(), points[i].values.tolist()) for key, i in series.items()}


def _totals_of(session: Session, run_ids: Collection[int]) -> dict[int, dict[str, float]]:
    """Each run's cost totals (the last cost/run/<q> points): two queries for all the runs."""
    by_run = {
        run_id: {k: v for k, v in series.items() if k.startswith(costs.RUN_PREFIX)}
        for run_id, series in repository.cost_series(session, run_ids).items()
    }
    points = read_all_of(session, [i for series in by_run.values() for i in series.values()])
    return {
        run_id: costs.run_totals(
            {k: (points[i].steps.tolist(), points[i].values.tolist()) for k, i in series.items()}
        )
        for run_id, series in by_run.items()
    }


def _cost_run(run: Run, totals: dict[str, float]) -> costs.CostRun:
    """What choosing a baseline needs of a run: an engine run's spec; a loop run's config, if
    it names them (`strategy`: a name or {"name": ...}; `benchmark`: a spec or a name; `seed`)."""
    source = run.spec if run.spec is not None else run.config
    if not isinstance(source, dict):
        source = {}
    strategy = source.get("strategy", run.strategy)
    if isinstance(strategy, dict):
        strategy = strategy.get("name")
    benchmark = source.get("benchmark")
    if isinstance(benchmark, str):
        benchmark = {"name": benchmark}
    seed = source.get("seed")
    return costs.CostRun(
        run_id=run.id,
        strategy=strategy if isinstance(strategy, str) else None,
        benchmark=benchmark if isinstance(benchmark, dict) else None,
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        # Groups are per project: two projects' groups of one name are not one group.
        group=f"{run.project_id}/{run.group_name}" if run.group_name is not None else None,
        sweep_id=run.sweep_id,
        totals=totals,
    )


def _baselines(
    session: Session, runs: Sequence[Run], totals: dict[int, dict[str, float]]
) -> dict[int, CostBaseline | None]:
    """Each run's joint baseline among the joint runs of its group or sweep."""
    # Only the peers that can be someone's baseline (joint, on an asked run's benchmark) have
    # their totals read.
    benchmarks = [_cost_run(run, {}).benchmark for run in runs]
    peers = [
        p
        for p in repository.joint_peers(session, runs, costs.JOINT_STRATEGY)
        if (peer := _cost_run(p, {})).strategy == costs.JOINT_STRATEGY
        and peer.benchmark is not None
        and peer.benchmark in benchmarks
    ]
    totals = {**totals, **_totals_of(session, [p.id for p in peers if p.id not in totals])}
    candidates = [_cost_run(p, totals[p.id]) for p in peers]
    out: dict[int, CostBaseline | None] = {}
    for run in runs:
        base = costs.joint_baseline(_cost_run(run, totals[run.id]), candidates)
        out[run.id] = (
            None
            if base is None
            else CostBaseline(
                run_ids=base.run_ids,
                totals=base.totals,
                ratios={q: num(v) for q, v in base.ratios.items()},
            )
        )
    return out


def cost_totals(session: Session, runs: Sequence[Run]) -> list[RunCostTotals]:
    """Each run's cost totals and their ratios to its joint baseline, in `runs` order (the
    compare view's cost columns)."""
    totals = _totals_of(session, [run.id for run in runs])
    baselines = _baselines(session, runs, totals)
    return [
        RunCostTotals(run_id=run.id, totals=totals[run.id], baseline=baselines[run.id])
        for run in runs
    ]


def run_cost(session: Session, run: Run) -> RunCost:
    """A run's costs per task (cost/task/<q> at each task_end step) and in total, with the
    ratios to its joint baseline; empty for a run that logged no cost points."""
    series = _cost_points(session, repository.cost_series(session, [run.id])[run.id])
    totals = {run.id: costs.run_totals(series)}
    events = repository.boundary_events(session, run.id)
    ends = costs.task_end_steps([(e.step, e.kind, e.payload) for e in events])
    tasks = costs.task_costs(series, ends)
    present = {q for t in tasks for q in t.values} | set(totals[run.id])
    return RunCost(
        run_id=run.id,
        totals=totals[run.id],
        baseline=_baselines(session, [run], totals)[run.id],
        quantities=costs.ordered(list(present)),
        tasks=[TaskCostRead(task=t.task, step=t.step, values=t.values) for t in tasks],
    )
