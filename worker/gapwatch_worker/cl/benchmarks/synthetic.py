"""Synthetic: seeded Gaussian class clusters, with a knob for how different the tasks are.

Every task has `classes_per_task` classes of its own (task k: classes k*m .. k*m + m - 1). The
clusters are built from one shared set of base centres: local class j of any task is centred
on the same base centre c_j, a point at distance `separation` from the origin in a random
direction, and its samples are c_j + noise * z with z standard normal. Task k then sees its
inputs through its own rotation R_k(d) of the input space, d = `dissimilarity`:

    R_k(d) = Q_k · blockdiag(rot(d·θ_k,1), rot(d·θ_k,2), ...) · Q_kᵀ = expm(d · A_k),

with Q_k a random orthogonal basis (planes of rotation) and θ_k,i uniform in (-π, π). A_k is a
random skew-symmetric generator whose angles are within (-π, π), so R_k(d) is the geodesic from
the identity (d = 0: every task in the same input space) to a random rotation (d = 1: each task
in an unrelated one), and every plane turns further as d grows. Tasks then differ only by the
rotations; without the shared base centres a rotation of random clusters would be just another
set of random clusters, and d would change nothing.

Note: in class-incremental at d = 0, local class j of every task sits on the same cluster under
different labels; the tasks cannot all be solved at once, and interference is maximal there.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from gapwatch.components import SyntheticSpec

from ..seeding import make_generator
from .base import Benchmark, TaskData
from .scenarios import make_benchmark


def random_orthogonal(dim: int, generator: torch.Generator) -> torch.Tensor:
    """A Haar-distributed orthogonal matrix (QR of a Gaussian, signs fixed), float64."""
    q, r = torch.linalg.qr(torch.randn(dim, dim, generator=generator, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r)).where(torch.diagonal(r) != 0, 1.0)


def task_rotation(dim: int, dissimilarity: float, generator: torch.Generator) -> torch.Tensor:
    """R(d) = expm(d · A) for a random skew-symmetric A with rotation angles in (-π, π), float64.

    Built in closed form: in the planes spanned by column pairs of a random orthogonal Q, turn
    by d·θ_i; an odd dimension leaves one direction fixed.
    """
    basis = random_orthogonal(dim, generator)
    angles = (torch.rand(dim // 2, generator=generator, dtype=torch.float64) * 2 - 1) * math.pi
    block = torch.eye(dim, dtype=torch.float64)
    cos, sin = torch.cos(dissimilarity * angles), torch.sin(dissimilarity * angles)
    even = torch.arange(0, 2 * (dim // 2), 2)
    block[even, even] = cos
    block[even + 1, even + 1] = cos
    block[even, even + 1] = -sin
    block[even + 1, even] = sin
    return basis @ block @ basis.T


def base_centres(
    n_classes: int, dim: int, separation: float, generator: torch.Generator
) -> torch.Tensor:
    """n_classes points at distance `separation` from the origin, in uniform random directions."""
    directions = torch.randn(n_classes, dim, generator=generator, dtype=torch.float64)
    return separation * directions / directions.norm(dim=1, keepdim=True)


def _samples(
    centres: torch.Tensor, per_class: int, noise: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    n_classes, dim = centres.shape
    local = torch.arange(n_classes).repeat_interleave(per_class)
    z = torch.randn(len(local), dim, generator=generator, dtype=torch.float64)
    return centres[local] + noise * z, local


def build_synthetic(
    spec: SyntheticSpec, seed: int, device: torch.device, data_dir: Path | None = None
) -> Benchmark:
    """Builds the synthetic benchmark (see the module docstring) with its tensors on `device`.

    Everything is drawn from the run's seed on the CPU in float64 and stored as float32, so a
    CPU run and a CUDA run see the same inputs.

    Args:
        spec: Tasks, classes per task, dimension, samples per class, noise, separation and
            dissimilarity.
        seed: The run's seed.
        device: Where the task tensors live for the whole run.
        data_dir: Unused.
    """
    m = spec.classes_per_task
    centres = base_centres(m, spec.dim, spec.separation, make_generator(seed, "synthetic/centres"))
    tasks = []
    for k in range(spec.n_tasks):
        rotation = task_rotation(
            spec.dim, spec.dissimilarity, make_generator(seed, f"synthetic/rotation/{k}")
        )
        sampler = make_generator(seed, f"synthetic/samples/{k}")
        splits = []
        for per_class in (spec.train_per_class, spec.test_per_class):
            x, local = _samples(centres, per_class, spec.noise, sampler)
            splits += [
                (x @ rotation.T).to(torch.float32).to(device),
                (local + k * m).to(device),
            ]
        tasks.append(TaskData(tuple(range(k * m, (k + 1) * m)), *splits))
    return make_benchmark(spec.name, spec.scenario, tasks, (spec.dim,))
