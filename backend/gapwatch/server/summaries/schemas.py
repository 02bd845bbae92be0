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

from gapwatch.analytics.continual import DEFAULT_WINDOWS

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


class RunSummary(BaseModel):
    """Every METRICS.md number of a run, at the end of its last ended task."""

    run_id: int
    status: str
    tasks_total: int | None = Field(description="Tasks planned (from the spec), if known.")
    tasks_completed: int = Field(description="T: tasks whose task_end event is stored.")
    complete: bool = Field(description="Every planned task has ended: these are final.")
    as_of_step: int | None = Field(description="e_T of the last ended task: the snapshot step.")
    eval_samples: EvalSamples
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
    evaluated: bool = Field(description="False if task j has no evaluation at s_k.")
    before: Number = None
    before_se: Number = None
    trough: Number = None
    trough_at: int | None = Field(None, description="Iterations from s_k to the trough.")
    depth: Number = Field(None, description="before − trough (fraction; x100 for points).")
    relative_depth: Number = None
    recovered_at: int | None = Field(
        None, description="Iterations from s_k to recovery within 1 point; null if never."
    )
    area: Number = Field(None, description="Accuracy-iterations lost while learning task k.")
    evaluations: int = Field(0, description="Evaluations of task j in [s_k, e_k].")


class BoundaryGapsRead(BaseModel):
    task: int = Field(description="k: the boundary is s_k, the start of task k.")
    start: int = Field(description="s_k.")
    end: int | None = Field(description="e_k; null while task k is trained.")
    complete: bool = Field(description="False while task k is trained: the rows may change.")
    evaluated_until: int | None
    mean_depth: Number
    max_depth: Number
    rows: list[GapRowRead]


class RunGaps(BaseModel):
    """The stability gap of every earlier task at every task boundary."""

    run_id: int
    definition: str
    formula: str
    recovery_tolerance: float = Field(description="Recovered: a_j >= before − this.")
    boundaries: list[BoundaryGapsRead]


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
