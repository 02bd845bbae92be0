"""The run's optimizer, built once for the whole run (never rebuilt at task boundaries)."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from gapwatch.components import OptimizerSpec


def build_optimizer(
    spec: OptimizerSpec, parameters: Iterable[nn.Parameter]
) -> torch.optim.Optimizer:
    """Builds the run's optimizer from its spec."""
    if spec.name == "sgd":
        return torch.optim.SGD(
            parameters, lr=spec.lr, momentum=spec.momentum, weight_decay=spec.weight_decay
        )
    if spec.name == "adam":
        return torch.optim.Adam(parameters, lr=spec.lr, weight_decay=spec.weight_decay)
    raise ValueError(f"unknown optimizer {spec.name!r}")
