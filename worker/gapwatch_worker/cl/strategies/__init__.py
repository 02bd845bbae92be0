"""Strategies by spec name. Add one file per method and one line to `STRATEGIES`."""

from __future__ import annotations

import torch
from torch import nn

from gapwatch.spec import StrategySpec, TrainingSpec

from ..benchmarks.base import Benchmark
from .agem import AGEM
from .base import Strategy
from .der import DarkExperienceReplay
from .er import ExperienceReplay
from .er_ace import ERACE
from .ewc import EWC
from .finetune import Finetune
from .joint import Joint
from .lwf import LwF
from .si import SI

STRATEGIES: dict[str, type[Strategy]] = {
    "finetune": Finetune,
    "joint": Joint,
    "er": ExperienceReplay,
    "er_ace": ERACE,
    "agem": AGEM,
    "ewc": EWC,
    "si": SI,
    "lwf": LwF,
    "der": DarkExperienceReplay,
    "derpp": DarkExperienceReplay,
}

__all__ = [
    "AGEM",
    "ERACE",
    "EWC",
    "SI",
    "STRATEGIES",
    "DarkExperienceReplay",
    "ExperienceReplay",
    "Finetune",
    "Joint",
    "LwF",
    "Strategy",
    "build_strategy",
]


def build_strategy(
    spec: StrategySpec,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    training_spec: TrainingSpec,
    device: torch.device | str,
    seed: int,
    benchmark: Benchmark,
) -> Strategy:
    """Builds the strategy that `spec` names around an existing model and optimizer.

    Args:
        spec: The strategy part of a `RunSpec`.
        model: The network, already on `device`.
        optimizer: The run's optimizer over the model's parameters.
        training_spec: Batch size and training length (some strategies size things from it).
        device: Where the model lives; memories are preallocated there.
        seed: The run's seed; each strategy derives its own random streams from it.
        benchmark: The run's tasks: their scenario (the task-incremental mask, the units LwF
            distils), output count, and train sets (joint training, A-GEM's memory).

    Raises:
        ValueError: If no strategy has that name.
    """
    try:
        strategy_class = STRATEGIES[spec.name]
    except KeyError:
        raise ValueError(f"unknown strategy {spec.name!r}; known: {sorted(STRATEGIES)}") from None
    return strategy_class.from_spec(
        spec, model, optimizer, training_spec, torch.device(device), seed, benchmark
    )
