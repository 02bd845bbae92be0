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
from gapwatch.analytics import continual, matrix
from gapwatch.analytics.gap import STABILITY_GAP
from gapwatch.server.cache import AnalysisCache
from gapwatch.server.metrics.service import read_all
from gapwatch.server.models import Run
from gapwatch.server.summaries import repository
from gapwatch.server.summaries.schemas import (
    AccuracyMatrix,
    AverageAccuracy,
    BoundaryGapsRead,
    EvalSamples,
    Forgetting,
    ForwardTransfer,
    GapRowRead,
    LearningAccuracy,
    MinAccuracy,
    RunGaps,
    RunSummary,
    Transfer,
    Windowed,
    WindowValue,
    WorstCaseAccuracy,
)
from gapwatch.spec import EVENT_TASK_START

log = logging.getLogger(__name__)

FORMULAS = {
    "matrix": "R[k][j] = a_j(e_k): accuracy on task j right after training task k",
    matrix.ACC: "ACC = (1/T) Σ_j R[T][j]",
    matrix.BWT: "BWT = 1/(T-1) Σ_{j<T} (R[T][j] − R[j][j])",
    matrix.FWT: "FWT = 1/(T-1) Σ_{j>1} (R[j-1][j] − b_j), b_j = untrained model's accuracy",
    matrix.FORGETTING_CHAUDHRY: "f_j = max_{k∈[j,T-1]} R[k][j] − R[T][j] (Chaudhry et al.), "
    "mean over j < T",
    matrix.FORGETTING_FROM_LEARNED: "f_j = R[j][j] − R[T][j], mean over j < T",
    matrix.LEARNING_ACCURACY: "LA_k = R[k][k]",
    continual.MIN_ACC: "min-ACC(k) = mean_{j<k} min_{e_j ≤ i ≤ e_k} a_j(i) over evaluated i",
    continual.WC_ACC: "WC-ACC(k) = (1/k)·R[k][k] + (1 − 1/k)·min-ACC(k)",
    continual.WINDOWED_FORGETTING: "WF^w_j = max a_j(i) − a_j(l), i < l within w consecutive "
    "evaluations, i ≥ e_j (0 if no drop); mean over j < T",
    continual.WINDOWED_PLASTICITY: "WP^w_k = max a_k(l) − a_k(i), i < l within w consecutive "
    "evaluations in [s_k, e_k] (0 if no rise); mean over tasks",
    STABILITY_GAP: "before = a_j(s_k); trough = min_{i∈[s_k,e_k]} a_j(i); depth = before − "
    "trough; recovered_at = first i after the trough with a_j(i) ≥ before − 1 point; area = "
    "Σ max(0, before − a_j(i))·(i − previous evaluation)",
}


def named(definition: str) -> dict[str, str]:
    """A metric's definition id and its formula as METRICS.md writes it."""
    return {"definition": definition, "formula": FORMULAS[definition]}


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
    return RunCurves(curves, schedule, samples, source)


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
    return {
        ("summary", windows): lambda data: _summary(run, data, windows),
        "gaps": lambda data: _gaps(run, data),
    }


def summarize(
    session: Session,
    run: Run,
    cache: AnalysisCache,
    windows: Sequence[int] = continual.DEFAULT_WINDOWS,
) -> RunSummary:
    """The run's METRICS.md numbers at the end of its last ended task (cached)."""
    windows = tuple(windows)
    return _cached(
        session, run, cache, ("summary", windows), lambda data: _summary(run, data, windows)
    )


def _tasks_total(run: Run) -> int | None:
    total = (run.spec or {}).get("benchmark", {}).get("n_tasks")
    return total if isinstance(total, int) else None


