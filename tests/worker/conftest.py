"""Shared helpers for the continual-learning engine's tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gapwatch.spec import RunSpec

SpecFactory = Callable[..., RunSpec]


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@pytest.fixture
def make_spec() -> SpecFactory:
    """Builds a small, fast RunSpec on split_digits; keyword arguments override nested fields."""

    def factory(**overrides: Any) -> RunSpec:
        base = {
            "benchmark": {"name": "split_digits", "n_tasks": 5},
            "model": {"name": "mlp", "hidden_sizes": [32]},
            "strategy": {"name": "finetune"},
            "optimizer": {"name": "sgd", "lr": 0.1},
            "training": {"iterations_per_task": 20, "batch_size": 16},
            "evaluation": {"every": 5, "subset_size": 50},
            "seed": 0,
            "device": "cpu",
        }
        return RunSpec.model_validate(_merge(base, overrides))

    return factory
