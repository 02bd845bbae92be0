"""Benchmarks by spec: each benchmark spec class names its builder (`implementation`), a
function (spec, seed, device, data_dir) -> Benchmark; plugins add theirs through entry points."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from gapwatch.plugins import load_implementation

from ..datasets import resolve_data_dir
from .base import Benchmark, TaskData
from .scenarios import mask_logits, units_table

BenchmarkBuilder = Callable[[Any, int, torch.device, Path], Benchmark]


__all__ = [
    "Benchmark",
    "TaskData",
    "build_benchmark",
    "mask_logits",
    "units_table",
]


def build_benchmark(
    spec: Any,
    seed: int,
    device: torch.device | str,
    data_dir: Path | str | None = None,
) -> Benchmark:
    """Builds the benchmark that `spec` names, its tensors preloaded on `device`.

    Args:
        spec: The benchmark part of a `RunSpec` (its scenario included).
        seed: The run's seed (it fixes splits, permutations and any other randomness of the data).
        device: Where the task tensors are preloaded.
        data_dir: Datasets are cached in `<data_dir>/datasets`; default $GAPWATCH_DATA_DIR,
            else ./.gapwatch.

    Raises:
        ImportError: If the spec's implementation cannot be imported on this worker.
        ValueError: If the benchmark would not fit on the device.
        DatasetError: (a RuntimeError) If a dataset is not cached and cannot be downloaded, as
            "dataset <name> not in cache and download failed: <reason>".
    """
    builder: BenchmarkBuilder = load_implementation(spec)
    return builder(spec, seed, torch.device(device), resolve_data_dir(data_dir))
