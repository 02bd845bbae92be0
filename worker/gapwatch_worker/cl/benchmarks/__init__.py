"""Benchmarks by spec name. Add one file per benchmark and one line to `BENCHMARKS`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from gapwatch.spec import BenchmarkSpec

from .base import Benchmark, TaskData
from .split_digits import build_split_digits

BenchmarkBuilder = Callable[[Any, int, torch.device], Benchmark]

BENCHMARKS: dict[str, BenchmarkBuilder] = {
    "split_digits": build_split_digits,
}

__all__ = ["BENCHMARKS", "Benchmark", "TaskData", "build_benchmark"]


def build_benchmark(spec: BenchmarkSpec, seed: int, device: torch.device | str) -> Benchmark:
    """Builds the benchmark that `spec` names.

    Args:
        spec: The benchmark part of a `RunSpec`.
        seed: The run's seed (it fixes splits and any other randomness of the data).
        device: Where the task tensors are preloaded.

    Raises:
        ValueError: If no benchmark has that name.
    """
    try:
        builder = BENCHMARKS[spec.name]
    except KeyError:
        raise ValueError(f"unknown benchmark {spec.name!r}; known: {sorted(BENCHMARKS)}") from None
    return builder(spec, seed, torch.device(device))
