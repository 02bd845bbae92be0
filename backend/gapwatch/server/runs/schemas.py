"""Request and response models of the runs API."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gapwatch.server.metrics.schemas import MAX_STEP
from gapwatch.server.models import Run
from gapwatch.spec import (
    MAX_CONFIG_BYTES,
    MAX_CONFIG_DEPTH,
    MAX_CONFIG_KEY_CHARS,
    PROJECT_NAME_PATTERN,
    RunSpec,
    Text,
    check_json,
    check_text,
)

RunStatusName = Literal["queued", "running", "succeeded", "failed", "cancelled", "crashed"]
RunKindName = Literal["engine", "loop"]


class Progress(BaseModel):
    step: int = Field(description="Iterations done.")
    total: int | None = Field(description="Iterations planned, once the worker knows.")
    fraction: float | None = Field(description="step / total, in [0, 1].")


class RunRead(BaseModel):
    """A run as the API shows it."""

    id: int
    kind: RunKindName = Field(
        description="'engine': executed by a worker from its spec; 'loop': logged by the "
        "user's own training loop (gapwatch.init), with a free-form config and no spec."
    )
    project: str = Field(description="The project the run belongs to.")
    name: str | None
    group: str | None
    tags: list[str]
    status: RunStatusName
    error: str | None
    spec: RunSpec | None = Field(description="The engine run's spec; null for a loop run.")
    config: dict[str, Any] = Field(
        description="A loop run's free-form config (searchable as ?config.<path>=<value>); "
        "empty for an engine run, whose settings are its spec."
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    progress: Progress
    iterations_per_s: float | None
    worker: str | None
    attempts: int
    sweep_id: int | None = Field(description="The sweep that created the run, if any.")
    duration_s: float | None = Field(description="started_at to finished_at, once ended.")
    headline: dict[str, float | None] | None = Field(
        description="The headline numbers by metric id (GET /api/v1/definitions lists them, "
        "with headline=true), written once when the run ended; null before (or if they could "
        "not be computed yet: the API's sweep writes them)."
    )

    @classmethod
    def from_row(cls, run: Run) -> RunRead:
        total = run.total_steps
        fraction = min(1.0, run.progress_step / total) if total else None
        return cls(
            id=run.id,
            kind=run.kind,  # type: ignore[arg-type]
            project=run.project.name,
            name=run.name,
            group=run.group_name,
            tags=run.tags,
            status=run.status,  # type: ignore[arg-type]
            error=run.error,
            spec=None if run.spec is None else stored_spec(run.spec),
            config=run.config or {},
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            heartbeat_at=run.heartbeat_at,
            progress=Progress(step=run.progress_step, total=total, fraction=fraction),
            iterations_per_s=run.iterations_per_s,
            worker=run.worker,
            attempts=run.attempts,
            sweep_id=run.sweep_id,
            duration_s=run.duration_s,
            headline=None
            if run.headline_at is None
            else {row.metric: row.value for row in run.headlines},
        )


class RunPage(BaseModel):
    items: list[RunRead]
    total: int
    limit: int
    offset: int


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClaimRequest(_Body):
    worker: Annotated[str, Text] = Field(
        min_length=1, max_length=200, description="Who executes the run."
    )


class ClaimResponse(BaseModel):
    run: RunRead
    token: str = Field(description="Bearer token for this run's ingest and status endpoints.")


# A heartbeat's step is a metric step (64-bit columns since revision 0006): the bounds are the
# metrics' own, so any step a point may have can be reported as progress.
MAX_PROGRESS_STEP = MAX_STEP


class HeartbeatRequest(_Body):
    step: int = Field(ge=0, le=MAX_PROGRESS_STEP)
    total_steps: int | None = Field(
        None, ge=1, le=MAX_PROGRESS_STEP, description="Null when the loop does not know it."
    )
    iterations_per_s: float | None = Field(None, ge=0.0, le=1e9, allow_inf_nan=False)


class HeartbeatResponse(BaseModel):
    status: RunStatusName = Field(description="'cancelled' tells the worker to stop.")


class FinishRequest(_Body):
    status: Literal["succeeded", "failed"]
    error: str | None = Field(None, max_length=20_000)

    @field_validator("error")
    @classmethod
    def _storable(cls, error: str | None) -> str | None:
        return None if error is None else check_text(error)


class LoopRunRequest(_Body):
    """`gapwatch.init`: open a run for the caller's own training loop."""

    project: str | None = Field(
        None,
        pattern=PROJECT_NAME_PATTERN,
        description="Default: the API key's project, else 'default'.",
    )
    name: Annotated[str, Field(min_length=1, max_length=200), Text] | None = None
    group: Annotated[str, Field(min_length=1, max_length=200), Text] | None = None
    tags: list[Annotated[str, Text]] = Field(default_factory=list, max_length=32)
    config: dict[str, Any] = Field(
        default_factory=dict,
        description=f"Free-form settings of the run: JSON, at most {MAX_CONFIG_BYTES} bytes, "
        f"{MAX_CONFIG_DEPTH} levels deep, finite numbers.",
    )
    host: Annotated[str, Field(min_length=1, max_length=200), Text] | None = Field(
        None, description="Where the loop runs (shown as worker)."
    )
    client_key: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.:-]{8,100}$",
        description="The client's own id for this run (the SDK's per init call, an offline "
        "directory's name): an init that repeats it in the same project does not create a "
        "second run but resumes the first (200 instead of 201), so a retried request or a "
        "re-synced directory opens one run.",
    )

    @field_validator("tags")
    @classmethod
    def _valid_tags(cls, tags: list[str]) -> list[str]:
        for tag in tags:
            if not 1 <= len(tag) <= 64:
                raise ValueError("a tag has 1 to 64 characters")
        return list(dict.fromkeys(tags))

    @field_validator("config")
    @classmethod
    def _valid_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        check_json(config, "config", max_depth=MAX_CONFIG_DEPTH, max_key=MAX_CONFIG_KEY_CHARS)
        size = len(json.dumps(config, separators=(",", ":")).encode())
        if size > MAX_CONFIG_BYTES:
            raise ValueError(f"config is {size} bytes; at most {MAX_CONFIG_BYTES}")
        return config


class ResumeRequest(_Body):
    host: Annotated[str, Field(min_length=1, max_length=200), Text] | None = None


class OpenedRunResponse(BaseModel):
    run: RunRead
    token: str = Field(
        description="Bearer token for this run's metrics, events, heartbeat and finish; shown once."
    )


def stored_spec(raw: dict[str, Any]) -> RunSpec:
    """A stored spec as the API shows it. A spec that no longer validates (it names a plugin
    that was uninstalled since, or predates a bound) is still the run's record: it is shown as
    stored, not refused with a 500 for every page that lists the run."""
    try:
        return RunSpec.model_validate(raw)
    except ValidationError:
        return RunSpec.model_construct(**raw)
