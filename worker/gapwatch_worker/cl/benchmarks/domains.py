"""Domain tasks: every task holds the same samples and classes, seen through its own transform
(a seeded permutation of the input features, or a rotation of the images).

Shared by Permuted/Rotated MNIST (`mnist_domains`) and custom benchmarks (`custom`). Each task's
inputs are transformed once, at build time, on the run's device, and kept; see `mnist_domains`
for why and what it costs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch.nn import functional

from ..seeding import make_generator
from .base import TaskData
from .images import Normalization, normalize_


def feature_permutation(seed: int, stream: str, n_features: int) -> torch.Tensor:
    """A permutation of `n_features` indices (int64, CPU) drawn from the run's named stream."""
    return torch.randperm(n_features, generator=make_generator(seed, stream))


def permute_features(inputs: torch.Tensor, permutation: torch.Tensor) -> torch.Tensor:
    """New inputs whose flattened feature i is the old feature permutation[i] (all of an
    input's features, channels included, flattened in C order)."""
    # 2-D index_select: on a 3-D tensor the same gather along the last dimension runs 10x slower.
    flat = inputs.reshape(len(inputs), -1)
    return torch.index_select(flat, 1, permutation.to(inputs.device)).view(inputs.shape)


def rotate_images(images: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotates (N, C, H, W) images counter-clockwise by `degrees` about their centre.

    Bilinear sampling, zeros outside the original image; 90-degree steps of square images land
    exactly on pixel centres and equal `torch.rot90`. The rotation is one of pixel space, so a
    non-square image turns without shearing (its corners leave the frame). All N x C planes
    share one sampling grid, so they are sampled as the channels of a single image: no
    per-image grid in memory.
    """
    if degrees % 360.0 == 0.0:
        return images  # tasks never write to their tensors: sharing is safe
    n, c, h, w = images.shape
    angle = math.radians(degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    # affine_grid's coordinates run over [-1, 1] on each side; h / w and w / h turn a rotation
    # in pixels into those coordinates (both are 1 for square images).
    theta = torch.tensor(
        [[[cos, -sin * (h / w), 0.0], [sin * (w / h), cos, 0.0]]],
        dtype=images.dtype,
        device=images.device,
    )
    grid = functional.affine_grid(theta, [1, n * c, h, w], align_corners=False)
    rotated = functional.grid_sample(
        images.reshape(1, n * c, h, w),
        grid,
        mode="bilinear",
        padding_mode="zeros",
        align_corners=False,
    )
    return rotated.view(n, c, h, w)


def permuted_tasks(
    classes: tuple[int, ...],
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    permutations: Sequence[torch.Tensor | None],
) -> list[TaskData]:
    """One task per permutation (None: the inputs as they are), all samples in each.

    The inputs are permuted as given: standardise them before, per channel, as the channels
    are still where they were then. Labels stay class ids and are shared by every task.
    """
    (train_x, train_y), (test_x, test_y) = train, test
    tasks = []
    for permutation in permutations:
        if permutation is None:
            task_train, task_test = train_x, test_x
        else:
            task_train = permute_features(train_x, permutation)
            task_test = permute_features(test_x, permutation)
        tasks.append(TaskData(classes, task_train, train_y, task_test, test_y))
    return tasks


def rotated_tasks(
    classes: tuple[int, ...],
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    angles: Sequence[float],
    normalization: Normalization | None = None,
) -> list[TaskData]:
    """One task per angle, all samples in each, images rotated by the angle (degrees).

    Images are rotated as the pixels they are and standardised after: the corners that a
    rotation brings in are background (0) and standardised like it, as `Normalize` after a
    rotation does in torchvision pipelines. Tasks whose angle is a multiple of 360 share one
    standardised copy of the inputs.
    """
    (train_x, train_y), (test_x, test_y) = train, test
    unrotated: tuple[torch.Tensor, torch.Tensor] | None = None
    tasks = []
    for angle in angles:
        if angle % 360.0 == 0.0:
            if unrotated is None:
                unrotated = (
                    normalize_(_copy_if(train_x, normalization), normalization),
                    normalize_(_copy_if(test_x, normalization), normalization),
                )
            task_train, task_test = unrotated
        else:
            # rotate_images returns fresh tensors here: standardising them in place is safe.
            task_train = normalize_(rotate_images(train_x, angle), normalization)
            task_test = normalize_(rotate_images(test_x, angle), normalization)
        tasks.append(TaskData(classes, task_train, train_y, task_test, test_y))
    return tasks


def _copy_if(x: torch.Tensor, normalization: Normalization | None) -> torch.Tensor:
    """`x` itself if nothing will write to it, else a copy that may be standardised in place."""
    return x if normalization is None else x.clone()