def _summary(run: Run, data: RunCurves, windows: tuple[int, ...]) -> RunSummary:
    s = analytics.summarize(data.curves, data.schedule, data.eval_samples, windows)
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
        eval_samples=EvalSamples(per_task=list(s.eval_samples), source=data.samples_source),
        accuracy_matrix=AccuracyMatrix(
            definition="accuracy_matrix",
            formula=FORMULAS["matrix"],
            rows=[nums(row) for row in s.accuracy_matrix],
        ),
        acc=AverageAccuracy(
            **named(matrix.ACC),
            value=num(s.acc),
            se=num(s.acc_se),
            per_boundary=nums(s.acc_per_boundary),
        ),
        bwt=Transfer(**named(matrix.BWT), value=num(s.bwt)),
        fwt=ForwardTransfer(
            **named(matrix.FWT),
            value=num(s.fwt),
            initial_accuracy=nums(s.initial_accuracy),
            note=fwt_note,
        ),
        forgetting=Forgetting(
            **named(matrix.FORGETTING_CHAUDHRY),
            value=num(s.forgetting),
            per_task=nums(s.forgetting_per_task),
        ),
        forgetting_from_learned=Forgetting(
            **named(matrix.FORGETTING_FROM_LEARNED),
            value=num(s.forgetting_from_learned),
            per_task=nums(s.forgetting_from_learned_per_task),
        ),
        learning_accuracy=LearningAccuracy(
            **named(matrix.LEARNING_ACCURACY),
            value=num(s.learning_accuracy),
            se=num(s.learning_accuracy_se),
            per_task=nums(s.learning_accuracy_per_task),
        ),
        min_acc=MinAccuracy(
            **named(continual.MIN_ACC),
            value=num(s.min_acc),
            se=num(s.min_acc_se),
            per_task=nums(s.min_acc_per_task),
            per_boundary=nums(s.min_acc_per_boundary),
        ),
        wc_acc=WorstCaseAccuracy(
            **named(continual.WC_ACC),
            value=num(s.wc_acc),
            se=num(s.wc_acc_se),
            per_boundary=nums(s.wc_acc_per_boundary),
            se_per_boundary=nums(s.wc_acc_se_per_boundary),
        ),
        wf=_windowed(continual.WINDOWED_FORGETTING, s.wf),
        wp=_windowed(continual.WINDOWED_PLASTICITY, s.wp),
    )


def _windowed(name: str, values: tuple[analytics.Windowed, ...]) -> Windowed:
    return Windowed(
        **named(name),
        windows=[WindowValue(w=v.w, value=num(v.mean), per_task=nums(v.per_task)) for v in values],
    )


def gaps(session: Session, run: Run, cache: AnalysisCache) -> RunGaps:
    """The per-boundary stability-gap table, including the task being trained (cached)."""
    return _cached(session, run, cache, "gaps", lambda data: _gaps(run, data))


def _gaps(run: Run, data: RunCurves) -> RunGaps:
    boundaries = []
    for boundary in analytics.stability_gaps(data.curves, data.schedule):
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
                    before=row.before,
                    before_se=num(analytics.standard_error(row.before, n)),
                    trough=row.trough,
                    trough_at=row.trough_at,
                    depth=row.depth,
                    relative_depth=num(row.relative_depth),
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
                complete=boundary.end is not None,
                evaluated_until=boundary.evaluated_until,
                mean_depth=num(boundary.mean_depth),
                max_depth=num(boundary.max_depth),
                rows=rows,
            )
        )
    return RunGaps(
        run_id=run.id,
        **named(STABILITY_GAP),
        recovery_tolerance=analytics.RECOVERY_TOLERANCE,
        boundaries=boundaries,
    )


@dataclass(frozen=True)
class Headline:
    """The runs list's numbers for one run: final ACC, min-ACC, WC-ACC and mean gap depth."""

    acc: float | None
    min_acc: float | None
    wc_acc: float | None
    mean_gap_depth: float | None


def headline(session: Session, run: Run, cache: AnalysisCache) -> Headline:
    """The run's headline numbers, from its (cached) summary and gap table.

    The mean gap depth averages the depth of every evaluated (boundary, earlier task) pair of
    the boundaries whose task has ended, so each measured dip counts once.
    """
    summary = summarize(session, run, cache)
    depths = [
        row.depth
        for boundary in gaps(session, run, cache).boundaries
        if boundary.complete
        for row in boundary.rows
        if row.evaluated and row.depth is not None
    ]
    return Headline(
        acc=summary.acc.value,
        min_acc=summary.min_acc.value,
        wc_acc=summary.wc_acc.value,
        mean_gap_depth=float(np.mean(depths)) if depths else None,
    )
