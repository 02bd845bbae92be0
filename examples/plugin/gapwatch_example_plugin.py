"""A Gapwatch strategy plugin in one file: experience replay with a cosine classifier.

`er_cosine` is ER (Chaudhry et al. 2019) whose output layer compares features with each class's
weight vector by cosine similarity: logits = scale * cos(features, weight row). No class can
win by the norm of its weights, so the newest task's classes, which get the most gradient, do
not dominate the old ones through their weight norms alone (the imbalance that LUCIR's cosine
normalisation addresses: Hou et al. 2019, "Learning a unified classifier incrementally via
rebalancing").

A plugin is three things (see README.md beside this file):

1. a pydantic spec class, here `ERCosineSpec`: its `name` Literal is what a run spec names, its
   fields are the options with their bounds; the API validates runs with it and the dashboard
   builds its form from it;
2. the strategy, here `ERCosine`, which the spec class names in `implementation`;
3. an entry point in group `gapwatch.strategies` naming the spec class (pyproject.toml).

Every process that imports `gapwatch.spec` imports this module for the spec class: the API, the
CLI, the SDK, the worker. This file imports torch and the engine at the top, so the API's
machine needs torch too. An API without torch (the backend container image has none) would
leave the plugin out; a plugin meant for one puts its spec class in a module of its own that
imports neither, and names the strategy's module in `implementation`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from gapwatch.components import ReplayOptions
from gapwatch_worker.cl.models import use_cosine_head
from gapwatch_worker.cl.strategies import BuildContext, ExperienceReplay
from gapwatch_worker.cl.strategies.replay import replay_batch_size, reservoir_for


class ERCosineSpec(ReplayOptions):
    """Experience replay with a cosine-similarity classifier (logits = scale * cosine).

    The buffer options (`buffer_size`, `replay_batch_size`) come from `ReplayOptions`; the
    memory is a reservoir sample of the stream, as the built-in `er`'s default.
    """

    implementation: ClassVar[str] = "gapwatch_example_plugin:ERCosine"
    name: Literal["er_cosine"]
    scale: float = Field(
        16.0,
        ge=1.0,
        le=100.0,
        description="Logits are scale * cosine similarity. A cosine lies in [-1, 1], so without "
        "a scale the softmax can never be confident; 10 to 30 are usual.",
    )


# --- The strategy (run by a worker) --------------------------------------------------------


class ERCosine(ExperienceReplay):
    """ER on a cosine classifier: the built-in ER's replay (a reservoir memory, one
    cross-entropy over the new and the replayed rows), on the model with its output layer
    replaced by the engine's cosine head (exact cosines: no epsilon in the norms)."""

    @classmethod
    def from_spec(cls, spec: ERCosineSpec, ctx: BuildContext) -> ERCosine:
        """Swaps the model's output layer for the cosine one, then builds ER around it."""
        use_cosine_head(ctx.model, ctx.benchmark.n_outputs, spec.scale, epsilon=0.0)
        return cls(
            ctx.model,
            ctx.optimizer,
            ctx.device,
            reservoir_for(spec, ctx),
            replay_batch_size(spec, ctx.training),
            units_table=ctx.units_table,
        )
