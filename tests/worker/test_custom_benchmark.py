"""Custom benchmarks over uploaded arrays: the dataset file checked by its content digest, the
three split kinds in every scenario they allow, input layouts, `normalize`, and runs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from gapwatch.datasets.arrays import array_digest, dataset_path
from gapwatch.spec import RunSpec, metric_key_eval_acc, metric_key_eval_loss
from gapwatch_worker.cl.benchmarks import Benchmark, build_benchmark
from gapwatch_worker.cl.benchmarks.domains import feature_permutation, rotate_images
from gapwatch_worker.cl.datasets import DatasetError
from gapwatch_worker.cl.loop import run_experiment
from gapwatch_worker.cl.reporting import MemoryReporter

Arrays = dict[str, np.ndarray]


def _write(data_dir: Path, arrays: Arrays) -> str:
    """Puts the arrays where the worker keeps a fetched dataset; returns their digest."""
    digest = array_digest(arrays)
    path = dataset_path(data_dir, digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return digest


def _arrays(x_train: np.ndarray, y_train: Any, x_test: np.ndarray, y_test: Any) -> Arrays:
    return {
        "x_train": x_train,
        "y_train": np.asarray(y_train, dtype=np.int64),
        "x_test": x_test,
        "y_test": np.asarray(y_test, dtype=np.int64),
    }


def _grey_images(n: int, seed: int, side: int = 6) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, side, side), dtype=np.uint8)


def _grey_dataset() -> Arrays:
    """(N, H, W) uint8 images of classes 0..3: 12 train rows, 8 test rows."""
    return _arrays(_grey_images(12, 0), [0, 1, 2, 3] * 3, _grey_images(8, 1), [3, 2, 1, 0] * 2)


def _vector_dataset(features: int = 5) -> Arrays:
    rng = np.random.default_rng(2)
    return _arrays(
        rng.normal(size=(16, features)).astype(np.float32),
        [0, 1, 2, 3] * 4,
        rng.normal(size=(8, features)).astype(np.float32),
        [0, 1, 2, 3] * 2,
    )


def _spec(digest: str | None, split: dict[str, Any], **fields: Any) -> Any:
    benchmark = {"name": "custom", "dataset": 1, "digest": digest, "split": split, **fields}
    return RunSpec.model_validate(
        {"benchmark": benchmark, "model": {"name": "mlp"}, "strategy": {"name": "finetune"}}
    ).benchmark


def _build(data_dir: Path, arrays: Arrays, split: dict[str, Any], **fields: Any) -> Benchmark:
    return build_benchmark(_spec(_write(data_dir, arrays), split, **fields), 0, "cpu", data_dir)


CLASSES = {"kind": "classes", "tasks": [[2, 0], [3]]}


def test_class_split_tasks_hold_their_classes_rows_in_order(tmp_path: Path) -> None:
    arrays = _grey_dataset()
    benchmark = _build(tmp_path, arrays, CLASSES)

    assert benchmark.name == "custom" and benchmark.scenario == "class_incremental"
    assert (benchmark.input_shape, benchmark.n_outputs) == ((1, 6, 6), 3)
    assert [t.classes for t in benchmark.tasks] == [(2, 0), (3,)]
    first, second = benchmark.tasks
    rows = np.isin(arrays["y_train"], (2, 0))
    expected = torch.from_numpy(arrays["x_train"][rows]).float()[:, None] / 255
    assert first.train_x.dtype == torch.float32 and torch.equal(first.train_x, expected)
    # Class-incremental: classes numbered by first appearance over the tasks: 2, 0, 3.
    assert first.train_y.tolist() == [{2: 0, 0: 1}[c] for c in arrays["y_train"][rows]]
    assert second.test_y.tolist() == [2, 2] and second.test_x.shape == (2, 1, 6, 6)
    assert first.output_units is None

    task_il = _build(tmp_path, arrays, CLASSES, scenario="task_incremental")
    assert [t.output_units for t in task_il.tasks] == [(0, 2), (2, 3)]
    domain = _build(tmp_path, arrays, CLASSES, scenario="domain_incremental")
    assert domain.n_outputs == 2 and set(domain.tasks[1].train_y.tolist()) == {0}


@pytest.mark.parametrize(
    ("shape", "dtype", "input_shape"),
    [
        ((4, 5), np.float32, (1, 4, 5)),  # grey images: a channel axis is added
        ((2, 4, 5), np.float64, (2, 4, 5)),  # images, channels first
        ((7,), np.float32, (7,)),  # vectors
        ((), np.int16, (1,)),  # one feature per row
        ((2, 3, 4, 5), np.float32, (120,)),  # a higher rank: flattened to vectors
    ],
)
def test_input_layouts_and_dtypes(
    tmp_path: Path, shape: tuple[int, ...], dtype: type, input_shape: tuple[int, ...]
) -> None:
    rng = np.random.default_rng(3)
    x_train = (rng.normal(size=(8, *shape)) * 10).astype(dtype)
    x_test = (rng.normal(size=(4, *shape)) * 10).astype(dtype)
    arrays = _arrays(x_train, [0, 1] * 4, x_test, [1, 0] * 2)
    benchmark = _build(tmp_path, arrays, {"kind": "classes", "tasks": [[0], [1]]})

    assert benchmark.input_shape == input_shape
    task = benchmark.tasks[1]
    assert task.train_x.dtype == torch.float32 and task.train_x.shape == (4, *input_shape)
    # Numbers other than uint8 keep their values.
    expected = torch.from_numpy(x_train[1::2].astype(np.float32)).reshape(4, *input_shape)
    assert torch.equal(task.train_x, expected)


def test_permutations_task_zero_as_is_other_tasks_in_seeded_feature_orders(
    tmp_path: Path,
) -> None:
    arrays = _vector_dataset()
    split = {"kind": "permutations", "n_tasks": 3}
    benchmark = _build(tmp_path, arrays, split, scenario="domain_incremental")
    digest = array_digest(arrays)

    assert benchmark.input_shape == (5,) and benchmark.n_outputs == 4
    x = torch.from_numpy(arrays["x_train"])
    tasks = benchmark.tasks
    assert torch.equal(tasks[0].train_x, x)  # the identity
    for t, task in enumerate(tasks):
        assert task.classes == (0, 1, 2, 3) and len(task.train_y) == 16
        assert torch.equal(task.train_y, tasks[0].train_y)
        if t == 0:
            continue
        permutation = feature_permutation(0, f"custom/permutation/{t}", 5)
        assert torch.equal(task.train_x, x[:, permutation])
        assert torch.equal(task.test_x, torch.from_numpy(arrays["x_test"])[:, permutation])
        assert not torch.equal(task.train_x, x)
    assert not torch.equal(tasks[1].train_x, tasks[2].train_x)
    # The seed draws the permutations: the same again, others for another seed.
    spec = _spec(digest, split, scenario="domain_incremental")
    again, other = (build_benchmark(spec, seed, "cpu", tmp_path) for seed in (0, 1))
    assert torch.equal(again.tasks[2].train_x, tasks[2].train_x)
    assert not torch.equal(other.tasks[1].train_x, tasks[1].train_x)

    task_il = _build(tmp_path, arrays, split, scenario="task_incremental")
    assert task_il.n_outputs == 12
    assert torch.equal(task_il.tasks[2].train_y, tasks[2].train_y + 8)


def test_permutations_of_images_permute_every_feature_after_standardising(
    tmp_path: Path,
) -> None:
    x = np.random.default_rng(4).integers(0, 256, (6, 2, 3, 3), dtype=np.uint8)
    arrays = _arrays(x, [0, 1] * 3, x[:2], [0, 1])
    normalize = {"mean": [0.5, 0.25], "std": [0.5, 0.25]}
    split = {"kind": "permutations", "n_tasks": 2}
    benchmark = _build(tmp_path, arrays, split, scenario="domain_incremental", normalize=normalize)

    base = benchmark.tasks[0].train_x
    expected = (torch.from_numpy(x).float() / 255 - torch.tensor([0.5, 0.25]).view(1, 2, 1, 1)) / (
        torch.tensor([0.5, 0.25]).view(1, 2, 1, 1)
    )
    assert torch.allclose(base, expected, atol=1e-6)
    permutation = feature_permutation(0, "custom/permutation/1", 18)
    moved = benchmark.tasks[1].train_x
    assert moved.shape == (6, 2, 3, 3)
    assert torch.equal(moved.flatten(1), base.flatten(1)[:, permutation])


def test_rotations_zero_keeps_the_images_ninety_turns_them(tmp_path: Path) -> None:
    x = np.zeros((4, 5, 5), dtype=np.uint8)
    x[:, 0, 4] = 255  # top right
    x[1:, 2, 1] = 51
    arrays = _arrays(x, [0, 1, 0, 1], x[:2], [1, 0])
    split = {"kind": "rotations", "angles": [0.0, 90.0, -270.0]}
    benchmark = _build(tmp_path, arrays, split, scenario="domain_incremental")

    base = torch.from_numpy(x).float()[:, None] / 255
    kept, turned, same_turn = benchmark.tasks
    assert torch.equal(kept.train_x, base)
    assert torch.allclose(turned.train_x, torch.rot90(base, 1, (2, 3)), atol=1e-6)
    assert float(turned.train_x[0, 0, 0, 0]) == pytest.approx(1.0)  # to the top left
    assert torch.allclose(same_turn.test_x, turned.test_x, atol=1e-6)
    assert kept.classes == (0, 1) and torch.equal(turned.train_y, kept.train_y)


def test_rotations_turn_non_square_images_without_shearing() -> None:
    image = torch.zeros(1, 1, 3, 5)
    image[0, 0, 1, 3] = 1.0  # one pixel right of the centre
    assert torch.allclose(rotate_images(image, 90.0)[0, 0, 0, 2], torch.tensor(1.0), atol=1e-6)
    tall = torch.zeros(1, 1, 5, 3)
    tall[0, 0, 2, 2] = 1.0
    turned = rotate_images(tall, -90.0)  # clockwise: right of the centre goes below it
    assert float(turned[0, 0, 3, 1]) == pytest.approx(1.0) and float(turned.sum()) == pytest.approx(
        1.0
    )


def test_rotations_standardise_after_turning_and_refuse_vectors(tmp_path: Path) -> None:
    x = np.full((2, 8, 8), 255, dtype=np.uint8)
    arrays = _arrays(x, [0, 1], x, [0, 1])
    normalize = {"mean": [0.5], "std": [0.25]}
    split = {"kind": "rotations", "angles": [0.0, 45.0]}
    benchmark = _build(tmp_path, arrays, split, scenario="domain_incremental", normalize=normalize)
    assert torch.allclose(benchmark.tasks[0].train_x, torch.full((2, 1, 8, 8), 2.0))
    # The corners a rotation brings in are background (0), standardised like it: -2.
    assert float(benchmark.tasks[1].train_x[0, 0, 0, 0]) == pytest.approx(-2.0)
    assert float(benchmark.tasks[1].train_x[0, 0, 3, 3]) == pytest.approx(2.0)

    with pytest.raises(ValueError, match=r"rotations split needs images.*vectors of shape \(5,\)"):
        _build(tmp_path, _vector_dataset(), split, scenario="domain_incremental")


def test_normalize_by_hand(tmp_path: Path) -> None:
    x = np.array([[[[255, 0]], [[0, 255]]]], dtype=np.uint8)  # one image (2, 1, 2)
    arrays = _arrays(np.repeat(x, 2, 0), [0, 1], np.repeat(x, 2, 0), [0, 1])
    split = {"kind": "classes", "tasks": [[0], [1]]}
    normalize = {"mean": [0.5, 0.25], "std": [0.5, 0.25]}
    image = _build(tmp_path, arrays, split, normalize=normalize).tasks[1].test_x[0]
    # Channel 0: (1 - 0.5) / 0.5, (0 - 0.5) / 0.5; channel 1: (0 - .25) / .25, (1 - .25) / .25.
    assert image.tolist() == [[[1.0, -1.0]], [[-1.0, 3.0]]]
    assert arrays["x_train"][0, 0, 0, 0] == 255  # the arrays are not written to

    rows = np.array([[1.0, 2.0, 3.0]] * 2, np.float32)
    vectors = _arrays(rows, [0, 1], rows.copy(), [0, 1])
    one = _build(tmp_path, vectors, split, normalize={"mean": [1.0], "std": [2.0]})
    assert one.tasks[0].train_x.tolist() == [[0.0, 0.5, 1.0]]
    each = _build(tmp_path, vectors, split, normalize={"mean": [1, 2, 3], "std": [1, 2, 4]})
    assert each.tasks[0].train_x.tolist() == [[0.0, 0.0, 0.0]]
    assert vectors["x_train"][0].tolist() == [1.0, 2.0, 3.0]

    with pytest.raises(
        ValueError, match=r"normalize gives 2 mean/std values, but custom dataset 1 "
    ):
        _build(tmp_path, _grey_dataset(), CLASSES, normalize=normalize)
    with pytest.raises(ValueError, match="vectors of 3 features: give one value for all"):
        _build(tmp_path, vectors, split, normalize=normalize)


def test_the_file_must_hold_the_content_its_digest_names(tmp_path: Path) -> None:
    arrays = _grey_dataset()
    digest = array_digest(arrays)
    other = dict(arrays, y_test=arrays["y_test"][::-1].copy())
    path = dataset_path(tmp_path, digest)
    path.parent.mkdir(parents=True)
    np.savez(path, **other)
    with pytest.raises(DatasetError, match=f"digest {array_digest(other)}.*names digest {digest}"):
        build_benchmark(_spec(digest, CLASSES), 0, "cpu", tmp_path)

    path.write_bytes(b"not an npz")
    with pytest.raises(DatasetError, match="cannot read"):
        build_benchmark(_spec(digest, CLASSES), 0, "cpu", tmp_path)


def test_a_missing_file_or_digest_is_a_clear_error(tmp_path: Path) -> None:
    digest = "ab" * 32
    with pytest.raises(DatasetError, match=f"custom dataset 1 \\(digest {digest}\\) is not at "):
        build_benchmark(_spec(digest, CLASSES), 0, "cpu", tmp_path)
    with pytest.raises(DatasetError, match="no digest.*API fills it in when the run is submitted"):
        build_benchmark(_spec(None, CLASSES), 0, "cpu", tmp_path)


def test_a_class_with_no_rows_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"split.tasks\[1\] \(classes \[7\]\) has no training"):
        _build(tmp_path, _grey_dataset(), {"kind": "classes", "tasks": [[0], [7]]})


def _run_spec(digest: str, benchmark: dict[str, Any], model: dict[str, Any]) -> RunSpec:
    return RunSpec.model_validate(
        {
            "benchmark": {"name": "custom", "dataset": 1, "digest": digest, **benchmark},
            "model": model,
            "strategy": {"name": "finetune"},
            "training": {"iterations_per_task": 3, "batch_size": 4},
            "evaluation": {"every": 2, "subset_size": 6},
            "device": "cpu",
        }
    )


@pytest.mark.parametrize(
    ("arrays", "benchmark", "model", "n_tasks"),
    [
        (_grey_dataset(), {"split": CLASSES}, {"name": "cnn", "channels": [4], "hidden": 8}, 2),
        (
            _vector_dataset(),
            {"split": {"kind": "permutations", "n_tasks": 3}, "scenario": "task_incremental"},
            {"name": "mlp", "hidden_sizes": [8]},
            3,
        ),
        (
            _grey_dataset(),
            {
                "split": {"kind": "rotations", "angles": [0, 30]},
                "scenario": "domain_incremental",
                "normalize": {"mean": [0.5], "std": [0.3]},
            },
            {"name": "mlp", "hidden_sizes": [8]},
            2,
        ),
    ],
)
def test_runs_report_eval_points_for_every_task(
    tmp_path: Path, arrays: Arrays, benchmark: dict, model: dict, n_tasks: int
) -> None:
    spec = _run_spec(_write(tmp_path, arrays), benchmark, model)
    reporter = MemoryReporter()
    outcome = run_experiment(spec, reporter, data_dir=tmp_path)

    assert outcome.iterations == 3 * n_tasks and not outcome.stopped
    for j in range(n_tasks):
        accuracies = reporter.values(metric_key_eval_acc(j))
        assert accuracies and all(0.0 <= a <= 1.0 for a in accuracies)
        assert all(math.isfinite(v) for v in reporter.values(metric_key_eval_loss(j)))
        # From step 0 (every task) to the end of the run.
        assert reporter.steps(metric_key_eval_acc(j))[0] == 0
        assert reporter.steps(metric_key_eval_acc(j))[-1] == 3 * n_tasks


def test_a_convolutional_model_on_vector_arrays_fails_at_build(tmp_path: Path) -> None:
    # The spec cannot know the arrays' shape: it validates, and the build refuses it.
    spec = _run_spec(
        _write(tmp_path, _vector_dataset()),
        {"split": CLASSES | {"tasks": [[0], [1]]}},
        {"name": "cnn"},
    )
    with pytest.raises(ValueError, match=r"model cnn needs image inputs \(C, H, W\), got shape"):
        run_experiment(spec, MemoryReporter(), data_dir=tmp_path)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_every_split_kind_builds_on_cuda_as_on_the_cpu(tmp_path: Path) -> None:
    arrays = _grey_dataset()
    normalize = {"mean": [0.5], "std": [0.3]}
    for split, scenario in (
        (CLASSES, "class_incremental"),
        ({"kind": "permutations", "n_tasks": 3}, "task_incremental"),
        ({"kind": "rotations", "angles": [0.0, 30.0]}, "domain_incremental"),
    ):
        spec = _spec(_write(tmp_path, arrays), split, scenario=scenario, normalize=normalize)
        cpu, cuda = (build_benchmark(spec, 0, device, tmp_path) for device in ("cpu", "cuda"))
        for on_cpu, on_cuda in zip(cpu.tasks, cuda.tasks, strict=True):
            assert on_cuda.train_x.device.type == "cuda"
            assert torch.allclose(on_cuda.train_x.cpu(), on_cpu.train_x, atol=1e-5)
            assert torch.equal(on_cuda.test_y.cpu(), on_cpu.test_y)
