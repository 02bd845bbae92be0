"""The run specification: the contract shared by the API, the UI form, the worker and the client.

A `RunSpec` says everything needed to reproduce a continual-learning run. Every number has bounds,
so that a typo (a zero batch, 10^12 iterations) is a 422 at submission and never a worker that
runs for a year. Names of benchmarks, models, strategies and optimizers are discriminated unions:
an unknown name is rejected with the list of valid ones, and the JSON schema that the UI builds
its form from carries each option's defaults and bounds.

This module imports neither torch nor the server: users' own training loops import it too.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Bounds shared by several places. They exist to catch mistakes, not to limit research:
# 10 million updates per task is beyond any published continual-learning benchmark.
MAX_ITERATIONS_PER_TASK = 10_000_000
MAX_EVAL_SUBSET = 100_000
MAX_BATCH_SIZE = 65_536
MAX_SEED = 2**31 - 1

DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d{1,2})?)$")


class _Strict(BaseModel):
    """Unknown fields are errors: a misspelt option must not silently fall back to its default."""

    model_config = ConfigDict(extra="forbid")


# --- Benchmarks -------------------------------------------------------------------------------

Scenario = Literal["class_incremental"]
"""How tasks share the output space. Task- and domain-incremental arrive with multi-head models."""


class SplitDigitsSpec(_Strict):
    """scikit-learn's bundled 8x8 digits, split into tasks of disjoint classes (offline, real)."""

    name: Literal["split_digits"]
    scenario: Scenario = "class_incremental"
    n_tasks: int = Field(5, ge=2, le=5, description="Tasks of 10 // n_tasks digits each.")
    test_fraction: float = Field(
        0.3, gt=0.0, lt=1.0, description="Share of each class held out as its test split."
    )


BenchmarkSpec = Annotated[SplitDigitsSpec, Field(discriminator="name")]


# --- Models -----------------------------------------------------------------------------------


class MLPSpec(_Strict):
    """Fully connected ReLU network; De Lange et al. use two hidden layers of 400 units."""

    name: Literal["mlp"]
    hidden_sizes: list[Annotated[int, Field(ge=1, le=16_384)]] = Field(
        default_factory=lambda: [400, 400], min_length=1, max_length=16
    )


ModelSpec = Annotated[MLPSpec, Field(discriminator="name")]


# --- Strategies -------------------------------------------------------------------------------


class FinetuneSpec(_Strict):
    """Plain SGD on each task in turn: the lower bound that forgets."""

    name: Literal["finetune"]


class ERSpec(_Strict):
    """Experience replay: each update mixes the new batch with one drawn from a memory buffer."""

    name: Literal["er"]
    buffer_size: int = Field(
        200, ge=1, le=1_000_000, description="Samples kept in memory over the whole run."
    )
    replay_batch_size: int | None = Field(
        None,
        ge=1,
        le=MAX_BATCH_SIZE,
        description="Replayed samples per update; default: batch size.",
    )
    buffer_policy: Literal["reservoir"] = Field(
        "reservoir", description="Reservoir sampling keeps a uniform sample of the stream."
    )


StrategySpec = Annotated[FinetuneSpec | ERSpec, Field(discriminator="name")]


# --- Optimizer, training length, evaluation plan ----------------------------------------------


class OptimizerSpec(_Strict):
    """The optimizer; it is rebuilt at no task boundary, as in the stability-gap experiments."""

    name: Literal["sgd", "adam"] = "sgd"
    lr: float = Field(0.01, gt=0.0, le=10.0)
    momentum: float = Field(0.0, ge=0.0, lt=1.0, description="SGD only.")
    weight_decay: float = Field(0.0, ge=0.0, le=1.0)


class TrainingSpec(_Strict):
    """How long each task is trained: a number of iterations, or of epochs over its train split."""

    iterations_per_task: int | None = Field(None, ge=1, le=MAX_ITERATIONS_PER_TASK)
    epochs_per_task: float | None = Field(None, gt=0.0, le=10_000.0)
    batch_size: int = Field(32, ge=1, le=MAX_BATCH_SIZE)

    @model_validator(mode="after")
    def _one_length(self) -> TrainingSpec:
        if self.iterations_per_task is not None and self.epochs_per_task is not None:
            raise ValueError("give iterations_per_task or epochs_per_task, not both")
        if self.iterations_per_task is None and self.epochs_per_task is None:
            self.iterations_per_task = 500
        return self


class EvaluationSpec(_Strict):
    """Continual evaluation: every task's fixed test subset, every `every` iterations."""

    every: int = Field(
        1, ge=1, le=MAX_ITERATIONS_PER_TASK, description="Iterations between evaluations."
    )
    subset_size: int = Field(
        1000,
        ge=1,
        le=MAX_EVAL_SUBSET,
        description="Test samples per task, drawn once per run (seeded) and kept all run long.",
    )
    include_unseen: bool = Field(
        False, description="Also evaluate tasks not trained yet (for forward transfer)."
    )


class RunSpec(_Strict):
    """Everything needed to reproduce one continual-learning run."""

    name: str | None = Field(None, max_length=200)
    group: str | None = Field(
        None, max_length=200, description="Runs that differ only by seed share a group."
    )
    tags: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
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

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        if not DEVICE_PATTERN.match(value):
            raise ValueError("device must be one of auto, cpu, cuda, cuda:N")
        return value


def metric_key_eval_acc(task: int) -> str:
    """Key of task `task`'s (0-based) continual-evaluation accuracy, a fraction in [0, 1]."""
    return f"eval/acc/task_{task}"


def metric_key_eval_loss(task: int) -> str:
    """Key of task `task`'s (0-based) continual-evaluation mean cross-entropy."""
    return f"eval/loss/task_{task}"


TRAIN_LOSS_KEY = "train/loss"
TRAIN_LR_KEY = "train/lr"
ITER_PER_S_KEY = "sys/iter_per_s"
EVENT_TASK_START = "task_start"
EVENT_TASK_END = "task_end"
