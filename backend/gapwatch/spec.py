"""The run specification: the contract shared by the API, the UI form, the worker and the client.

A `RunSpec` says everything needed to reproduce a continual-learning run. Every number has bounds,
so that a typo (a zero batch, 10^12 iterations) is a 422 at submission and never a worker that
runs for a year. Names of benchmarks, models, strategies and optimizers are discriminated unions:
an unknown name is rejected with the list of valid ones, and the JSON schema that the UI builds
its form from carries each option's defaults and bounds.

The parts live in `gapwatch.components` and are re-exported here; this module adds what
depends on the installed plugins: the unions of every strategy, model and benchmark that entry
points declare (`gapwatch.plugins`), and `RunSpec` over them.

This module imports neither torch nor the server: users' own training loops import it too
(a plugin's own module may import more).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from gapwatch import plugins
from gapwatch.components import *  # noqa: F403 - this module is the parts' public face
from gapwatch.components import (
    BUILTIN_BENCHMARKS,
    BUILTIN_MODELS,
    BUILTIN_STRATEGIES,
    DEVICE_PATTERN,
    MAX_ITERATIONS_PER_TASK,
    MAX_SEED,
    PROJECT_NAME_PATTERN,
    BenchmarkSpecBase,
    EvaluationSpec,
    ModelSpecBase,
    OptimizerSpec,
    StrategySpecBase,
    Text,
    TrainingSpec,
    _Strict,
)

# --- Plugins: every component that entry points declare, built-ins first ----------------------

STRATEGY_COMPONENTS = plugins.discover("strategies", BUILTIN_STRATEGIES, StrategySpecBase)
MODEL_COMPONENTS = plugins.discover("models", BUILTIN_MODELS, ModelSpecBase)
BENCHMARK_COMPONENTS = plugins.discover("benchmarks", BUILTIN_BENCHMARKS, BenchmarkSpecBase)

StrategySpec: Any = plugins.union_of(STRATEGY_COMPONENTS)
ModelSpec: Any = plugins.union_of(MODEL_COMPONENTS)
BenchmarkSpec: Any = plugins.union_of(BENCHMARK_COMPONENTS)


class RunSpec(_Strict):
    """Everything needed to reproduce one continual-learning run."""

    project: str | None = Field(
        None,
        pattern=PROJECT_NAME_PATTERN,
        description="The project the run belongs to (you need the editor role there). "
        "Default: the API key's project, else 'default'.",
    )
    name: Annotated[str, Field(max_length=200), Text] | None = None
    group: Annotated[str, Field(max_length=200), Text] | None = Field(
        None, description="Runs that differ only by seed share a group."
    )
    tags: list[Annotated[str, Field(min_length=1, max_length=64), Text]] = Field(
        default_factory=list, max_length=32
    )
    benchmark: BenchmarkSpec
    model: ModelSpec
    strategy: StrategySpec
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    evaluation: EvaluationSpec = Field(default_factory=EvaluationSpec)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N.")
    queue: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="Celery queue of the run (e.g. gpu, cpu, a lab's label); workers subscribe "
        "with `gapwatch worker -Q`. Default: GAPWATCH_QUEUE.",
    )
    checkpoint_every: int | None = Field(
        1000,
        ge=1,
        le=MAX_ITERATIONS_PER_TASK,
        description="Iterations between checkpoints a restarted run resumes from; null: never.",
    )

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        if not DEVICE_PATTERN.match(value):
            raise ValueError("device must be one of auto, cpu, cuda, cuda:N")
        return value

    @model_validator(mode="after")
    def _model_fits_benchmark(self) -> RunSpec:
        if type(self.model).needs_images and type(self.benchmark).image_inputs is False:
            raise ValueError(
                f"model {self.model.name} needs image inputs; {self.benchmark.name} has vectors"
            )
        return self
