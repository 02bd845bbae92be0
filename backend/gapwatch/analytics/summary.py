"""Every METRICS.md number of one run, from its accuracy curves and task schedule.

`summarize` is a snapshot at the end of the last task that has ended (T = tasks ended so far;
for a finished run that is the final answer). `stability_gaps` also covers the task being
trained, whose window ends at its last evaluation so far.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gapwatch.analytics import continual, matrix
from gapwatch.analytics.curves import Curve, FloatArray, Schedule
from gapwatch.analytics.gap import (
    DEFAULT_GAP_WINDOW,
    GapRow,
    chance_level,
    gap_table,
    window_length,
)
from gapwatch.analytics.uncertainty import (
    standard_error,
    standard_error_of_mean,
    standard_error_of_weighted,
)


@dataclass(frozen=True)
class Windowed:
    """WF^w or WP^w for one window size w: per task and the mean over the tasks it averages."""

    w: int
    per_task: FloatArray
    mean: float


@dataclass(frozen=True)
class Summary:
    """The METRICS.md numbers of a run at the end of its last ended task (0-based tasks).

    NaN marks a number that is undefined (e.g. BWT with one task, FWT without unseen-task
    evaluations). Standard errors use `eval_samples[j]` samples per task.
    """

    tasks_completed: int
    as_of_step: int | None
    eval_samples: tuple[int | None, ...]
    accuracy_matrix: FloatArray
    acc: float
    acc_se: float
    acc_per_boundary: FloatArray
    bwt: float
    fwt: float
    initial_accuracy: FloatArray
    forgetting_per_task: FloatArray
    forgetting: float
    forgetting_from_learned_per_task: FloatArray
    forgetting_from_learned: float
    learning_accuracy_per_task: FloatArray
    learning_accuracy: float
    learning_accuracy_se: float
    min_acc_per_task: FloatArray
    min_acc: float
    min_acc_se: float
    min_acc_per_boundary: FloatArray
    wc_acc: float
    wc_acc_se: float
    wc_acc_per_boundary: FloatArray
    wc_acc_se_per_boundary: FloatArray
    wf: tuple[Windowed, ...]
    wp: tuple[Windowed, ...]


def _n(eval_samples: Sequence[int | None], j: int) -> int | None:
    return eval_samples[j] if j < len(eval_samples) else None


def summarize(
    curves: Sequence[Curve],
    schedule: Schedule,
    eval_samples: Sequence[int | None] = (),
    windows: Sequence[int] = continual.DEFAULT_WINDOWS,
) -> Summary:
    """All end-of-task and continual-evaluation metrics of METRICS.md for one run.

    Args:
        curves: a_j for every task j (an empty curve for a task never evaluated).
        schedule: s_k and e_k of each task.
        eval_samples: n, the evaluation-subset size of each task, for standard errors.
        windows: The w of WF^w and WP^w.

    Returns:
        The snapshot at e_{T-1}, T = schedule.completed; evaluations after it are ignored.
    """
    curves = list(curves) + [Curve.empty()] * max(0, schedule.n_tasks - len(curves))
    ends = schedule.finished_ends()
    t = len(ends)
    as_of = ends[-1] if ends else None
    r = matrix.accuracy_matrix(curves, ends)
    learned = matrix.learning_accuracy(r)

    acc = matrix.average_accuracy(r)
    acc_se = (
        standard_error_of_mean(list(r[t - 1, :t]), [_n(eval_samples, j) for j in range(t)])
        if t
        else float("nan")
    )
    initial = matrix.initial_accuracies(curves, t, schedule.starts[0] if t else 0)

    min_per_task = continual.min_acc_per_task(curves[:t], ends, until=as_of)
    min_per_boundary = np.array([continual.min_acc_at_boundary(curves, ends, k) for k in range(t)])
    wc_per_boundary = np.array(
        [continual.wc_acc(learned[k], min_per_boundary[k], k) for k in range(t)]
    )
    min_se_per_boundary = np.array(
        [
            standard_error_of_mean(
                [continual.min_acc_of_task(curves[j], ends[j], ends[k]) for j in range(k)],
                [_n(eval_samples, j) for j in range(k)],
            )
            if k
            else float("nan")
            for k in range(t)
        ]
    )
    wc_se_per_boundary = np.array(
        [
            standard_error_of_weighted(
                [
                    (1.0 / (k + 1), standard_error(learned[k], _n(eval_samples, k))),
                    *([(1.0 - 1.0 / (k + 1), min_se_per_boundary[k])] if k else []),
                ]
            )
            for k in range(t)
        ]
    )

    wf = tuple(
        _windowed(
            w,
            np.array(
                [continual.windowed_forgetting(curves[j], ends[j], w, as_of) for j in range(t)]
            ),
            average_over=max(t - 1, 0),
        )
        for w in windows
    )
    wp = tuple(
        _windowed(
            w,
            np.array(
                [
                    continual.windowed_plasticity(curves[k], schedule.starts[k], ends[k], w)
                    for k in range(t)
                ]
            ),
            average_over=t,
        )
        for w in windows
    )
    forgetting = matrix.forgetting_per_task(r)
    from_learned = matrix.forgetting_from_learned_per_task(r)
    last = t - 1
    return Summary(
        tasks_completed=t,
        as_of_step=as_of,
        eval_samples=tuple(_n(eval_samples, j) for j in range(schedule.n_tasks)),
        accuracy_matrix=r,
        acc=acc,
        acc_se=acc_se,
        acc_per_boundary=matrix.average_accuracy_per_boundary(r),
        bwt=matrix.backward_transfer(r),
        fwt=matrix.forward_transfer(r, initial),
        initial_accuracy=initial,
        forgetting_per_task=forgetting,
        forgetting=matrix.mean_or_nan(forgetting),
        forgetting_from_learned_per_task=from_learned,
        forgetting_from_learned=matrix.mean_or_nan(from_learned),
        learning_accuracy_per_task=learned,
        learning_accuracy=matrix.mean_or_nan(learned),
        learning_accuracy_se=standard_error_of_mean(
            list(learned), [_n(eval_samples, j) for j in range(t)]
        ),
        min_acc_per_task=min_per_task,
        min_acc=float(min_per_boundary[last]) if t else float("nan"),
        min_acc_se=float(min_se_per_boundary[last]) if t else float("nan"),
        min_acc_per_boundary=min_per_boundary,
        wc_acc=float(wc_per_boundary[last]) if t else float("nan"),
        wc_acc_se=float(wc_se_per_boundary[last]) if t else float("nan"),
        wc_acc_per_boundary=wc_per_boundary,
        wc_acc_se_per_boundary=wc_se_per_boundary,
        wf=wf,
        wp=wp,
    )


def _windowed(w: int, per_task: FloatArray, average_over: int) -> Windowed:
    return Windowed(w, per_task, matrix.mean_or_nan(per_task[:average_over]))


@dataclass(frozen=True)
class BoundaryGaps:
    """The gap table of one boundary s_k, k >= 1.

    Attributes:
        task: k, the task whose start is the boundary.
        start: s_k.
        end: e_k, or None while task k is trained.
        window: w_k = min(L_k, gap_window) (gap_window while task k is trained).
        evaluated_until: The last evaluation of an earlier task in [s_k, e_k] so far.
        rows: (j, row) for each earlier task j; row None if j could not be measured there.
    """

    task: int
    start: int
    end: int | None
    window: int
    evaluated_until: int | None
    rows: list[tuple[int, GapRow | None]]

    @property
    def eligible(self) -> list[GapRow]:
        return [row for _, row in self.rows if row is not None and row.eligible]

    @property
    def mean_gap(self) -> float:
        return _mean([row.gap for row in self.eligible])

    @property
    def mean_depth(self) -> float:
        return _mean([row.depth for row in self.eligible])

    @property
    def mean_forgetting(self) -> float:
        return _mean([row.forgetting for row in self.eligible])

    @property
    def max_depth(self) -> float:
        return float(np.max([row.depth for row in self.eligible])) if self.eligible else np.nan


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


@dataclass(frozen=True)
class TaskClasses:
    """What chance_j needs: the classes of each task and whether the head is shared.

    Attributes:
        classes: Task j's classes (None where unknown, e.g. a loop run that did not send them).
        class_incremental: One head over every class seen so far (else per task or domain).
    """

    classes: tuple[tuple[int, ...] | None, ...] = ()
    class_incremental: bool = False

    def chance(self, k: int) -> list[float]:
        """chance_j at s_k for every j < k."""
        return [
            chance_level(self.classes, j, k, class_incremental=self.class_incremental)
            for j in range(k)
        ]


UNKNOWN_CLASSES = TaskClasses()
"""No task's classes known: chance is taken as 0."""


def stability_gaps(
    curves: Sequence[Curve],
    schedule: Schedule,
    *,
    gap_window: int = DEFAULT_GAP_WINDOW,
    classes: TaskClasses = UNKNOWN_CLASSES,
) -> list[BoundaryGaps]:
    """The per-boundary gap table for every task k >= 1 that has started (METRICS.md)."""
    out = []
    for k in range(1, schedule.n_tasks):
        start, end = schedule.starts[k], schedule.ends[k]
        rows = gap_table(curves, start, end, k, gap_window=gap_window, chance=classes.chance(k))
        # How far the earlier tasks' evaluations reach into task k (s_k itself included).
        seen = [curves[j].between(start, end) for j in range(min(k, len(curves)))]
        last = [int(curve.steps[-1]) for curve in seen if len(curve)]
        out.append(
            BoundaryGaps(
                k,
                start,
                end,
                window_length(start, end, gap_window),
                max(last) if last else None,
                rows,
            )
        )
    return out


def eligible_rows(boundaries: Sequence[BoundaryGaps]) -> list[GapRow]:
    """The eligible rows of the boundaries whose task has ended: what the run headlines pool."""
    return [row for b in boundaries if b.end is not None for row in b.eligible]
