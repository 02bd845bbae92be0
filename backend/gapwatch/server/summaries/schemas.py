"""Run summaries and stability-gap tables as the API shows them.

Accuracies are fractions in [0, 1] (x100 for percentage points); tasks are 0-based as in the
metric keys, while each `formula` is written 1-based as in METRICS.md. `null` marks a number
that is undefined for this run (e.g. BWT of a one-task run, FWT without unseen-task
evaluations); `se` is the standard error sqrt(p(1-p)/n) from the evaluation subset size.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from gapwatch.analytics.aligned import DEFAULT_MARGIN
from gapwatch.analytics.continual import DEFAULT_WINDOWS
from gapwatch.analytics.gap import DEFAULT_GAP_WINDOW, MAX_GAP_WINDOW

Number = float | None


class Named(BaseModel):
    definition: str = Field(description="Which definition this number follows (stable id).")
    formula: str = Field(description="The definition, as METRICS.md writes it (1-based).")


class AverageAccuracy(Named):
    value: Number
    se: Number
    per_boundary: list[Number] = Field(description="ACC at the end of each task k.")


class Transfer(Named):
    value: Number


class ForwardTransfer(Named):
    value: Number
    initial_accuracy: list[Number] = Field(
        description="b_j: the untrained model's accuracy on task j (step 0), where evaluated."
    )
    note: str | None = None


class Forgetting(Named):
    value: Number = Field(description="Mean over tasks j < T.")
    per_task: list[Number] = Field(description="Tasks j < T.")


class LearningAccuracy(Named):
    value: Number = Field(description="Mean of R[k][k] over tasks.")
    se: Number
    per_task: list[Number]


class MinAccuracy(Named):
    value: Number = Field(description="Final min-ACC: mean over tasks j < T.")
    se: Number
    per_task: list[Number] = Field(description="min over evaluated i >= e_j, each ended task.")
    per_boundary: list[Number] = Field(description="min-ACC at the end of each task k.")


class WorstCaseAccuracy(Named):
    value: Number
    se: Number
    per_boundary: list[Number]
    se_per_boundary: list[Number]


class WindowValue(BaseModel):
    w: int = Field(description="Window: consecutive evaluations.")
    value: Number = Field(description="Mean over the tasks the definition averages.")
    per_task: list[Number]


class Windowed(Named):
    windows: list[WindowValue]


class AccuracyMatrix(Named):
    rows: list[list[Number]] = Field(description="rows[k][j] = R[k][j], 0-based.")


class EvalSamples(BaseModel):
    per_task: list[int | None] = Field(description="n used for the standard errors, per task.")
    source: Literal["task_start.eval_samples", "spec.evaluation.subset_size", "mixed", "none"]


class MetricRead(BaseModel):
    """One registry metric's value for a run (GET /api/v1/definitions says what it means)."""

    value: Number
    se: Number = Field(None, description="Sampling standard error, where one is defined.")
    n: int | None = Field(None, description="How many terms it averages (tasks or gap rows).")


class Definition(BaseModel):
    """One entry of the metric registry."""

    id: str = Field(description="The key in `metrics`, in stored headlines and in `sort=`.")
    label: str
    definition: str = Field(description="What it measures, in words.")
    formula: str = Field(description="How, as METRICS.md writes it (1-based).")
    higher_is_better: bool
    unit: Literal["fraction", "share"] = Field(
        description="fraction: an accuracy or a difference (x100 for points); share: 0 to 1."
    )
    headline: bool = Field(
        description="Stored once when a run ends; a runs-list and sweep-results column."
    )


class RunSummary(BaseModel):
    """Every METRICS.md number of a run, at the end of its last ended task."""

    run_id: int
    status: str
    tasks_total: int | None = Field(description="Tasks planned (from the spec), if known.")
    tasks_completed: int = Field(description="T: tasks whose task_end event is stored.")
    complete: bool = Field(description="Every planned task has ended: these are final.")
    as_of_step: int | None = Field(description="e_T of the last ended task: the snapshot step.")
    gap_window: int = Field(description="The stability-gap window the gap metrics used.")
    eval_samples: EvalSamples
    metrics: dict[str, MetricRead] = Field(
        description="Every registry metric by id (GET /api/v1/definitions)."
    )
    accuracy_matrix: AccuracyMatrix
    acc: AverageAccuracy
    bwt: Transfer
    fwt: ForwardTransfer
    forgetting: Forgetting
    forgetting_from_learned: Forgetting
    learning_accuracy: LearningAccuracy
    min_acc: MinAccuracy
    wc_acc: WorstCaseAccuracy
    wf: Windowed
    wp: Windowed


class GapRowRead(BaseModel):
    task: int = Field(description="j, the earlier task.")
    evaluated: bool = Field(
        description="False if task j has no evaluation at s_k or none inside the window."
    )
    eligible: bool = Field(
        False,
        description="before − chance ≥ 0.05: it had something to lose. Rows that are not are "
        "left out of every mean.",
    )
    chance: Number = Field(None, description="chance_j: 1 / classes the head can answer.")
    before: Number = Field(None, description="a_j(s_k).")
    before_se: Number = None
    after: Number = Field(None, description="a_j(e_k); the latest value while task k runs.")
    trough: Number = Field(None, description="min a_j over (s_k, s_k + w_k].")
    trough_at: int | None = Field(None, description="Iterations from s_k to the trough.")
    depth: Number = Field(None, description="before − trough (fraction; x100 for points).")
    gap: Number = Field(
        None, description="max(0, min(depth, after − trough)): the part of the drop that came back."
    )
    forgetting: Number = Field(None, description="max(0, before − after): what did not.")
    recovered_at: int | None = Field(
        None, description="Iterations from s_k to recovery within 1 point; null if never."
    )
    area: Number = Field(None, description="Accuracy-iterations lost while learning task k.")
    evaluations: int = Field(0, description="Evaluations of task j inside the window.")


