"""Shared steps of the image benchmarks: class splits, inputs to float on the device,
standardisation (`normalize`), memory."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from gapwatch.components import NormalizeSpec
from gapwatch.datasets.layout import normalization_problem

from ..datasets import load_dataset
from .base import Benchmark, TaskData
from .scenarios import make_benchmark

# A benchmark may take this share of the free memory of its device; the rest is for the model,
# the evaluator's copy of the subsets, replay buffers and activations.
MEMORY_SHARE = 0.8


def task_classes(n_tasks: int, n_classes: int) -> list[tuple[int, ...]]:
    """Consecutive disjoint classes per task: 5 tasks of 10 -> (0, 1), (2, 3), ...; leftovers
    dropped (3 tasks of 10 classes leave class 9 out)."""
    per_task = n_classes // n_tasks
    return [tuple(range(k * per_task, (k + 1) * per_task)) for k in range(n_tasks)]


Normalization = tuple[tuple[float, ...], tuple[float, ...]]
"""(mean, std) of a standardisation (x - mean) / std, one value per channel."""


def inputs_to_device(
    x: np.ndarray, device: torch.device, normalization: Normalization | None = None
) -> torch.Tensor:
    """Inputs to float32 on `device`, standardised by `normalization` where given.

    uint8 are pixels, divided by 255 into [0, 1]; any other numeric type keeps its values.
    uint8 bytes travel to the device before the conversion (a quarter of the transfer); other
    types are converted on the host, so a float64 array never takes twice its float32 size on
    the device. `x` itself is never written to.
    """
    if x.dtype == np.uint8:
        return normalize_(
            torch.from_numpy(np.ascontiguousarray(x)).to(device).to(torch.float32).div_(255.0),
            normalization,
        )
    host = np.ascontiguousarray(x, dtype=np.float32)
    out = torch.from_numpy(host).to(device)
    if normalization is not None and out.device.type == "cpu" and np.may_share_memory(host, x):
        out = out.clone()  # float32 on the CPU: the tensor is `x`'s memory
    return normalize_(out, normalization)


def normalize_(x: torch.Tensor, normalization: Normalization | None) -> torch.Tensor:
    """Standardises `x` in place and returns it: per channel (axis 1) for images (N, C, H, W);
    for vectors (N, D) one value applies to every feature, or D values one per feature. None
    leaves `x` as it is. The values must fit `x` (see `resolve_normalization`)."""
    if normalization is None:
        return x
    mean, std = normalization
    if x.dim() == 4:
        shape: tuple[int, ...] = (1, len(mean), 1, 1)
    else:
        shape = (1, len(mean)) if len(mean) > 1 else (1, 1)
    x.sub_(torch.tensor(mean, device=x.device).view(shape))
    x.div_(torch.tensor(std, device=x.device).view(shape))
    return x


def resolve_normalization(
    normalize: NormalizeSpec | None,
    default: Normalization | None,
    input_shape: tuple[int, ...],
    what: str,
) -> Normalization | None:
    """The standardisation a benchmark applies: the spec's `normalize` where given (it replaces
    the benchmark's default), else `default` (None: inputs as they are).

    Images (C, H, W) take exactly C values, one per channel; vectors (D,) one value for all
    features, or D values, one per feature (`gapwatch.datasets.layout.normalization_problem`,
    the rule the API checks specs against too).

    Raises:
        ValueError: If the spec's values do not fit the inputs' channels.
    """
    if normalize is None:
        return default
    problem = normalization_problem(len(normalize.mean), input_shape, what)
    if problem is not None:
        raise ValueError(problem)
    return tuple(normalize.mean), tuple(normalize.std)


def split_tasks(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    classes_per_task: Sequence[tuple[int, ...]],
    device: torch.device,
    normalization: Normalization | None = None,
) -> list[TaskData]:
    """One task per class tuple, with the samples of those classes in their order in the
    dataset; labels stay class ids. Inputs as `inputs_to_device` makes them."""
    tasks = []
    for classes in classes_per_task:
        train = np.isin(train_y, classes)
        test = np.isin(test_y, classes)
        tasks.append(
            TaskData(
                classes=tuple(classes),
                train_x=inputs_to_device(train_x[train], device, normalization),
                train_y=torch.from_numpy(train_y[train].astype(np.int64)).to(device),
                test_x=inputs_to_device(test_x[test], device, normalization),
                test_y=torch.from_numpy(test_y[test].astype(np.int64)).to(device),
            )
        )
    return tasks


def available_bytes(device: torch.device) -> int | None:
    """Free memory of a device, or None where it cannot be told."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    # MemAvailable counts the page cache that the kernel would give back; MemFree does not.
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(needed: int, device: torch.device, what: str) -> None:
    """Refuses, with the numbers, to build a benchmark that would not fit on its device.

    Raises:
        ValueError: If `needed` bytes exceed MEMORY_SHARE of the free memory.
    """
    free = available_bytes(device)
    if free is not None and needed > MEMORY_SHARE * free:
        raise ValueError(
            f"{what} needs {needed / 2**30:.1f} GiB on {device}, but only "
            f"{free / 2**30:.1f} GiB are free; use fewer tasks"
        )


def split_benchmark(
    spec_name: str,
    scenario: str,
    n_tasks: int,
    dataset: str,
    n_classes: int,
    input_shape: tuple[int, ...],
    device: torch.device,
    data_dir: Path | None,
    normalize: NormalizeSpec | None = None,
    default: Normalization | None = None,
) -> Benchmark:
    """A class-split image benchmark: `dataset` in `n_tasks` tasks of consecutive classes,
    standardised by the spec's `normalize`, else by the benchmark's `default`.

    Raises:
        DatasetError: If the dataset is not cached and cannot be downloaded.
        ValueError: If `normalize` does not give one value per channel.
    """
    normalization = resolve_normalization(normalize, default, input_shape, spec_name)
    arrays = load_dataset(dataset, data_dir)
    tasks = split_tasks(
        arrays.train_x,
        arrays.train_y,
        arrays.test_x,
        arrays.test_y,
        task_classes(n_tasks, n_classes),
        device,
        normalization,
    )
    return make_benchmark(spec_name, scenario, tasks, input_shape)
