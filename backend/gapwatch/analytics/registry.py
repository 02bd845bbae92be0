"""Every derived number of a run as one registry entry: (id, definition, formula, function).

The API's summary `metrics`, `GET /api/v1/definitions`, the dashboard's definitions on hover,
the stored headline numbers and the runs list's sortable columns are all read from `METRICS`.
A new metric is one function of `Analysis`, one `Metric` entry here and one hand-computed test.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np

from gapwatch.analytics import continual
from gapwatch.analytics.curves import Curve, Schedule
from gapwatch.analytics.gap import DEFAULT_GAP_WINDOW, RECOVERY_TOLERANCE, GapRow
from gapwatch.analytics.summary import (
    UNKNOWN_CLASSES,
    BoundaryGaps,
    Summary,
    TaskClasses,
    eligible_rows,
    stability_gaps,
    summarize,
)

Unit = Literal["fraction", "share"]
"""fraction: an accuracy or a difference of accuracies (x100 = points); share: a proportion."""


@dataclass(frozen=True)
class RunData:
    """What every metric of a run is computed from."""

    curves: Sequence[Curve]
    schedule: Schedule
    eval_samples: Sequence[int | None] = ()
    classes: TaskClasses = UNKNOWN_CLASSES
    gap_window: int = DEFAULT_GAP_WINDOW


class Analysis:
    """One run's analysis: the summary and gap tables, each computed once, on first use."""

    def __init__(self, data: RunData, windows: Sequence[int] = continual.DEFAULT_WINDOWS):
        self.data = data
        self.windows = tuple(windows)

    @cached_property
    def summary(self) -> Summary:
        return summarize(self.data.curves, self.data.schedule, self.data.eval_samples, self.windows)

    @cached_property
    def gaps(self) -> list[BoundaryGaps]:
        return stability_gaps(
            self.data.curves,
            self.data.schedule,
            gap_window=self.data.gap_window,
            classes=self.data.classes,
        )


@dataclass(frozen=True)
class MetricValue:
    """A metric's value (NaN: undefined so far), its standard error and what it averages.

    Attributes:
        value: The number.
        se: Its sampling standard error, where one is defined.
        n: How many terms it averages (tasks, or eligible gap rows).
    """

    value: float
    se: float = float("nan")
    n: int | None = None


@dataclass(frozen=True)
class Metric:
    """One derived number.

    Attributes:
        id: Stable key in the API, the store and sort parameters (`acc`, `gap`).
        label: Short name for tables and cards.
        definition: What it measures, in words (shown on hover).
        formula: How, as METRICS.md writes it.
        function: Analysis -> MetricValue.
        higher_is_better: Direction, for "best" marks and default sort order.
        unit: fraction (x100 = points) or share.
        headline: Stored once per ended run, a runs-list column and a sweep results column.
    """

    id: str
    label: str
    definition: str
    formula: str
    function: Callable[[Analysis], MetricValue] = field(repr=False)
    higher_is_better: bool
    unit: Unit = "fraction"
    headline: bool = False


def _completed(a: Analysis) -> int:
    return a.summary.tasks_completed


def _earlier(a: Analysis) -> int:
    """How many tasks a mean over j < T averages."""
    return max(_completed(a) - 1, 0)


def _over_eligible_rows(value: Callable[[GapRow], float]) -> Callable[[Analysis], MetricValue]:
    """The mean of `value` over the eligible rows of the ended boundaries, n = those rows."""

    def mean(a: Analysis) -> MetricValue:
        values = [value(row) for row in eligible_rows(a.gaps)]
        return MetricValue(float(np.mean(values)) if values else math.nan, n=len(values))

    return mean


def _windowed(kind: Literal["wf", "wp"], w: int) -> Callable[[Analysis], MetricValue]:
    def value(a: Analysis) -> MetricValue:
        for windowed in getattr(a.summary, kind):
            if windowed.w == w:
                return MetricValue(windowed.mean)
        return MetricValue(math.nan)  # an Analysis built with other windows

    return value


def _learning_accuracy(a: Analysis) -> MetricValue:
    s = a.summary
    return MetricValue(s.learning_accuracy, s.learning_accuracy_se, _completed(a))


def _fwt(a: Analysis) -> MetricValue:
    return MetricValue(a.summary.fwt, n=_earlier(a))


WINDOWED_FORGETTING_FORMULA = (
    "WF^w_j = max a_j(i) − a_j(l), i < l within w consecutive evaluations, i ≥ e_j (0 if no "
    "drop); mean over j < T"
)
WINDOWED_PLASTICITY_FORMULA = (
    "WP^w_k = max a_k(l) − a_k(i), i < l within w consecutive evaluations in [s_k, e_k] (0 if "
    "no rise); mean over tasks"
)

GAP_DEFINITION = (
    "Per boundary s_k and earlier task j, inside the window (s_k, s_k + w_k], w_k = min(L_k, "
    "gap_window): before = a_j(s_k), after = a_j(e_k), trough = min a_j; depth = before − "
    "trough; forgetting = max(0, before − after); gap = max(0, min(depth, after − trough)); "
    f"recovered when a_j ≥ before − {RECOVERY_TOLERANCE:g} again within task k. Rows whose "
    "before is under chance + 5 points are not eligible and are left out of every mean."
)

