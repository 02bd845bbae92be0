"""Benchmarks by spec name. Add one file per benchmark family and one line to `BENCHMARKS`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from gapwatch.spec import BenchmarkSpec

from ..datasets import resolve_data_dir
from .base import Benchmark, TaskData
from .cifar import build_split_cifar10, build_split_cifar100
from .mnist import build_split_fashion_mnist, build_split_mnist
from .mnist_domains import build_permuted_mnist, build_rotated_mnist
from .scenarios import mask_logits, units_table
from .split_digits import build_split_digits
from .synthetic import build_synthetic

BenchmarkBuilder = Callable[[Any, int, torch.device, Path], Benchmark]

BENCHMARKS: dict[str, BenchmarkBuilder] = {
    "split_digits": build_split_digits,
    "split_mnist": build_split_mnist,
    "split_fashion_mnist": build_split_fashion_mnist,
    "permuted_mnist": build_permuted_mnist,
    "rotated_mnist": build_rotated_mnist,
    "split_cifar10": build_split_cifar10,
    "split_cifar100": build_split_cifar100,
    "synthetic": build_synthetic,
}

__all__ = [
    "BENCHMARKS",
    "Benchmark",
    "TaskData",
    "build_benchmark",
    "mask_logits",
    "units_table",
]


def build_benchmark(
    spec: BenchmarkSpec,
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
        ValueError: If no benchmark has that name, or it would not fit on the device.
        DatasetError: (a RuntimeError) If a dataset is not cached and cannot be downloaded, as
            "dataset <name> not in cache and download failed: <reason>".
    """
    try:
        builder = BENCHMARKS[spec.name]
    except KeyError:
        raise ValueError(f"unknown benchmark {spec.name!r}; known: {sorted(BENCHMARKS)}") from None
    return builder(spec, seed, torch.device(device), resolve_data_dir(data_dir))
