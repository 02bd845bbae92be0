"""Runs side by side: their summaries, spread across them, and series aligned by step."""

from __future__ import annotations

from pydantic import BaseModel, Field

from gapwatch.server.runs.schemas import RunRead
from gapwatch.server.summaries.schemas import RunCostTotals, RunSummary

Number = float | None


class Spread(BaseModel):
    """One metric across the compared runs: over the runs where it is defined, only."""

    mean: Number
    std: Number = Field(description="Sample standard deviation (n − 1); null for one run.")
    n: int = Field(
        description="Runs that contribute to this number: those where it is defined (a run "
        "cancelled before its first task ended contributes none), so n differs per number."
    )
    run_ids: list[int] = Field(description="The n runs that contribute, in run_ids order.")
    provisional: bool = Field(
        description="A contributing run has not ended (queued or running): the number may "
        "still change."
    )


class WindowSpread(Spread):
    w: int


class SummarySpread(BaseModel):
    """Mean ± std of each summary number across the runs (e.g. seeds of one group)."""

    acc: Spread
    bwt: Spread
    fwt: Spread
    forgetting: Spread
    forgetting_from_learned: Spread
    learning_accuracy: Spread
    min_acc: Spread
    wc_acc: Spread
    wf: list[WindowSpread]
    wp: list[WindowSpread]
    metrics: dict[str, Spread] = Field(
        description="Every registry metric of the summaries by id (GET /api/v1/definitions), "
        "each over the runs that have it."
    )


class AlignedSeries(BaseModel):
    """One key of every run on a shared step axis."""

    key: str
    steps: list[int] = Field(description="Union of the steps returned for any run.")
    values: list[list[Number]] = Field(
        description="One list per run (in `run_ids` order), aligned with `steps`; null where "
        "that run has no point at that step."
    )
    mean: list[Number] = Field(description="Mean over the runs with a point at each step.")
    std: list[Number] = Field(description="Sample std over them; null with fewer than two.")
    count: list[int]
    downsampled: bool = Field(
        description="Each run's range was reduced with M4 over the same step buckets."
    )


class Comparison(BaseModel):
    run_ids: list[int]
    runs: list[RunRead] = Field(description="The runs of run_ids, in the same order.")
    group: str | None
    summaries: list[RunSummary]
    spread: SummarySpread
    series: list[AlignedSeries] = Field(
        description="Each of `keys` (eval/acc/..., diag/..., any logged key) on a shared step axis."
    )
    costs: list[RunCostTotals] = Field(
        description="Each run's cost totals and ratios to its joint baseline, in run_ids order "
        "(empty totals for a run without cost points)."
    )