METRICS: tuple[Metric, ...] = (
    Metric(
        "acc",
        "ACC",
        "Final average accuracy over every task trained so far.",
        "ACC = (1/T) Σ_j R[T][j]",
        lambda a: MetricValue(a.summary.acc, a.summary.acc_se, _completed(a)),
        higher_is_better=True,
        headline=True,
    ),
    Metric(
        "bwt",
        "BWT",
        "Backward transfer: how later training changed earlier tasks' end-of-task accuracy "
        "(negative: forgetting).",
        "BWT = 1/(T-1) Σ_{j<T} (R[T][j] − R[j][j])",
        lambda a: MetricValue(a.summary.bwt, n=_earlier(a)),
        higher_is_better=True,
        headline=True,
    ),
    Metric(
        "fwt",
        "FWT",
        "Forward transfer: accuracy on a task before training it, against an untrained model.",
        "FWT = 1/(T-1) Σ_{j>1} (R[j-1][j] − b_j), b_j = untrained model's accuracy",
        _fwt,
        higher_is_better=True,
    ),
    Metric(
        "forgetting",
        "Forgetting",
        "Chaudhry et al.'s forgetting: the best end-of-task accuracy of each earlier task minus "
        "its final accuracy, averaged.",
        "f_j = max_{k∈[j,T-1]} R[k][j] − R[T][j], mean over j < T",
        lambda a: MetricValue(a.summary.forgetting, n=_earlier(a)),
        higher_is_better=False,
        headline=True,
    ),
    Metric(
        "forgetting_from_learned",
        "Forgetting (from learned)",
        "Each earlier task's accuracy right after its training minus its final accuracy "
        "(the convention of some libraries).",
        "f_j = R[j][j] − R[T][j], mean over j < T",
        lambda a: MetricValue(a.summary.forgetting_from_learned, n=_earlier(a)),
        higher_is_better=False,
    ),
    Metric(
        "learning_accuracy",
        "Learning accuracy",
        "Accuracy on each task right after training it: plasticity.",
        "LA_k = R[k][k], mean over k",
        _learning_accuracy,
        higher_is_better=True,
    ),
    Metric(
        "min_acc",
        "min-ACC",
        "Worst accuracy each earlier task ever fell to after its own training (continual "
        "evaluation), averaged.",
        "min-ACC(k) = mean_{j<k} min_{e_j ≤ i ≤ e_k} a_j(i) over evaluated i",
        lambda a: MetricValue(a.summary.min_acc, a.summary.min_acc_se, _earlier(a)),
        higher_is_better=True,
        headline=True,
    ),
    Metric(
        "wc_acc",
        "WC-ACC",
        "Worst-case accuracy: the latest task's accuracy weighed with the earlier tasks' min-ACC.",
        "WC-ACC(k) = (1/k)·R[k][k] + (1 − 1/k)·min-ACC(k)",
        lambda a: MetricValue(a.summary.wc_acc, a.summary.wc_acc_se, _completed(a)),
        higher_is_better=True,
        headline=True,
    ),
    *(
        Metric(
            f"wf{w}",
            f"WF{w}",
            f"Windowed forgetting: the largest drop of an earlier task within {w} consecutive "
            "evaluations, averaged over tasks.",
            f"{WINDOWED_FORGETTING_FORMULA} (w = {w})",
            _windowed("wf", w),
            higher_is_better=False,
        )
        for w in continual.DEFAULT_WINDOWS
    ),
    *(
        Metric(
            f"wp{w}",
            f"WP{w}",
            f"Windowed plasticity: the largest rise of a task within {w} consecutive "
            "evaluations of its own training, averaged over tasks.",
            f"{WINDOWED_PLASTICITY_FORMULA} (w = {w})",
            _windowed("wp", w),
            higher_is_better=True,
        )
        for w in continual.DEFAULT_WINDOWS
    ),
    Metric(
        "gap",
        "Stability gap",
        "The part of the drop right after a boundary that came back by the end of the task, "
        "averaged over eligible (boundary, earlier task) rows. " + GAP_DEFINITION,
        "gap = max(0, min(before − trough, after − trough)), mean over eligible rows",
        _over_eligible_rows(lambda row: row.gap),
        higher_is_better=False,
        headline=True,
    ),
    Metric(
        "gap_depth",
        "Gap depth",
        "The whole drop inside the window after a boundary, whether it came back or not, "
        "averaged over eligible rows.",
        "depth = before − min_{i∈(s_k, s_k+w_k]} a_j(i), mean over eligible rows",
        _over_eligible_rows(lambda row: row.depth),
        higher_is_better=False,
        headline=True,
    ),
    Metric(
        "gap_forgetting",
        "Boundary forgetting",
        "What an earlier task had not got back by the end of the next task, averaged over "
        "eligible rows.",
        "forgetting = max(0, a_j(s_k) − a_j(e_k)), mean over eligible rows",
        _over_eligible_rows(lambda row: row.forgetting),
        higher_is_better=False,
        headline=True,
    ),
    Metric(
        "gap_recovered",
        "Recovered",
        "Share of eligible rows whose accuracy came back to within one point of before, "
        "within the task.",
        f"share of eligible rows with a_j(i) ≥ before − {RECOVERY_TOLERANCE:g} after the trough",
        _over_eligible_rows(lambda row: float(row.recovered_at is not None)),
        higher_is_better=True,
        unit="share",
        headline=True,
    ),
)

_BY_ID = {m.id: m for m in METRICS}
HEADLINE_METRICS: tuple[Metric, ...] = tuple(m for m in METRICS if m.headline)


def metric(metric_id: str) -> Metric:
    """The registry entry `metric_id` (KeyError if there is none)."""
    return _BY_ID[metric_id]


def evaluate(analysis: Analysis, metrics: Sequence[Metric] = METRICS) -> dict[str, MetricValue]:
    """{id: value} of `metrics` for one run."""
    return {m.id: m.function(analysis) for m in metrics}


__all__ = [
    "HEADLINE_METRICS",
    "METRICS",
    "Analysis",
    "Metric",
    "MetricValue",
    "RunData",
    "evaluate",
    "metric",
]
