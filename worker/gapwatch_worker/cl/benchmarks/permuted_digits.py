"""Permuted Digits: scikit-learn's bundled 8x8 digits, all ten classes in every task, each task
seen through its own seeded permutation of the pixels or of the labels.

The long-horizon benchmark of loss-of-plasticity studies, offline and small: Dohare et al.
(Nature 2024, "Loss of plasticity in deep continual learning") train on hundreds of Permuted
MNIST tasks, Elsayed & Mahmood (ICLR 2024, "Addressing loss of plasticity and catastrophic
forgetting in continual learning") also on label-permuted tasks (the same inputs, the labels
shuffled per task), where nothing of the input representation needs to change and any decline
of new-task accuracy is the network's. Here the data are the 1,797 digits, so hundreds of
tasks build in a second and train in one pass each (`training.online`).

Memory: `permute: labels` tasks all share one copy of the inputs (train and test) and hold only
their own targets; `permute: inputs` tasks hold a permuted copy of the 1,797 x 64 float32
inputs each (460 KB a task, 460 MB at the 1,000-task bound), task 0 the unpermuted arrays.
"""

from __future__ import annotations

import math

import torch

from gapwatch.components import PermutedDigitsSpec

from ..seeding import make_generator
from .base import Benchmark, TaskData
from .domains import feature_permutation, permuted_tasks
from .images import check_memory, inputs_to_device, resolve_normalization
from .scenarios import make_benchmark
from .split_digits import INPUT_SHAPE, N_CLASSES, _digits, stratified_split

__all__ = ["CLASSES", "build_permuted_digits", "label_permutation", "pixel_permutation"]

CLASSES = tuple(range(N_CLASSES))
N_PIXELS = math.prod(INPUT_SHAPE)


def pixel_permutation(seed: int, task: int) -> torch.Tensor | None:
    """The seeded pixel order of a task (int64, CPU); None (no permutation) for task 0."""
    if task == 0:
        return None
    return feature_permutation(seed, f"permuted_digits/inputs/{task}", N_PIXELS)


def label_permutation(seed: int, task: int) -> torch.Tensor:
    """The seeded relabelling of a task: class c becomes permutation[c]; identity for task 0."""
    if task == 0:
        return torch.arange(N_CLASSES)
    generator = make_generator(seed, f"permuted_digits/labels/{task}")
    return torch.randperm(N_CLASSES, generator=generator)


def build_permuted_digits(
    spec: PermutedDigitsSpec, seed: int, device: torch.device, data_dir: object = None
) -> Benchmark:
    """Builds Permuted Digits with its tensors on `device`.

    Args:
        spec: Number of tasks, what is permuted, test fraction, scenario and normalisation.
        seed: The run's seed: it fixes the train/test split (the same for every task) and
            every task's permutation.
        device: Where the task tensors live for the whole run.
        data_dir: Unused: the digits ship with scikit-learn.

    Returns:
        The benchmark: every task holds every train and test sample, images (1, 8, 8) in
        [0, 1] (standardised by `normalize` where given, before any permutation), the ten
        classes, targets mapped for the scenario (domain-incremental: one shared head).

    Raises:
        ValueError: If `normalize` does not give one value, or the tasks would not fit on the
            device.
    """
    normalization = resolve_normalization(spec.normalize, None, INPUT_SHAPE, spec.name)
    x, y = _digits()
    train_idx, test_idx = stratified_split(
        y, spec.test_fraction, make_generator(seed, "permuted_digits/split")
    )
    copies = spec.n_tasks if spec.permute == "inputs" else 1
    check_memory(
        copies * len(x) * N_PIXELS * 4, device, f"permuted_digits with {spec.n_tasks} tasks"
    )
    train = (
        inputs_to_device(x[train_idx], device, normalization),
        torch.from_numpy(y[train_idx]).to(device),
    )
    test = (
        inputs_to_device(x[test_idx], device, normalization),
        torch.from_numpy(y[test_idx]).to(device),
    )
    if spec.permute == "inputs":
        permutations = [pixel_permutation(seed, t) for t in range(spec.n_tasks)]
        tasks = permuted_tasks(CLASSES, train, test, permutations)
    else:
        tasks = []
        for t in range(spec.n_tasks):
            relabel = label_permutation(seed, t).to(device)
            # The inputs are shared by every task (nothing writes to task tensors); only the
            # targets are the task's own.
            tasks.append(TaskData(CLASSES, train[0], relabel[train[1]], test[0], relabel[test[1]]))
    return make_benchmark(spec.name, spec.scenario, tasks, INPUT_SHAPE)
