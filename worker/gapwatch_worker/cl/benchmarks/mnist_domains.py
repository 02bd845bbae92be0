"""Permuted MNIST and Rotated MNIST: the same ten digits in every task, in a new input domain.

Each task's images are transformed once, at build time, on the run's device, and kept: an
update then costs a plain index into a preloaded tensor, as for every other benchmark. That is
188 MB of float32 per task for the 60,000 training images (plus 31 MB of test images); 10
tasks take 2.2 GB, which a GPU or a CPU worker holds easily, and a build that would not fit is
refused up front with the numbers. Transforming each batch on the fly instead would save the
memory but add a gather (permutation) or a grid_sample (rotation) to every update and to every
continual evaluation. Measured on a 2-core CPU: about 0.2 s per permuted task and 0.7 s per
rotated task to build (the fresh memory's page faults included), once per run.

The transforms live in `domains`, shared with custom benchmarks. A spec's `normalize`
standardises the pixels (no standardisation by default): before the permutation, after the
rotation (see `domains.rotated_tasks`).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from gapwatch.components import PermutedMNISTSpec, RotatedMNISTSpec

from ..datasets import ImageArrays, load_dataset
from .base import Benchmark
from .domains import feature_permutation, permuted_tasks, rotated_tasks
from .images import Normalization, check_memory, inputs_to_device, resolve_normalization
from .scenarios import make_benchmark

__all__ = [
    "build_permuted_mnist",
    "build_rotated_mnist",
    "pixel_permutation",
    "task_angles",
]

INPUT_SHAPE = (1, 28, 28)
CLASSES = tuple(range(10))
DEFAULT_ANGLE_STEP = 9.0  # degrees per task

Split = tuple[torch.Tensor, torch.Tensor]


def _base_tensors(
    arrays: ImageArrays,
    n_tasks: int,
    device: torch.device,
    what: str,
    normalization: Normalization | None = None,
) -> tuple[Split, Split]:
    per_task = (len(arrays.train_x) + len(arrays.test_x)) * math.prod(INPUT_SHAPE) * 4
    check_memory(n_tasks * per_task, device, what)
    return (
        (
            inputs_to_device(arrays.train_x, device, normalization),
            torch.from_numpy(arrays.train_y).to(device),
        ),
        (
            inputs_to_device(arrays.test_x, device, normalization),
            torch.from_numpy(arrays.test_y).to(device),
        ),
    )


def pixel_permutation(seed: int, task: int, n_pixels: int) -> torch.Tensor | None:
    """The seeded pixel order of a task; None (no permutation) for task 0."""
    if task == 0:
        return None
    return feature_permutation(seed, f"permuted_mnist/{task}", n_pixels)


def build_permuted_mnist(
    spec: PermutedMNISTSpec, seed: int, device: torch.device, data_dir: Path | None = None
) -> Benchmark:
    """MNIST in `n_tasks` domains: task 0 as is, task t under a seeded pixel permutation.

    Every task has the ten digits; the spec allows only domain- and task-incremental.

    Raises:
        DatasetError: If MNIST is not cached and cannot be downloaded.
        ValueError: If the tasks would not fit in the device's memory, or `normalize` does
            not give one value.
    """
    normalization = resolve_normalization(spec.normalize, None, INPUT_SHAPE, spec.name)
    arrays = load_dataset("mnist", data_dir)
    what = f"permuted_mnist with {spec.n_tasks} tasks"
    train, test = _base_tensors(arrays, spec.n_tasks, device, what, normalization)
    n_pixels = math.prod(INPUT_SHAPE[1:])
    permutations = [pixel_permutation(seed, t, n_pixels) for t in range(spec.n_tasks)]
    tasks = permuted_tasks(CLASSES, train, test, permutations)
    return make_benchmark(spec.name, spec.scenario, tasks, INPUT_SHAPE)


def task_angles(spec: RotatedMNISTSpec) -> list[float]:
    """The spec's angles, or t x 9 degrees for task t."""
    if spec.angles is not None:
        return list(spec.angles)
    return [DEFAULT_ANGLE_STEP * t for t in range(spec.n_tasks)]


def build_rotated_mnist(
    spec: RotatedMNISTSpec, seed: int, device: torch.device, data_dir: Path | None = None
) -> Benchmark:
    """MNIST in `n_tasks` domains, task t rotated by its angle (default t x 9 degrees).

    Raises:
        DatasetError: If MNIST is not cached and cannot be downloaded.
        ValueError: If the tasks would not fit in the device's memory, or `normalize` does
            not give one value.
    """
    normalization = resolve_normalization(spec.normalize, None, INPUT_SHAPE, spec.name)
    arrays = load_dataset("mnist", data_dir)
    what = f"rotated_mnist with {spec.n_tasks} tasks"
    train, test = _base_tensors(arrays, spec.n_tasks, device, what)
    tasks = rotated_tasks(CLASSES, train, test, task_angles(spec), normalization)
    return make_benchmark(spec.name, spec.scenario, tasks, INPUT_SHAPE)
