"""Ready-made run specs for the New-run form: the stability-gap paper's set-ups and offline demos.

The paper is De Lange, van de Ven & Tuytelaars, "Continual evaluation for lifelong learning:
identifying the stability gap" (ICLR 2023). Its experiments evaluate every iteration and use
experience replay on Split-MNIST, Rotated-MNIST and Split-CIFAR-10 (MLP 2x400 on MNIST, a reduced
ResNet-18 on CIFAR). Sizes here are scaled so a run finishes in minutes on a CPU; users change
them in the form. Every preset is validated as a RunSpec by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gapwatch.spec import RunSpec


@dataclass(frozen=True)
class Preset:
    id: str
    title: str
    description: str
    spec: dict[str, Any]


_MNIST_MLP = {"name": "mlp", "hidden_sizes": [400, 400]}
_EVERY_ITERATION = {"every": 1, "subset_size": 1000}

PRESETS: tuple[Preset, ...] = (
    Preset(
        id="split_digits_finetune",
        title="Split-Digits, fine-tuning (offline demo)",
        description="scikit-learn's bundled digits in 5 tasks of 2 classes; plain fine-tuning, so "
        "old tasks are forgotten. Needs no download; about 10 s on a laptop CPU.",
        spec={
            "name": "split-digits finetune",
            "benchmark": {"name": "split_digits", "n_tasks": 5},
            "model": _MNIST_MLP,
            "strategy": {"name": "finetune"},
            "optimizer": {"name": "sgd", "lr": 0.05},
            "training": {"iterations_per_task": 300, "batch_size": 32},
            "evaluation": _EVERY_ITERATION,
            "tags": ["demo"],
        },
    ),
    Preset(
        id="split_digits_er",
        title="Split-Digits, experience replay (offline demo)",
        description="The same tasks with a 200-sample replay memory: forgetting mostly goes, "
        "the stability gap at each task start stays. Needs no download.",
        spec={
            "name": "split-digits er",
            "benchmark": {"name": "split_digits", "n_tasks": 5},
            "model": _MNIST_MLP,
            "strategy": {"name": "er", "buffer_size": 200},
            "optimizer": {"name": "sgd", "lr": 0.05},
            "training": {"iterations_per_task": 300, "batch_size": 32},
            "evaluation": _EVERY_ITERATION,
            "tags": ["demo"],
        },
    ),
    Preset(
        id="split_mnist_er",
        title="Split-MNIST, experience replay (paper set-up)",
        description="5 class-incremental tasks of 2 digits, MLP 2x400, SGD, replay, evaluated "
        "every iteration, as in the stability-gap paper. Downloads MNIST (about 11 MB).",
        spec={
            "name": "split-mnist er",
            "benchmark": {"name": "split_mnist", "scenario": "class_incremental", "n_tasks": 5},
            "model": _MNIST_MLP,
            "strategy": {"name": "er", "buffer_size": 2000},
            "optimizer": {"name": "sgd", "lr": 0.01},
            "training": {"iterations_per_task": 500, "batch_size": 128},
            "evaluation": _EVERY_ITERATION,
            "tags": ["paper"],
        },
    ),
    Preset(
        id="rotated_mnist_er",
        title="Rotated-MNIST, experience replay (paper set-up)",
        description="Domain-incremental: the same 10 digits rotated further in each task; MLP "
        "2x400 with replay. Downloads MNIST.",
        spec={
            "name": "rotated-mnist er",
            "benchmark": {
                "name": "rotated_mnist",
                "scenario": "domain_incremental",
                "n_tasks": 5,
                "angles": [0.0, 40.0, 80.0, 120.0, 160.0],
            },
            "model": _MNIST_MLP,
            "strategy": {"name": "er", "buffer_size": 1000},
            "optimizer": {"name": "sgd", "lr": 0.01},
            "training": {"iterations_per_task": 500, "batch_size": 128},
            "evaluation": _EVERY_ITERATION,
            "tags": ["paper"],
        },
    ),
    Preset(
        id="split_cifar10_er",
        title="Split-CIFAR-10, experience replay (paper set-up)",
        description="5 class-incremental tasks of 2 classes, reduced ResNet-18, replay. "
        "Downloads CIFAR-10 (about 170 MB); best on a GPU worker.",
        spec={
            "name": "split-cifar10 er",
            "benchmark": {"name": "split_cifar10", "scenario": "class_incremental", "n_tasks": 5},
            "model": {"name": "resnet18_reduced", "nf": 20},
            "strategy": {"name": "er", "buffer_size": 1000},
            "optimizer": {"name": "sgd", "lr": 0.1},
            "training": {"iterations_per_task": 1000, "batch_size": 128},
            "evaluation": {"every": 10, "subset_size": 1000},
            "tags": ["paper"],
        },
    ),
)


def validated_presets() -> tuple[Preset, ...]:
    """The presets with every default filled in, so the form shows complete specs."""
    return tuple(
        Preset(p.id, p.title, p.description, RunSpec.model_validate(p.spec).model_dump(mode="json"))
        for p in PRESETS
    )
