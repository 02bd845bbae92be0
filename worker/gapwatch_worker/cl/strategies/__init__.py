"""Strategies by spec name. Add one file per method and one line to `STRATEGIES`."""

from __future__ import annotations

import torch
from torch import nn

from gapwatch.spec import StrategySpec, TrainingSpec

from .base import Strategy
from .er import ExperienceReplay
from .finetune import Finetune

STRATEGIES: dict[str, type[Strategy]] = {
    "finetune": Finetune,
    "er": ExperienceReplay,
}

__all__ = ["STRATEGIES", "ExperienceReplay", "Finetune", "Strategy", "build_strategy"]


def build_strategy(
    spec: StrategySpec,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    training_spec: TrainingSpec,
    device: torch.device | str,
    seed: int,
) -> Strategy:
    """Builds the strategy that `spec` names around an existing model and optimizer.

    Args:
        spec: The strategy part of a `RunSpec`.
        model: The network, already on `device`.
        optimizer: The run's optimizer over the model's parameters.
        training_spec: Batch size and training length (some strategies size things from it).
        device: Where the model lives; buffers are preallocated there.
        seed: The run's seed; each strategy derives its own random streams from it.

    Raises:
        ValueError: If no strategy has that name.
    """
    try:
        strategy_class = STRATEGIES[spec.name]
    except KeyError:
        raise ValueError(f"unknown strategy {spec.name!r}; known: {sorted(STRATEGIES)}") from None
    return strategy_class.from_spec(
        spec, model, optimizer, training_spec, torch.device(device), seed
    )
