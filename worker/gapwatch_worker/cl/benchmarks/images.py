"""Shared steps of the image benchmarks: class splits, uint8 to float on the device, memory."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

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


def images_to_device(
    x: np.ndarray,
    device: torch.device,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> torch.Tensor:
    """uint8 images (N, C, H, W) to float32 in [0, 1] on `device`, optionally normalised per
    channel. The bytes travel to the device before the conversion: a quarter of the transfer."""
    out = torch.from_numpy(np.ascontiguousarray(x)).to(device).to(torch.float32).div_(255.0)
    if mean is not None and std is not None:
        shape = (1, len(mean), 1, 1)
        out.sub_(torch.tensor(mean, device=device).view(shape))
        out.div_(torch.tensor(std, device=device).view(shape))
    return out


def split_tasks(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    classes_per_task: Sequence[tuple[int, ...]],
    device: torch.device,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> list[TaskData]:
    """One task per class tuple, with the samples of those classes; labels stay class ids."""
    tasks = []
    for classes in classes_per_task:
        train = np.isin(train_y, classes)
        test = np.isin(test_y, classes)
        tasks.append(
            TaskData(
                classes=tuple(classes),
                train_x=images_to_device(train_x[train], device, mean, std),
                train_y=torch.from_numpy(train_y[train].astype(np.int64)).to(device),
                test_x=images_to_device(test_x[test], device, mean, std),
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
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> Benchmark:
    """A class-split image benchmark: `dataset` in `n_tasks` tasks of consecutive classes.

    Raises:
        DatasetError: If the dataset is not cached and cannot be downloaded.
    """
    arrays = load_dataset(dataset, data_dir)
    tasks = split_tasks(
        arrays.train_x,
        arrays.train_y,
        arrays.test_x,
        arrays.test_y,
        task_classes(n_tasks, n_classes),
        device,
        mean,
        std,
    )
    return make_benchmark(spec_name, scenario, tasks, input_shape)
