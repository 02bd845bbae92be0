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

import torch
from pydantic import Field
from torch import nn

from gapwatch.components import ReplayOptions
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


class CosineLinear(nn.Module):
    """A classifier layer that scores rows by cosine similarity with its weight rows.

    It holds the replaced `nn.Linear`'s own weight Parameter, so the optimizer, which was
    built over the model's parameters before the strategy, keeps updating it (and a
    checkpoint stores it under the same state_dict key). It has no bias: a bias would let a
    class win whatever the angle. The old bias stays in the optimizer without ever getting
    a gradient, so no optimizer step touches it.
    """

    def __init__(self, weight: nn.Parameter, scale: float):
        super().__init__()
        self.weight = weight
        self.scale = scale

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        directions = nn.functional.normalize(features, dim=-1)
        prototypes = nn.functional.normalize(self.weight, dim=-1)
        return self.scale * nn.functional.linear(directions, prototypes)

    def extra_repr(self) -> str:
        out_features, in_features = self.weight.shape
        return f"in_features={in_features}, out_features={out_features}, scale={self.scale}"


def cosine_head(model: nn.Module, scale: float, n_outputs: int) -> CosineLinear:
    """Replaces the model's last `nn.Linear` (its output layer) by a `CosineLinear` over the
    same weight, in place, and returns it.

    Raises:
        ValueError: If the model has no `nn.Linear`, or its last one does not produce the
            benchmark's `n_outputs` logits (so it is not the output layer).
    """
    linears = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("er_cosine needs a model whose output layer is an nn.Linear")
    name, linear = linears[-1]
    if linear.out_features != n_outputs:
        raise ValueError(
            f"er_cosine: the model's last nn.Linear ({name!r}) has {linear.out_features} "
            f"outputs, not the benchmark's {n_outputs}: it is not the output layer"
        )
    parent_name, _, attribute = name.rpartition(".")
    head = CosineLinear(linear.weight, scale)
    setattr(model.get_submodule(parent_name), attribute, head)
    return head


class ERCosine(ExperienceReplay):
    """ER on a cosine classifier: the built-in ER's replay (a reservoir memory, one
    cross-entropy over the new and the replayed rows), on the model with its output layer
    replaced by `cosine_head`."""

    @classmethod
    def from_spec(cls, spec: ERCosineSpec, ctx: BuildContext) -> ERCosine:
        """Swaps the model's output layer for the cosine one, then builds ER around it."""
        cosine_head(ctx.model, spec.scale, ctx.benchmark.n_outputs)
        return cls(
            ctx.model,
            ctx.optimizer,
            ctx.device,
            reservoir_for(spec, ctx),
            replay_batch_size(spec, ctx.training),
            units_table=ctx.units_table,
        )