class BoundaryGapsRead(BaseModel):
    task: int = Field(description="k: the boundary is s_k, the start of task k.")
    start: int = Field(description="s_k.")
    end: int | None = Field(description="e_k; null while task k is trained.")
    window: int = Field(description="w_k = min(e_k − s_k, gap_window).")
    complete: bool = Field(description="False while task k is trained: the rows may change.")
    evaluated_until: int | None
    eligible: int = Field(description="How many rows are eligible (the means' n).")
    mean_gap: Number = Field(description="Mean gap over eligible rows.")
    mean_depth: Number = Field(description="Mean depth over eligible rows.")
    mean_forgetting: Number = Field(description="Mean forgetting over eligible rows.")
    max_depth: Number
    rows: list[GapRowRead]


class RunGaps(BaseModel):
    """The stability gap of every earlier task at every task boundary."""

    run_id: int
    definition: str
    formula: str
    gap_window: int = Field(description="The window cap used, in iterations.")
    recovery_tolerance: float = Field(description="Recovered: a_j >= before − this.")
    eligibility_margin: float = Field(description="Eligible: before − chance >= this.")
    boundaries: list[BoundaryGapsRead]


class AlignedBandRead(BaseModel):
    """The boundary-aligned view: a_j(s_k + t) − before, mean over eligible (j, k) (and over
    runs), with a 95% confidence band (null where fewer than two values)."""

    offsets: list[int] = Field(description="t: iterations since the boundary.")
    mean: list[Number]
    lower: list[Number]
    upper: list[Number]
    n: list[int] = Field(description="Values averaged at each offset (runs, or rows of one run).")
    rows: int = Field(description="Eligible (j, k) rows in all.")
    gap_window: int
    margin: int


GapWindowQuery = Annotated[
    int | None,
    Query(
        ge=1,
        le=MAX_GAP_WINDOW,
        description=f"The gap window in iterations; default: the run's setting, else "
        f"{DEFAULT_GAP_WINDOW}.",
    ),
]
MAX_MARGIN = 100_000
MarginQuery = Annotated[
    int,
    Query(ge=0, le=MAX_MARGIN, description="Iterations shown before each boundary."),
]
DEFAULT_MARGIN_QUERY = DEFAULT_MARGIN


MAX_WINDOW = 1_000_000
DEFAULT_WINDOWS_QUERY = ",".join(map(str, DEFAULT_WINDOWS))


WindowsQuery = Annotated[
    str,
    Query(
        description="Comma-separated window sizes w of WF^w and WP^w (evaluations, 2 to "
        f"{MAX_WINDOW:,}).",
        examples=["10,100"],
    ),
]


def parse_windows(windows: str) -> tuple[int, ...]:
    """The `windows` parameter as sorted unique sizes, or a 422 naming it."""
    try:
        sizes = sorted({int(w) for w in windows.split(",") if w.strip()})
    except ValueError:
        sizes = []
    if not sizes or len(sizes) > 8 or sizes[0] < 2 or sizes[-1] > MAX_WINDOW:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "windows"),
                    "msg": f"give 1 to 8 comma-separated integers from 2 to {MAX_WINDOW}",
                    "input": windows,
                }
            ]
        )
    return tuple(sizes)


COST_FORMULA = (
    "ratio_q = total_q(run) / total_q(joint): the run's last cost/run/<q> point over that of "
    "the joint run of the same benchmark in its group or sweep (same seed preferred, else "
    "the mean of the joint runs)"
)


class CostBaseline(BaseModel):
    """The joint run(s) a run's costs are divided by (Harun et al. 2023: cost against
    retraining on everything seen)."""

    run_ids: list[int] = Field(
        description="The joint runs used: the one(s) of the run's seed, else every joint run "
        "of the same benchmark in its group or sweep (their mean)."
    )
    totals: dict[str, float] = Field(description="Their (mean) totals by quantity.")
    ratios: dict[str, Number] = Field(
        description="The run's total over the baseline's, by quantity; null where the "
        "baseline's is 0 or missing (e.g. accelerator memory on a CPU)."
    )


class RunCostTotals(BaseModel):
    """A run's cost totals and their ratios to its joint baseline."""

    run_id: int
    totals: dict[str, float] = Field(
        description="{q: the last cost/run/<q> point}: the run's total so far (peaks: the "
        "maximum so far). Empty when the run logged no cost points."
    )
    baseline: CostBaseline | None = Field(
        description="Null when no joint run of the same benchmark is in the run's group or "
        "sweep, or none has cost points."
    )
    formula: str = COST_FORMULA


class TaskCostRead(BaseModel):
    task: int = Field(description="0-based; from the task_end event at this step.")
    step: int = Field(description="The task's end step, where its cost/task/<q> points are.")
    values: dict[str, float] = Field(description="{q: that task's cost/task/<q>}.")


class RunCost(RunCostTotals):
    """Per task and per run: updates, samples, FLOPs, memory, replay bytes, seconds."""

    quantities: list[str] = Field(description="The quantities present, in display order.")
    tasks: list[TaskCostRead]
