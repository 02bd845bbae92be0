"""What a live stream sends."""

from __future__ import annotations

from pydantic import BaseModel, Field

from gapwatch.server.runs.schemas import RunRead


class LiveRunEvent(BaseModel):
    """The `data` of each `run` event of GET /runs/{id}/live."""

    run: RunRead
    points: int = Field(description="Accuracy points stored: a change means new curve points.")
    events: int = Field(description="Task-boundary events stored.")
