"""Metric batches in and series out, columnar: one key, its steps and its values.

Columnar bodies are a fraction of the size of one object per point and validate in one pass.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

METRIC_KEY_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_./\-]{0,127}$"
MAX_POINTS_PER_BATCH = 200_000
MAX_STEP = 2**53  # exact in a float64 (JSON numbers in browsers)

MetricKey = Annotated[str, Field(pattern=METRIC_KEY_PATTERN, examples=["eval/acc/task_0"])]
Step = Annotated[int, Field(ge=0, le=MAX_STEP)]
Value = Annotated[float, Field(allow_inf_nan=False)]


class SeriesBatch(BaseModel):
    """Points of one key: `values[i]` was measured at `steps[i]`."""

    model_config = ConfigDict(extra="forbid")

    key: MetricKey
    steps: list[Step] = Field(max_length=MAX_POINTS_PER_BATCH)
    values: list[Value] = Field(max_length=MAX_POINTS_PER_BATCH)

    @model_validator(mode="after")
    def _aligned(self) -> SeriesBatch:
        if len(self.steps) != len(self.values):
            raise ValueError(
                f"steps ({len(self.steps)}) and values ({len(self.values)}) differ in length"
            )
        if len(set(self.steps)) != len(self.steps):
            raise ValueError(f"steps of {self.key!r} repeat within one batch")
        return self


class MetricBatch(BaseModel):
    """A batch of points for one run. Sending it twice stores each point once."""

    model_config = ConfigDict(extra="forbid")

    series: list[SeriesBatch] = Field(min_length=1, max_length=1_000)

    @model_validator(mode="after")
    def _bounded(self) -> MetricBatch:
        keys = [s.key for s in self.series]
        if len(set(keys)) != len(keys):
            raise ValueError("a key appears twice in one batch; merge its points")
        total = sum(len(s.steps) for s in self.series)
        if total > MAX_POINTS_PER_BATCH:
            raise ValueError(f"{total} points in one batch; at most {MAX_POINTS_PER_BATCH}")
        return self

    @property
    def point_count(self) -> int:
        return sum(len(s.steps) for s in self.series)


class IngestResult(BaseModel):
    received: int = Field(description="Points in the batch.")
    stored: int = Field(description="Points new to the store; the rest were already there.")


class SeriesRead(BaseModel):
    key: str
    steps: list[int]
    values: list[float]


class MetricsRead(BaseModel):
    run_id: int
    series: list[SeriesRead]


class MetricKeys(BaseModel):
    run_id: int
    keys: list[str]
