"""The "paper set-up" presets hold the values of De Lange et al.'s released configs."""

from __future__ import annotations

from typing import Any

import pytest

from gapwatch.server.specs.presets import PRESETS, validated_presets
from gapwatch.spec import RunSpec

# github.com/mattdl/ContinualEvaluation (commit bae2a58): reproduce/configs/*.yaml, with
# main.py's defaults (momentum 0.9, weight decay 0) and its normalisations.
MNIST_NORMALIZE = {"mean": [0.1307], "std": [0.3081]}
CIFAR10_NORMALIZE = {"mean": [0.4914, 0.4822, 0.4465], "std": [0.2023, 0.1994, 0.2010]}
PAPER = {
    # preset: (config file, lr, Lw_new or None, mem_size, strategy)
    "split_mnist_er": ("splitmnist_ER.yaml", 0.01, 0.3, 2000, "er"),
    "split_mnist_gem": ("splitmnist_GEM.yaml", 0.01, None, 2000, "gem"),
    "split_cifar10_er": ("CIFAR10_ER.yaml", 0.1, 0.7, 1000, "er"),
    "split_cifar10_gem": ("CIFAR10_GEM.yaml", 0.001, None, 1000, "gem"),
}


def _spec(preset_id: str) -> dict[str, Any]:
    preset = next(p for p in validated_presets() if p.id == preset_id)
    return preset.spec


@pytest.mark.parametrize("preset_id", list(PAPER))
def test_paper_presets_copy_the_released_config(preset_id: str) -> None:
    config, lr, lw_new, mem_size, strategy = PAPER[preset_id]
    preset = next(p for p in PRESETS if p.id == preset_id)
    assert f"reproduce/configs/{config}" in preset.description  # the source is cited
    spec = _spec(preset_id)
    sgd = {"name": "sgd", "lr": lr, "momentum": 0.9, "weight_decay": 0.0}
    assert {key: spec["optimizer"][key] for key in sgd} == sgd
    assert spec["training"]["batch_size"] == 256
    assert spec["training"]["epochs_per_task"] == 10
    assert spec["training"]["iterations_per_task"] is None
    assert (spec["evaluation"]["every"], spec["evaluation"]["subset_size"]) == (1, 1000)
    benchmark = spec["benchmark"]
    assert benchmark["scenario"] == "class_incremental" and benchmark["n_tasks"] == 5
    if benchmark["name"] == "split_mnist":
        assert benchmark["normalize"] == MNIST_NORMALIZE
        assert spec["model"] == {"name": "mlp", "hidden_sizes": [400, 400]}
    else:
        assert benchmark["name"] == "split_cifar10"
        assert benchmark["normalize"] == CIFAR10_NORMALIZE
        assert spec["model"] == {"name": "resnet18_reduced", "nf": 20}
    found = spec["strategy"]
    assert found["name"] == strategy
    if strategy == "er":
        assert found["buffer_size"] == mem_size and found["buffer_policy"] == "task_end"
        assert lw_new is not None and found["replay_weight"] == pytest.approx(1 - lw_new)
        assert found["replay_batch_size"] is None  # the replayed batch is the batch size
    else:
        assert found["memories_per_task"] == mem_size // 5  # patterns_per_exp in main.py
        assert found["memory_strength"] == 0.5  # gem_gamma


def test_rotated_mnist_says_it_has_no_released_config() -> None:
    preset = next(p for p in PRESETS if p.id == "rotated_mnist_er")
    assert "no Rotated-MNIST config" in preset.description
    assert "paper set-up" not in preset.title
    spec = _spec("rotated_mnist_er")
    assert spec["strategy"]["buffer_policy"] == "task_end"
    assert spec["strategy"]["replay_weight"] == pytest.approx(0.7)
    assert spec["optimizer"]["momentum"] == 0.9
    assert spec["benchmark"]["normalize"] == MNIST_NORMALIZE


def test_the_offline_demos_stay_small_and_need_no_download() -> None:
    demos = [p for p in PRESETS if "demo" in p.spec.get("tags", [])]
    assert {p.id for p in demos} == {"split_digits_finetune", "split_digits_er"}
    for preset in demos:
        spec = RunSpec.model_validate(preset.spec)
        assert spec.benchmark.name == "split_digits"
        assert spec.training.iterations_per_task == 300
