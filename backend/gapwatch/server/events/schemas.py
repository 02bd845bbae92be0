"""Run events in and out: task boundaries and other discrete happenings at a step."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gapwatch.components import EVENT_KIND_PATTERN, MAX_PAYLOAD_CHARS, check_json
from gapwatch.server.metrics.schemas import Step

# The largest events body: a batch of boundaries and notes, far below this.
EVENTS_BODY_LIMIT = 2**20


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: Step
    kind: str = Field(pattern=EVENT_KIND_PATTERN, examples=["task_start"])
    payload: dict[str, Any] = Field(default_factory=dict)

    @field_validator("payload")
    @classmethod
    def _small(cls, payload: dict[str, Any]) -> dict[str, Any]:
        if len(repr(payload)) > MAX_PAYLOAD_CHARS:
            raise ValueError(f"payload larger than {MAX_PAYLOAD_CHARS} characters")
        check_json(payload, "payload")
        return payload


class EventBatch(BaseModel):
    """Events of one run; an event already stored (same kind and step) is kept as it was."""

    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1, max_length=10_000)


class EventIngestResult(BaseModel):
    received: int
    stored: int


class EventRead(BaseModel):
    step: int
    kind: str
    payload: dict[str, Any]
    created_at: datetime


class EventsRead(BaseModel):
    run_id: int
    events: list[EventRead]
