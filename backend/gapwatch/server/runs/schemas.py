"""Request and response models of the runs API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gapwatch.server.models import Run
from gapwatch.spec import RunSpec

RunStatusName = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class Progress(BaseModel):
    step: int = Field(description="Iterations done.")
    total: int | None = Field(description="Iterations planned, once the worker knows.")
    fraction: float | None = Field(description="step / total, in [0, 1].")


class Headline(BaseModel):
    """The runs list's numbers, computed from the stored points once the run has ended."""

    acc: float | None = Field(description="Final ACC (fraction).")
    min_acc: float | None = Field(description="Final min-ACC (fraction).")
    wc_acc: float | None = Field(description="Final WC-ACC (fraction).")
    mean_gap_depth: float | None = Field(
        description="Mean stability-gap depth over every evaluated (boundary, earlier task) "
        "pair of the ended tasks (fraction)."
    )


class RunRead(BaseModel):
    """A run as the API shows it."""

    id: int
    project: str = Field(description="The project the run belongs to.")
    name: str | None
    group: str | None
    tags: list[str]
    status: RunStatusName
    error: str | None
    spec: RunSpec
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    progress: Progress
    iterations_per_s: float | None
    worker: str | None
    attempts: int
    duration_s: float | None = Field(description="started_at to finished_at, once ended.")
    headline: Headline | None = Field(
        description="Null until the run has ended and the runs list has computed it."
    )

    @classmethod
    def from_row(cls, run: Run) -> RunRead:
        total = run.total_steps
        fraction = min(1.0, run.progress_step / total) if total else None
        return cls(
            id=run.id,
            project=run.project.name,
            name=run.name,
            group=run.group_name,
            tags=run.tags,
            status=run.status,  # type: ignore[arg-type]
            error=run.error,
            spec=RunSpec.model_validate(run.spec),
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            heartbeat_at=run.heartbeat_at,
            progress=Progress(step=run.progress_step, total=total, fraction=fraction),
            iterations_per_s=run.iterations_per_s,
            worker=run.worker,
            attempts=run.attempts,
            duration_s=run.duration_s,
            headline=None
            if run.headline_at is None
            else Headline(
                acc=run.headline_acc,
                min_acc=run.headline_min_acc,
                wc_acc=run.headline_wc_acc,
                mean_gap_depth=run.headline_gap_depth,
            ),
        )


class RunPage(BaseModel):
    items: list[RunRead]
    total: int
    limit: int
    offset: int


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClaimRequest(_Body):
    worker: str = Field(min_length=1, max_length=200, description="Who executes the run.")


class ClaimResponse(BaseModel):
    run: RunRead
    token: str = Field(description="Bearer token for this run's ingest and status endpoints.")


# The runs table keeps progress in 32-bit integers: the bounds say so (a larger step is a 422,
# not a database error).
MAX_PROGRESS_STEP = 2**31 - 1


class HeartbeatRequest(_Body):
    step: int = Field(ge=0, le=MAX_PROGRESS_STEP)
    total_steps: int = Field(ge=1, le=MAX_PROGRESS_STEP)
    iterations_per_s: float | None = Field(None, ge=0.0, le=1e9, allow_inf_nan=False)


class HeartbeatResponse(BaseModel):
    status: RunStatusName = Field(description="'cancelled' tells the worker to stop.")


class FinishRequest(_Body):
    status: Literal["succeeded", "failed"]
    error: str | None = Field(None, max_length=20_000)
