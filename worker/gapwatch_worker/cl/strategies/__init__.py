"""Strategies by spec: each spec class names its `Strategy` subclass (`implementation`).

A new strategy is one file (its spec class and its `Strategy`) and one entry point in group
`gapwatch.strategies`; see `gapwatch.plugins` and CONTRIBUTING.md.
"""

from __future__ import annotations

from typing import Any

from gapwatch.components import ReplayOptions
from gapwatch.plugins import load_implementation

from .agem import AGEM
from .base import BuildContext, Strategy
from .der import DarkExperienceReplay
from .er import ExperienceReplay
from .er_ace import ERACE
from .ewc import EWC
from .finetune import Finetune
from .joint import Joint
from .lwf import LwF
from .mitigations import attach_mitigations, wanted
from .si import SI

__all__ = [
    "AGEM",
    "ERACE",
    "EWC",
    "SI",
    "BuildContext",
    "DarkExperienceReplay",
    "ExperienceReplay",
    "Finetune",
    "Joint",
    "LwF",
    "Strategy",
    "build_strategy",
    "strategy_class",
]


def strategy_class(spec: Any) -> type[Strategy]:
    """The `Strategy` subclass that a strategy spec's class names.

    Raises:
        ImportError: If its module cannot be imported here.
        TypeError: If it names something that is not a `Strategy`.
    """
    found = load_implementation(spec)
    if not (isinstance(found, type) and issubclass(found, Strategy)):
        raise TypeError(f"strategy {spec.name!r}: {type(spec).implementation} is not a Strategy")
    return found


def build_strategy(spec: Any, ctx: BuildContext) -> Strategy:
    """Builds the strategy that `spec` (the strategy part of a `RunSpec`) names around the
    context's model and optimizer.

    A replay spec (any `ReplayOptions`, plugins' included) that asks for stability-gap
    mitigations gets them applied around the built strategy (`mitigations.py`), after its
    `from_spec`, so that they see the output layer the strategy may have swapped in. They add
    LoRA adapters to the model here, before any checkpoint is loaded into it.
    """
    strategy = strategy_class(spec).from_spec(spec, ctx)
    if isinstance(spec, ReplayOptions) and wanted(spec):
        attach_mitigations(strategy, spec, ctx)
    return strategy
