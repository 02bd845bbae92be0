"""`normalize` on the built-in image benchmarks: it replaces the benchmark's default
standardisation; None keeps the default (no standardisation for the digits and MNISTs, the
CIFAR statistics for CIFAR)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from dataset_files import install_tiny_datasets

from gapwatch.spec import NormalizeSpec, RunSpec, SplitDigitsSpec
from gapwatch_worker.cl.benchmarks import Benchmark, build_benchmark
from gapwatch_worker.cl.benchmarks.cifar import CIFAR10_MEAN, CIFAR10_STD
from gapwatch_worker.cl.benchmarks.domains import rotate_images

MNIST_STATS = {"mean": [0.1307], "std": [0.3081]}  # De Lange et al.'s MNIST normalisation


def _build(data_dir: Path | None = None, **fields: Any) -> Benchmark:
    spec = RunSpec.model_validate(
        {"benchmark": fields, "model": {"name": "mlp"}, "strategy": {"name": "finetune"}}
    ).benchmark
    return build_benchmark(spec, 0, "cpu", data_dir)


def _standardised(x: torch.Tensor, mean: list[float], std: list[float]) -> torch.Tensor:
    shape = (1, len(mean), 1, 1)
    return (x - torch.tensor(mean).view(shape)) / torch.tensor(std).view(shape)


def test_split_digits_normalize_applies_mean_and_std_and_none_changes_nothing() -> None:
    plain = _build(name="split_digits")
    default = _build(name="split_digits", normalize=None)
    normalised = _build(name="split_digits", normalize={"mean": [0.25], "std": [0.5]})

    for before, same, after in zip(plain.tasks, default.tasks, normalised.tasks, strict=True):
        assert torch.equal(same.train_x, before.train_x) and torch.equal(same.test_x, before.test_x)
        assert float(before.train_x.min()) >= 0.0 and float(before.train_x.max()) <= 1.0
        assert torch.allclose(after.train_x, (before.train_x - 0.25) / 0.5)
        assert torch.allclose(after.test_x, (before.test_x - 0.25) / 0.5)
        assert torch.equal(after.train_y, before.train_y)
    # A pixel by hand: a blank pixel (0) becomes -0.5, a full one (1) 1.5.
    first = normalised.tasks[0].train_x
    assert set(first[plain.tasks[0].train_x == 0.0].unique().tolist()) == {-0.5}
    assert set(first[plain.tasks[0].train_x == 1.0].unique().tolist()) == {1.5}


def test_normalize_must_give_one_value_per_channel() -> None:
    wrong = {"mean": [0.5] * 3, "std": [0.2] * 3}
    # The spec refuses it (a 422 at submission)...
    with pytest.raises(ValueError, match=r"normalize gives 3 values; split_digits images have 1"):
        _build(name="split_digits", normalize=wrong)
    # ...and the engine too, for a spec that was never validated against that rule.
    spec = SplitDigitsSpec(name="split_digits").model_copy(
        update={"normalize": NormalizeSpec(**wrong)}
    )
    with pytest.raises(ValueError, match=r"normalize gives 3 mean/std values, but split_digits"):
        build_benchmark(spec, 0, "cpu", None)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    install_tiny_datasets(monkeypatch, tmp_path)
    return tmp_path


def test_mnist_family_normalize(data_dir: Path) -> None:
    for name in ("split_mnist", "split_fashion_mnist"):
        plain, normalised = (
            _build(data_dir, name=name, normalize=value) for value in (None, MNIST_STATS)
        )
        assert torch.allclose(
            normalised.tasks[2].train_x, _standardised(plain.tasks[2].train_x, **MNIST_STATS)
        )

    plain = _build(data_dir, name="permuted_mnist", n_tasks=2)
    permuted = _build(data_dir, name="permuted_mnist", n_tasks=2, normalize=MNIST_STATS)
    for before, after in zip(plain.tasks, permuted.tasks, strict=True):
        assert torch.allclose(after.test_x, _standardised(before.test_x, **MNIST_STATS))

    # Rotated, then standardised: the corners a rotation brings in are background pixels.
    angles = [0.0, 45.0]
    rotated = _build(
        data_dir, name="rotated_mnist", n_tasks=2, angles=angles, normalize=MNIST_STATS
    )
    base = plain.tasks[0].train_x
    for angle, task in zip(angles, rotated.tasks, strict=True):
        expected = _standardised(rotate_images(base, angle), **MNIST_STATS)
        assert torch.allclose(task.train_x, expected, atol=1e-5)
    background = (0.0 - 0.1307) / 0.3081
    assert float(rotated.tasks[1].train_x[:, 0, 0, 0].max()) == pytest.approx(background)


def test_cifar_normalize_replaces_the_default(data_dir: Path) -> None:
    default = _build(data_dir, name="split_cifar10", n_tasks=2)
    given = {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.5, 1.0]}
    replaced = _build(data_dir, name="split_cifar10", n_tasks=2, normalize=given)
    # Undo the default standardisation: the pixels in [0, 1]; then apply the given one.
    shape = (1, 3, 1, 1)
    pixels = default.tasks[1].test_x * torch.tensor(CIFAR10_STD).view(shape) + torch.tensor(
        CIFAR10_MEAN
    ).view(shape)
    assert torch.allclose(replaced.tasks[1].test_x, _standardised(pixels, **given), atol=1e-5)

    with pytest.raises(ValueError, match=r"split_cifar100 images have 3 channels"):
        _build(data_dir, name="split_cifar100", normalize=MNIST_STATS)
