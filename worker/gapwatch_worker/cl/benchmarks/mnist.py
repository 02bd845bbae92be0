"""Split MNIST and Split Fashion-MNIST: 28x28 grey images in tasks of consecutive classes."""

from __future__ import annotations

from pathlib import Path

import torch

from gapwatch.components import SplitFashionMNISTSpec, SplitMNISTSpec

from .base import Benchmark
from .images import split_benchmark

N_CLASSES = 10
INPUT_SHAPE = (1, 28, 28)


def _build_split(
    dataset: str,
    spec: SplitMNISTSpec | SplitFashionMNISTSpec,
    device: torch.device,
    data_dir: Path | None,
) -> Benchmark:
    return split_benchmark(
        spec.name,
        spec.scenario,
        spec.n_tasks,
        dataset,
        N_CLASSES,
        INPUT_SHAPE,
        device,
        data_dir,
        spec.normalize,
    )


def build_split_mnist(
    spec: SplitMNISTSpec, seed: int, device: torch.device, data_dir: Path | None = None
) -> Benchmark:
    """MNIST in `n_tasks` tasks of 10 // n_tasks consecutive digits, pixels in [0, 1]
    (standardised by the spec's `normalize` where given, e.g. De Lange et al.'s 0.1307, 0.3081).

    Args:
        spec: Number of tasks, scenario and normalisation.
        seed: Unused: the classes come in their natural order and the official split is kept.
        device: Where the task tensors live for the whole run.
        data_dir: Dataset cache root (see `datasets.resolve_data_dir`).

    Raises:
        DatasetError: If MNIST is not cached and cannot be downloaded.
        ValueError: If `normalize` does not give one value.
    """
    return _build_split("mnist", spec, device, data_dir)


def build_split_fashion_mnist(
    spec: SplitFashionMNISTSpec, seed: int, device: torch.device, data_dir: Path | None = None
) -> Benchmark:
    """Fashion-MNIST in `n_tasks` tasks of 10 // n_tasks consecutive classes, pixels in [0, 1]
    (standardised by the spec's `normalize` where given).

    Raises:
        DatasetError: If Fashion-MNIST is not cached and cannot be downloaded.
        ValueError: If `normalize` does not give one value.
    """
    return _build_split("fashion_mnist", spec, device, data_dir)
