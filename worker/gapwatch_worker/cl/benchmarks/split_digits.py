"""Split Digits: scikit-learn's bundled 8x8 digits, split into tasks of disjoint classes.

Small (1,797 images) and offline, so that tests and the demo train on real data in seconds.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from sklearn.datasets import load_digits

from gapwatch.components import SplitDigitsSpec

from ..seeding import make_generator
from .base import Benchmark, TaskData
from .images import inputs_to_device, resolve_normalization
from .images import task_classes as _task_classes
from .scenarios import make_benchmark

N_CLASSES = 10
INPUT_SHAPE = (1, 8, 8)
PIXEL_MAX = 16.0  # load_digits pixels are counts of set pixels in 4x4 blocks: 0..16


@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    """Loads the digits once per process: x in [0, 1] as float32 (n, 1, 8, 8), y int64 (n,)."""
    data = load_digits()
    x = (data.data / PIXEL_MAX).astype(np.float32).reshape(-1, *INPUT_SHAPE)
    return x, data.target.astype(np.int64)


def stratified_split(
    labels: np.ndarray, test_fraction: float, generator: torch.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Splits sample indices into train and test, the same fraction of every class.

    Args:
        labels: Class label of every sample.
        test_fraction: Share of each class held out for testing; at least one sample of each
            class goes to each side.
        generator: Source of the shuffles; classes are processed in increasing order.

    Returns:
        The train indices and the test indices, each sorted.
    """
    train, test = [], []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        order = torch.randperm(len(members), generator=generator).numpy()
        n_test = min(max(round(test_fraction * len(members)), 1), len(members) - 1)
        test.append(members[order[:n_test]])
        train.append(members[order[n_test:]])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def task_classes(n_tasks: int, n_classes: int = N_CLASSES) -> list[tuple[int, ...]]:
    """Consecutive disjoint classes per task: 5 tasks -> (0, 1), (2, 3), ...; leftovers dropped."""
    return _task_classes(n_tasks, n_classes)


def build_split_digits(
    spec: SplitDigitsSpec, seed: int, device: torch.device, data_dir: object = None
) -> Benchmark:
    """Builds Split Digits with its tensors on `device`.

    Args:
        spec: Number of tasks, test fraction, scenario and normalisation.
        seed: The run's seed; it fixes the train/test split.
        device: Where the task tensors live for the whole run.
        data_dir: Unused: the digits ship with scikit-learn.

    Returns:
        The benchmark, images of shape (1, 8, 8) in [0, 1] (standardised by the spec's
        `normalize` where given), targets mapped for the scenario.

    Raises:
        ValueError: If `normalize` does not give one value.
    """
    normalization = resolve_normalization(spec.normalize, None, INPUT_SHAPE, spec.name)
    x, y = _digits()
    train_idx, test_idx = stratified_split(
        y, spec.test_fraction, make_generator(seed, "split_digits/split")
    )
    tasks = []
    for classes in task_classes(spec.n_tasks):
        train = train_idx[np.isin(y[train_idx], classes)]
        test = test_idx[np.isin(y[test_idx], classes)]
        tasks.append(
            TaskData(
                classes=classes,
                train_x=inputs_to_device(x[train], device, normalization),
                train_y=torch.from_numpy(y[train]).to(device),
                test_x=inputs_to_device(x[test], device, normalization),
                test_y=torch.from_numpy(y[test]).to(device),
            )
        )
    return make_benchmark(spec.name, spec.scenario, tasks, INPUT_SHAPE)
