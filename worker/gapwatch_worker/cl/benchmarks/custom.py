"""Custom benchmarks: continual tasks cut from a dataset uploaded to the run's project.

The dataset is the canonical .npz of its four arrays (`gapwatch.datasets.arrays`), which the
worker has fetched to `dataset_path(data_dir, digest)` before the run starts; its content digest
is checked again here, so a run trains on exactly the arrays its spec names.

How the arrays become inputs:

- dtype: uint8 are pixels, divided by 255 into [0, 1]; other numbers (floats, other integers,
  booleans) keep their values, as float32. Labels are integer class ids, kept as they are.
- shape, channels first: (N, H, W) are grey images (a channel axis is added), (N, C, H, W)
  images, (N, D) vectors; (N,) is one feature per sample, and any rank above 4 is flattened
  to vectors (N, D): only (C, H, W) has a layout that the models and rotations know.
- `normalize`: images take one mean/std per channel; vectors one value for every feature, or
  one per feature (see `images.resolve_normalization`). None: the inputs as above.

Splits, with labels mapped for the scenario as for every other benchmark (`make_benchmark`):

- classes: task k holds the rows whose label is in `tasks[k]`, in the dataset's order; the
  order of a task's list sets its classes' local indices (domain- and task-incremental).
- permutations: every task holds all rows; task 0 as it is, task t > 0 with its flattened
  features (channels included) in a permutation drawn from the run's seed, stream
  "custom/permutation/<t>"; inputs are standardised before they are permuted.
- rotations: images only; every task holds all rows, rotated by its angle (degrees,
  counter-clockwise) and then standardised (see `domains.rotated_tasks`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from gapwatch.components import ClassSplitSpec, CustomBenchmarkSpec
from gapwatch.datasets.arrays import dataset_path, read_verified
from gapwatch.datasets.layout import input_shape

from ..datasets import DatasetError
from .base import Benchmark, TaskData
from .domains import feature_permutation, permuted_tasks, rotated_tasks
from .images import (
    Normalization,
    check_memory,
    inputs_to_device,
    resolve_normalization,
    split_tasks,
)
from .scenarios import make_benchmark

PERMUTATION_STREAM = "custom/permutation"
FLOAT32_BYTES = 4
LABEL_BYTES = 8


def load_custom_arrays(spec: CustomBenchmarkSpec, data_dir: Path) -> dict[str, np.ndarray]:
    """The dataset's four arrays, read from the worker's copy and checked against the spec's
    content digest.

    Raises:
        DatasetError: If the spec has no digest, the file is missing or unreadable, or its
            content is not the one the digest names.
    """
    if spec.digest is None:
        raise DatasetError(
            f"custom dataset {spec.dataset} has no digest in the run's spec: the API fills it "
            "in when the run is submitted, and the worker fetches the file by it"
        )
    path = dataset_path(data_dir, spec.digest)
    if not path.is_file():
        raise DatasetError(
            f"custom dataset {spec.dataset} (digest {spec.digest}) is not at {path}: the worker "
            "fetches it from the API before the run starts (the API filled in the digest at "
            "submission)"
        )
    try:
        return read_verified(path, spec.digest)
    except ValueError as error:
        raise DatasetError(
            f"custom dataset {spec.dataset}: {error} (the run's spec names digest {spec.digest})"
        ) from None


def input_layout(x: np.ndarray) -> np.ndarray:
    """Inputs (N, ...) in the layout the engine uses (`gapwatch.datasets.layout.input_shape`):
    (N, H, W) -> (N, 1, H, W); (N, C, H, W) and (N, D) as they are; (N,) -> (N, 1); a higher
    rank -> (N, D). A view of `x` where numpy can make one."""
    return x.reshape(len(x), *input_shape(x.shape[1:]))


def _labels(y: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(y.astype(np.int64)).to(device)


def _class_tasks(
    split: ClassSplitSpec,
    x: tuple[np.ndarray, np.ndarray],
    y: tuple[np.ndarray, np.ndarray],
    normalization: Normalization | None,
    device: torch.device,
    what: str,
) -> list[TaskData]:
    """One task per class list; every task must have rows to train on and to test on."""
    (train_x, test_x), (train_y, test_y) = x, y
    rows = 0
    for k, classes in enumerate(split.tasks):
        n_train, n_test = int(np.isin(train_y, classes).sum()), int(np.isin(test_y, classes).sum())
        if n_train == 0 or n_test == 0:
            side = "training" if n_train == 0 else "test"
            raise ValueError(
                f"split.tasks[{k}] (classes {classes}) has no {side} samples in {what}"
            )
        rows += n_train + n_test
    features = math.prod(train_x.shape[1:])
    check_memory(rows * (features * FLOAT32_BYTES + LABEL_BYTES), device, what)
    classes_per_task = [tuple(classes) for classes in split.tasks]
    return split_tasks(train_x, train_y, test_x, test_y, classes_per_task, device, normalization)


def build_custom(
    spec: CustomBenchmarkSpec, seed: int, device: torch.device, data_dir: Path
) -> Benchmark:
    """Builds the custom benchmark of `spec` (see the module docstring) on `device`.

    Args:
        spec: The dataset (id and content digest), split, scenario and normalisation.
        seed: The run's seed; it draws the permutations of a permutation split.
        device: Where the task tensors live for the whole run.
        data_dir: The worker's data root; the dataset is at `dataset_path(data_dir, digest)`.

    Raises:
        DatasetError: If the spec has no digest, or the dataset file is missing, unreadable
            or not the one the digest names.
        ValueError: If `normalize` does not fit the inputs, a rotation split has vector
            inputs, a class split's task has no samples, or the tasks would not fit on the
            device.
    """
    what = f"custom dataset {spec.dataset}"
    arrays = load_custom_arrays(spec, Path(data_dir))
    # The arrays are the ones the digest names, which the API stores only for uploads that
    # passed its checks (`gapwatch.server.datasets.content`): numbers, one integer label per
    # row, the same sample shape in both splits.
    train_x, test_x = input_layout(arrays["x_train"]), input_layout(arrays["x_test"])
    train_y, test_y = arrays["y_train"], arrays["y_test"]
    shape = tuple(int(d) for d in train_x.shape[1:])
    normalization = resolve_normalization(spec.normalize, None, shape, what)
    split = spec.split
    if isinstance(split, ClassSplitSpec):
        tasks = _class_tasks(
            split, (train_x, test_x), (train_y, test_y), normalization, device, what
        )
        return make_benchmark(spec.name, spec.scenario, tasks, shape)

    n_tasks = split.n_tasks if split.kind == "permutations" else len(split.angles)
    if split.kind == "rotations" and len(shape) != 3:
        raise ValueError(
            f"a rotations split needs images, (N, H, W) or (N, C, H, W), but {what} has "
            f"vectors of shape {shape}; use a permutations or classes split"
        )
    rows = len(train_x) + len(test_x)
    features = math.prod(shape)
    check_memory(rows * (n_tasks * features * FLOAT32_BYTES + LABEL_BYTES), device, what)
    classes = tuple(int(c) for c in np.union1d(train_y, test_y))
    if split.kind == "permutations":
        # Standardised first: a permutation mixes the channels of images.
        train = (inputs_to_device(train_x, device, normalization), _labels(train_y, device))
        test = (inputs_to_device(test_x, device, normalization), _labels(test_y, device))
        permutations: list[torch.Tensor | None] = [None]
        permutations += [
            feature_permutation(seed, f"{PERMUTATION_STREAM}/{t}", features)
            for t in range(1, n_tasks)
        ]
        tasks = permuted_tasks(classes, train, test, permutations)
    else:
        train = (inputs_to_device(train_x, device), _labels(train_y, device))
        test = (inputs_to_device(test_x, device), _labels(test_y, device))
        tasks = rotated_tasks(classes, train, test, split.angles, normalization)
    return make_benchmark(spec.name, spec.scenario, tasks, shape)
