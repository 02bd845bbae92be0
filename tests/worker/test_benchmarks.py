"""Benchmarks built from tiny datasets in the original formats: tasks, targets, transforms."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from dataset_files import closed_port_url, install_tiny_datasets, register, write_mnist_files

from gapwatch.spec import RunSpec
from gapwatch_worker.cl.benchmarks import Benchmark, build_benchmark
from gapwatch_worker.cl.benchmarks.cifar import CIFAR10_MEAN, CIFAR10_STD
from gapwatch_worker.cl.benchmarks.domains import permute_features, rotate_images
from gapwatch_worker.cl.benchmarks.images import check_memory
from gapwatch_worker.cl.datasets import DatasetUnavailable
from gapwatch_worker.cl.loop import run_experiment
from gapwatch_worker.cl.reporting import MemoryReporter

CPU = torch.device("cpu")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, dict]]:
    return tmp_path, install_tiny_datasets(monkeypatch, tmp_path)


def _build(data_dir: Path, seed: int = 0, **fields: Any) -> Benchmark:
    spec = RunSpec.model_validate(
        {"benchmark": fields, "model": {"name": "mlp"}, "strategy": {"name": "finetune"}}
    ).benchmark
    return build_benchmark(spec, seed, "cpu", data_dir)


def test_every_builtin_benchmark_has_a_builder() -> None:
    from gapwatch.plugins import load_implementation
    from gapwatch.spec import BENCHMARK_COMPONENTS

    for component in BENCHMARK_COMPONENTS:
        if component.builtin:
            assert callable(load_implementation(component.spec_class.model_construct()))


@pytest.mark.parametrize("name", ["split_mnist", "split_fashion_mnist"])
def test_split_mnist_family(data_dir: tuple[Path, dict], name: str) -> None:
    root, written = data_dir
    raw = written["mnist" if name == "split_mnist" else "fashion_mnist"]
    benchmark = _build(root, name=name)

    assert (benchmark.input_shape, benchmark.n_outputs) == ((1, 28, 28), 10)
    assert [t.classes for t in benchmark.tasks] == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    for task in benchmark.tasks:
        assert task.train_x.dtype == torch.float32 and task.train_x.shape == (12, 1, 28, 28)
        assert task.test_x.shape == (6, 1, 28, 28) and task.output_units is None
        assert set(task.train_y.tolist()) == set(task.classes)  # class-IL: the digit itself
    # Images are the original bytes / 255, in the original order within the task.
    first = raw["train_images"][np.isin(raw["train_labels"], (2, 3))][0]
    assert torch.equal(benchmark.tasks[1].train_x[0, 0], torch.from_numpy(first).float() / 255)


def test_split_mnist_scenarios_and_task_counts(data_dir: tuple[Path, dict]) -> None:
    root, _ = data_dir
    task_il = _build(root, name="split_mnist", scenario="task_incremental")
    assert task_il.n_outputs == 10
    assert [t.output_units for t in task_il.tasks] == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)]
    domain = _build(root, name="split_mnist", scenario="domain_incremental", n_tasks=3)
    assert domain.n_outputs == 3 and len(domain.tasks) == 3
    assert [t.classes for t in domain.tasks] == [(0, 1, 2), (3, 4, 5), (6, 7, 8)]
    assert set(domain.tasks[2].train_y.tolist()) == {0, 1, 2}


def test_permuted_mnist(data_dir: tuple[Path, dict]) -> None:
    root, written = data_dir
    benchmark = _build(root, name="permuted_mnist", n_tasks=3)
    again = _build(root, name="permuted_mnist", n_tasks=3)
    other_seed = _build(root, seed=1, name="permuted_mnist", n_tasks=3)

    assert benchmark.scenario == "domain_incremental" and benchmark.n_outputs == 10
    base = torch.from_numpy(written["mnist"]["train_images"]).float()[:, None] / 255
    tasks = benchmark.tasks
    assert torch.equal(tasks[0].train_x, base)  # task 0 unpermuted
    for task in tasks[1:]:
        assert not torch.equal(task.train_x, base)
        # Each image keeps its pixels, only their places change, the same way for all images.
        assert torch.equal(task.train_x.flatten(1).sort(1).values, base.flatten(1).sort(1).values)
        assert torch.equal(task.train_y, tasks[0].train_y) and task.classes == tuple(range(10))
    assert not torch.equal(tasks[1].train_x, tasks[2].train_x)
    position = (tasks[1].train_x[0].flatten() == base[0].flatten()[100]).nonzero()
    assert len(position) >= 1
    assert all(torch.equal(a.test_x, b.test_x) for a, b in zip(tasks, again.tasks, strict=True))
    assert not torch.equal(tasks[1].train_x, other_seed.tasks[1].train_x)
    # The same pixel order on train and test images.
    probe = torch.arange(784, dtype=torch.float32).view(1, 1, 28, 28)
    from gapwatch_worker.cl.benchmarks.mnist_domains import pixel_permutation

    permutation = pixel_permutation(0, 1, 784)
    assert permutation is not None
    order = permute_features(probe, permutation).flatten().long()
    assert torch.equal(tasks[1].test_x.flatten(1), tasks[0].test_x.flatten(1)[:, order])

    task_il = _build(root, name="permuted_mnist", n_tasks=3, scenario="task_incremental")
    assert task_il.n_outputs == 30
    assert [t.output_units for t in task_il.tasks] == [(0, 10), (10, 20), (20, 30)]
    assert torch.equal(task_il.tasks[2].train_y, tasks[2].train_y + 20)


def test_rotated_mnist(data_dir: tuple[Path, dict]) -> None:
    root, written = data_dir
    base = torch.from_numpy(written["mnist"]["t10k_images"]).float()[:, None] / 255
    default = _build(root, name="rotated_mnist", n_tasks=3)
    assert default.scenario == "domain_incremental" and default.n_outputs == 10
    assert torch.equal(default.tasks[0].test_x, base)
    assert torch.allclose(default.tasks[2].test_x, rotate_images(base, 18.0))
    assert not torch.allclose(default.tasks[1].test_x, default.tasks[2].test_x)

    quarter = _build(root, name="rotated_mnist", n_tasks=2, angles=[90.0, -180.0])
    assert torch.allclose(quarter.tasks[0].test_x, torch.rot90(base, 1, (2, 3)), atol=1e-5)
    assert torch.allclose(quarter.tasks[1].train_x.flip(2, 3), default.tasks[0].train_x, atol=1e-5)


def test_rotation_is_about_the_centre_and_counter_clockwise() -> None:
    image = torch.zeros(1, 1, 5, 5)
    image[0, 0, 0, 4] = 1.0  # top right
    assert rotate_images(image, 90.0)[0, 0, 0, 0] == pytest.approx(1.0)  # to the top left
    rotated = rotate_images(image, 45.0)
    assert float(rotated.sum()) < 1.0  # the corner leaves the frame in part
    assert rotated[0, 0, 2, 2] == 0.0


def test_split_cifar(data_dir: tuple[Path, dict]) -> None:
    root, written = data_dir
    benchmark = _build(root, name="split_cifar10")
    assert (benchmark.input_shape, benchmark.n_outputs) == ((3, 32, 32), 10)
    assert len(benchmark.tasks) == 5
    raw = written["cifar10"]
    index = int(np.flatnonzero(np.isin(raw["test_y"], (0, 1)))[0])
    pixel = raw["test_x"][index].reshape(3, 32, 32)[2, 4, 5] / 255
    expected = (pixel - CIFAR10_MEAN[2]) / CIFAR10_STD[2]
    assert float(benchmark.tasks[0].test_x[0, 2, 4, 5]) == pytest.approx(expected, abs=1e-5)

    for n_tasks, per_task in ((10, 10), (20, 5)):
        hundred = _build(root, name="split_cifar100", n_tasks=n_tasks)
        assert hundred.n_outputs == 100 and len(hundred.tasks) == n_tasks
        assert hundred.tasks[-1].classes == tuple(range(100 - per_task, 100))
        assert len(hundred.tasks[0].train_y) == 2 * per_task  # 2 images per class
    task_il = _build(root, name="split_cifar100", scenario="task_incremental")
    assert task_il.tasks[3].output_units == (30, 40)


def _synthetic(seed: int = 0, **fields: Any) -> Benchmark:
    base = {
        "name": "synthetic",
        "scenario": "class_incremental",
        "n_tasks": 3,
        "dim": 8,
        "train_per_class": 400,
    }
    return _build(Path("unused"), seed, **{**base, **fields})


def test_synthetic_shapes_labels_and_seed() -> None:
    benchmark = _synthetic(classes_per_task=3, test_per_class=5)
    assert (benchmark.input_shape, benchmark.n_outputs) == ((8,), 9)
    assert [t.classes for t in benchmark.tasks] == [(0, 1, 2), (3, 4, 5), (6, 7, 8)]
    task = benchmark.tasks[1]
    assert task.train_x.shape == (1200, 8) and task.test_x.shape == (15, 8)
    assert task.train_x.dtype == torch.float32
    assert torch.bincount(task.train_y).tolist() == [0, 0, 0, 400, 400, 400]
    again, other = _synthetic(classes_per_task=3, test_per_class=5), _synthetic(seed=1)
    assert torch.equal(again.tasks[2].train_x, benchmark.tasks[2].train_x)
    assert not torch.equal(other.tasks[0].train_x, _synthetic().tasks[0].train_x)


def _class_means(task: Any) -> torch.Tensor:
    labels = task.train_y - task.train_y.min()
    return torch.stack([task.train_x[labels == j].mean(0) for j in range(int(labels.max()) + 1)])


def test_synthetic_clusters_follow_noise_and_separation() -> None:
    benchmark = _synthetic(noise=0.5, separation=4.0, dissimilarity=0.0, train_per_class=2000)
    task = benchmark.tasks[0]
    means = _class_means(task)
    assert means.norm(dim=1).tolist() == pytest.approx([4.0, 4.0], abs=0.1)
    spread = (task.train_x[task.train_y == 0] - means[0]).std(0)
    assert spread.tolist() == pytest.approx([0.5] * 8, abs=0.05)


def test_more_dissimilarity_moves_tasks_further_apart() -> None:
    def task_distance(d: float) -> float:
        # Same seed: the same base clusters and planes of rotation, turned further as d grows.
        tasks = _synthetic(dissimilarity=d, n_tasks=4).tasks
        means = [_class_means(t) for t in tasks]
        pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)]
        return sum(float((means[i] - means[j]).norm(dim=1).mean()) for i, j in pairs) / len(pairs)

    distances = [task_distance(d) for d in (0.0, 0.25, 0.5, 1.0)]
    assert distances[0] < 0.3  # only sampling noise: the same clusters
    assert distances[0] < distances[1] < distances[2] < distances[3], distances
    assert distances[3] > 3.0  # at separation 3 an unrelated rotation moves centres far


def test_synthetic_rotations_are_rotations() -> None:
    from gapwatch_worker.cl.benchmarks.synthetic import task_rotation

    for dim in (2, 7):
        generator = torch.Generator().manual_seed(0)
        r = task_rotation(dim, 0.7, generator)
        assert torch.allclose(r @ r.T, torch.eye(dim, dtype=torch.float64), atol=1e-12)
        assert float(torch.linalg.det(r)) == pytest.approx(1.0)
        same = task_rotation(dim, 0.0, torch.Generator().manual_seed(0))
        assert torch.allclose(same, torch.eye(dim, dtype=torch.float64), atol=1e-12)
        # One geodesic from the identity: R(d) R(d) = R(2d) for the same generator A.
        half = task_rotation(dim, 0.35, torch.Generator().manual_seed(0))
        assert torch.allclose(half @ half, r, atol=1e-12)


def test_memory_check_refuses_with_the_numbers() -> None:
    with pytest.raises(ValueError, match=r"needs 1048576\.0 GiB on cpu, but only"):
        check_memory(2**50, CPU, "permuted_mnist with 100 tasks")
    check_memory(1, CPU, "tiny")


def test_a_run_on_a_missing_dataset_fails_with_the_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_mnist_files(tmp_path / "template")
    names = [p.name for p in sorted((tmp_path / "template").iterdir())]
    register(monkeypatch, "mnist", tmp_path / "template", names, closed_port_url())
    spec = RunSpec.model_validate(
        {
            "benchmark": {"name": "split_mnist"},
            "model": {"name": "mlp"},
            "strategy": {"name": "finetune"},
            "device": "cpu",
        }
    )
    with pytest.raises(
        DatasetUnavailable, match="^dataset mnist not in cache and download failed: "
    ):
        run_experiment(spec, MemoryReporter(), data_dir=tmp_path / "empty")


@pytest.mark.parametrize(
    ("benchmark", "model"),
    [
        (
            {"name": "split_mnist", "scenario": "task_incremental", "n_tasks": 2},
            {"name": "cnn", "channels": [4], "hidden": 16},
        ),
        ({"name": "permuted_mnist", "n_tasks": 2}, {"name": "mlp", "hidden_sizes": [16]}),
        ({"name": "split_cifar10", "n_tasks": 2}, {"name": "resnet18_reduced", "nf": 4}),
        (
            {"name": "synthetic", "n_tasks": 2, "train_per_class": 20},
            {"name": "mlp", "hidden_sizes": [8]},
        ),
    ],
)
def test_runs_end_to_end(data_dir: tuple[Path, dict], benchmark: dict, model: dict) -> None:
    root, _ = data_dir
    spec = RunSpec.model_validate(
        {
            "benchmark": benchmark,
            "model": model,
            "strategy": {"name": "finetune"},
            "training": {"iterations_per_task": 3, "batch_size": 8},
            "evaluation": {"every": 1, "subset_size": 10},
            "device": "cpu",
        }
    )
    reporter = MemoryReporter()
    outcome = run_experiment(spec, reporter, data_dir=root)
    n_tasks = benchmark["n_tasks"]
    assert outcome.iterations == 3 * n_tasks
    accuracies = reporter.values(f"eval/acc/task_{n_tasks - 1}")
    assert accuracies and all(0.0 <= a <= 1.0 for a in accuracies)
    assert all(math.isfinite(v) for v in reporter.values(f"eval/loss/task_{n_tasks - 1}"))
