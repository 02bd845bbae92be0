"""Split CIFAR-10 and Split CIFAR-100: 32x32 colour images in tasks of consecutive classes."""

from __future__ import annotations

from pathlib import Path

import torch

from gapwatch.components import SplitCIFAR10Spec, SplitCIFAR100Spec

from .base import Benchmark
from .images import split_benchmark

INPUT_SHAPE = (3, 32, 32)
# Per-channel mean and standard deviation of each training set's pixels in [0, 1] (the values
# in common use; CIFAR-10's std is the per-pixel one, not the often copied 0.2023, 0.1994, 0.2010).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)


def _split_cifar(
    spec: SplitCIFAR10Spec | SplitCIFAR100Spec,
    dataset: str,
    n_classes: int,
    mean: tuple[float, float, float],
    std: tuple[float, float, float],
    device: torch.device,
    data_dir: Path | None,
) -> Benchmark:
    return split_benchmark(
        spec.name,
        spec.scenario,
        spec.n_tasks,
        dataset,
        n_classes,
        INPUT_SHAPE,
        device,
        data_dir,
        spec.normalize,
        (mean, std),
    )


def build_split_cifar10(
    spec: SplitCIFAR10Spec, seed: int, device: torch.device, data_dir: Path | None = None
) -> Benchmark:
    """CIFAR-10 in `n_tasks` tasks of 10 // n_tasks consecutive classes, normalised per channel
    (by the spec's `normalize` where given, else by CIFAR10_MEAN and CIFAR10_STD).

    Raises:
        DatasetError: If CIFAR-10 is not cached and cannot be downloaded.
        ValueError: If `normalize` does not give three values.
    """
    return _split_cifar(spec, "cifar10", 10, CIFAR10_MEAN, CIFAR10_STD, device, data_dir)


def build_split_cifar100(
    spec: SplitCIFAR100Spec, seed: int, device: torch.device, data_dir: Path | None = None
) -> Benchmark:
    """CIFAR-100 (fine labels) in 10 tasks of 10 or 20 tasks of 5 consecutive classes,
    normalised per channel (by the spec's `normalize` where given, else by CIFAR100_MEAN and
    CIFAR100_STD).

    Raises:
        DatasetError: If CIFAR-100 is not cached and cannot be downloaded.
        ValueError: If `normalize` does not give three values.
    """
    return _split_cifar(spec, "cifar100", 100, CIFAR100_MEAN, CIFAR100_STD, device, data_dir)
