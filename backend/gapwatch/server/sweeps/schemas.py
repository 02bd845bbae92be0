"""Request and response models of the sweeps API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gapwatch.server.summaries.schemas import AlignedBandRead, Definition
from gapwatch.spec import MAX_SEED, PROJECT_NAME_PATTERN, RunSpec, Text
from gapwatch.sweep_plan import MAX_AXES, MAX_PATH_CHARS, MAX_RUNS, MAX_VALUES_PER_AXIS

SweepMethod = Literal["grid", "random"]
AxisPath = Annotated[str, Field(min_length=1, max_length=MAX_PATH_CHARS)]


class SweepRequest(BaseModel):
    """A sweep: runs of `base` with each combination of the axes' values."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100), Text] | None = Field(
        None, description="Default: sweep-<id>. Each run's group is this name and its values."
    )
    project: str | None = Field(
        None,
        pattern=PROJECT_NAME_PATTERN,
        description="You need the editor role there. Default: the base spec's project, else the "
        "API key's project, else 'default'.",
    )
    base: RunSpec = Field(description="The run spec every run starts from.")
    axes: dict[
        AxisPath, Annotated[list[Any], Field(min_length=1, max_length=MAX_VALUES_PER_AXIS)]
    ] = Field(
        min_length=1,
        max_length=MAX_AXES,
        description="Dotted spec paths and the values each takes, e.g. "
        '{"strategy.name": ["er", "der"], "optimizer.lr": [0.1, 0.01], "seed": [0, 1, 2]}. '
        "Setting a union's name (strategy.name) keeps the base's options that the new "
        f"variant also has. At most {MAX_AXES} axes of {MAX_VALUES_PER_AXIS} values.",
    )
    method: SweepMethod = Field(
        "grid",
        description="grid: every combination (the first axis varies slowest); random: `budget` "
        "distinct configurations of the non-seed axes drawn with `seed`, each run with every "
        "value of the `seed` axis.",
    )
    budget: int | None = Field(
        None,
        ge=1,
        le=MAX_RUNS,
        description="grid: runs at most (a larger grid is refused); random: how many "
        "configurations to draw (required), each run once per seed.",
    )
    seed: int | None = Field(
        None,
        ge=0,
        le=MAX_SEED,
        description="A random sweep's sampling seed (not the runs' seeds: sweep those with a "
        "`seed` axis). Default: drawn, and shown on the sweep.",
    )


class SweepProgress(BaseModel):
    """How many of the sweep's runs are in each state."""

    queued: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    crashed: int = 0


class SweepRead(BaseModel):
    """A sweep as the API shows it."""

    id: int
    name: str
    project: str
    method: SweepMethod
    axes: dict[str, list[Any]] = Field(description="The axes in their order.")
    base: RunSpec
    budget: int | None
    seed: int | None = Field(
        description="The sampling seed of a random sweep (drawn when the request gave none)."
    )
    created_at: datetime
    runs: int = Field(description="How many runs the sweep created.")
    progress: SweepProgress
    run_ids: list[int] = Field(description="Its runs, in the order they were planned.")


class SweepPage(BaseModel):
    items: list[SweepRead]
    total: int
    limit: int
    offset: int


class ResultCell(BaseModel):
    """One metric of one configuration over its seeds."""

    mean: float | None = Field(description="Mean over the runs that contribute; null if none.")
    ci95: float | None = Field(
        description="Half width of the 95% confidence interval of the mean (Student t); null "
        "with fewer than two runs."
    )
    n: int = Field(description="Runs that contribute: succeeded, with the number defined.")
    provisional: bool = Field(
        description="Some run of the configuration has not ended yet (or its numbers are "
        "still being written)."
    )


class ResultRow(BaseModel):
    config: dict[str, Any] = Field(description="The configuration: every axis but `seed`.")
    run_ids: list[int]
    seeds: list[int]
    cells: dict[str, ResultCell] = Field(description="By metric id.")


class SweepResults(BaseModel):
    sweep_id: int
    axes: list[str] = Field(description="The configuration's axes (every axis but `seed`).")
    metrics: list[Definition] = Field(description="The headline metrics, the cells' keys.")
    rows: list[ResultRow] = Field(description="One per configuration, in the sweep's order.")


class ConfigurationBand(BaseModel):
    config: dict[str, Any] = Field(description="The configuration: every axis but `seed`.")
    run_ids: list[int] = Field(description="The runs averaged: running or succeeded.")
    band: AlignedBandRead


class SweepAligned(BaseModel):
    """The boundary-aligned view per configuration: each run's mean over its eligible rows,
    then mean ± 95% CI across the configuration's runs."""

    sweep_id: int
    configs: list[ConfigurationBand] = Field(description="One per configuration, in order.")
