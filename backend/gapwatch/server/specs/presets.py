"""Ready-made run specs for the New-run form: the stability-gap paper's set-ups and offline demos.

The paper is De Lange, van de Ven & Tuytelaars, "Continual evaluation for lifelong learning:
identifying the stability gap" (ICLR 2023). The "paper set-up" presets copy its released configs
value for value: github.com/mattdl/ContinualEvaluation at commit bae2a58,
`reproduce/configs/<name>.yaml` (each preset names its file), with `main.py`'s defaults for what a
config leaves out (SGD with momentum 0.9 and no weight decay, MLP 2x400 on MNIST, the reduced
ResNet-18 with nf 20 and global pooling on CIFAR-10, Avalanche's MNIST normalisation 0.1307 /
0.3081, CIFAR-10's (0.4914, 0.4822, 0.4465) / (0.2023, 0.1994, 0.2010), GEM's patterns per
experience = mem_size // tasks). How the values map:
- `Lw_new` (the new rows' loss weight) is ER's `replay_weight` = 1 - Lw_new, and its
  ClassBalancedBuffer filled after each experience is `buffer_policy: "task_end"` (see ERSpec);
- `epochs: 10` is `epochs_per_task: 10` (here ceil(10 * n / batch) updates; Avalanche's
  loader, which keeps each epoch's last partial batch, makes 10 * ceil(n / batch));
- `eval_periodicity: 1`, `eval_task_subset_size: 1000` are `every: 1`, `subset_size: 1000`.
  The paper redraws the subset at every evaluation; here it is drawn once per run (METRICS.md).
They are slow on a CPU (about 2,350 updates on Split-MNIST, each followed by an evaluation);
users shorten them in the form. Every preset is validated as a RunSpec by the tests.
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


PAPER_CODE = "github.com/mattdl/ContinualEvaluation"
_MNIST_MLP = {"name": "mlp", "hidden_sizes": [400, 400]}
_EVERY_ITERATION = {"every": 1, "subset_size": 1000}
_MNIST_NORMALIZE = {"mean": [0.1307], "std": [0.3081]}  # Avalanche's default MNIST transform
_CIFAR10_NORMALIZE = {"mean": [0.4914, 0.4822, 0.4465], "std": [0.2023, 0.1994, 0.2010]}
_REDUCED_RESNET = {"name": "resnet18_reduced", "nf": 20}


def _demo(name: str, strategy: dict[str, Any]) -> dict[str, Any]:
    """An offline Split-Digits demo: 5 tasks of 2 digits, 300 updates each, about 10 s."""
    return {
        "name": name,
        "benchmark": {"name": "split_digits", "n_tasks": 5},
        "model": _MNIST_MLP,
        "strategy": strategy,
        "optimizer": {"name": "sgd", "lr": 0.05},
        "training": {"iterations_per_task": 300, "batch_size": 32},
        "evaluation": _EVERY_ITERATION,
        "tags": ["demo"],
    }


def _plasticity_demo(name: str, strategy: dict[str, Any]) -> dict[str, Any]:
    """Loss of plasticity, offline: 100 label-permuted Split-Digits tasks (the same inputs, the
    ten labels shuffled per task, as Elsayed & Mahmood 2024's label-permuted streams), one
    online pass each (40 updates of 32), plain SGD lr 0.1 on an MLP 1x100; evaluated and
    diagnosed at every task's end (40 updates a task). bench/plasticity.py measured the
    setting (2 seeds): fine-tuning's accuracy on each newly learned task goes from 0.58 over
    the first 10 tasks to 0.39 over the last 10 (0.16 after 200 tasks), its dormant units
    from 22% to 80% and its effective rank from 23 to 6; L2-Init (lambda 0.01) ends at 0.61
    and continual backprop (replacement rate 1e-3) at 0.69, with 21-26% dormant units."""
    return {
        "name": name,
        "benchmark": {"name": "permuted_digits", "permute": "labels", "n_tasks": 100},
        "model": {"name": "mlp", "hidden_sizes": [100]},
        "strategy": strategy,
        "optimizer": {"name": "sgd", "lr": 0.1},
        "training": {"online": True, "batch_size": 32},
        "evaluation": {"every": 40, "subset_size": 300, "diagnostics": True},
        "tags": ["plasticity", "long-horizon"],
    }


def _paper(
    name: str,
    benchmark: dict[str, Any],
    model: dict[str, Any],
    strategy: dict[str, Any],
    lr: float,
    tags: tuple[str, ...] = ("paper",),
) -> dict[str, Any]:
    """A set-up of the paper's code: main.py's defaults (SGD, momentum 0.9, no weight decay),
    batch 256, 10 epochs per task, evaluated every iteration on 1,000 samples per task."""
    return {
        "name": name,
        "benchmark": benchmark,
        "model": model,
        "strategy": strategy,
        "optimizer": {"name": "sgd", "lr": lr, "momentum": 0.9, "weight_decay": 0.0},
        "training": {"epochs_per_task": 10, "batch_size": 256},
        "evaluation": _EVERY_ITERATION,
        "tags": list(tags),
    }


def _task_end_er(buffer_size: int, replay_weight: float) -> dict[str, Any]:
    """The paper's ER: a class-balanced memory filled at task ends, replay_weight 1 - Lw_new."""
    return {
        "name": "er",
        "buffer_size": buffer_size,
        "buffer_policy": "task_end",
        "replay_weight": replay_weight,
    }


_MNIST_BENCHMARK = {
    "name": "split_mnist",
    "scenario": "class_incremental",
    "n_tasks": 5,
    "normalize": _MNIST_NORMALIZE,
}
_CIFAR10_BENCHMARK = {
    "name": "split_cifar10",
    "scenario": "class_incremental",
    "n_tasks": 5,
    "normalize": _CIFAR10_NORMALIZE,
}
_ROTATED_BENCHMARK = {
    "name": "rotated_mnist",
    "scenario": "domain_incremental",
    "n_tasks": 5,
    "angles": [0.0, 40.0, 80.0, 120.0, 160.0],
    "normalize": _MNIST_NORMALIZE,
}
_GEM = {"name": "gem", "memory_strength": 0.5}

PRESETS: tuple[Preset, ...] = (
    Preset(
        id="split_digits_finetune",
        title="Split-Digits, fine-tuning (offline demo)",
        description="scikit-learn's bundled digits in 5 tasks of 2 classes; plain fine-tuning, so "
        "old tasks are forgotten. Needs no download; about 10 s on a laptop CPU.",
        spec=_demo("split-digits finetune", {"name": "finetune"}),
    ),
    Preset(
        id="split_digits_er",
        title="Split-Digits, experience replay (offline demo)",
        description="The same tasks with a 200-sample replay memory: forgetting mostly goes, "
        "the stability gap at each task start stays. Needs no download.",
        spec=_demo("split-digits er", {"name": "er", "buffer_size": 200}),
    ),
    Preset(
        id="permuted_digits_plasticity",
        title="Label-permuted Digits, 100 tasks: loss of plasticity (offline demo)",
        description="scikit-learn's digits in 100 tasks that shuffle the ten labels (the same "
        "images), one online pass each, plain SGD on an MLP 1x100, with the plasticity "
        "diagnostics: the accuracy reached on each new task declines while dormant units rise "
        "and the effective rank falls (Dohare et al., Nature 2024; Elsayed & Mahmood, ICLR "
        "2024). Switch the strategy to cbp (replacement_rate 0.001) or l2_init to see it held. "
        "Needs no download; a minute or two on a CPU.",
        spec=_plasticity_demo("permuted-digits plasticity finetune", {"name": "finetune"}),
    ),
    Preset(
        id="split_mnist_er",
        title="Split-MNIST, experience replay (paper set-up)",
        description="The paper's config reproduce/configs/splitmnist_ER.yaml "
        f"({PAPER_CODE}): 5 class-incremental tasks of 2 digits, normalised; MLP 2x400; SGD "
        "lr 0.01, momentum 0.9, batch 256, 10 epochs per task; a 2,000-sample memory filled at "
        "each task's end (class-balanced) with Lw_new 0.3 (replay_weight 0.7); evaluated every "
        "iteration on 1,000 test samples per task. Downloads MNIST (about 11 MB).",
        spec=_paper(
            "split-mnist er", _MNIST_BENCHMARK, _MNIST_MLP, _task_end_er(2000, 0.7), lr=0.01
        ),
    ),
    Preset(
        id="split_mnist_gem",
        title="Split-MNIST, GEM (paper set-up)",
        description="The paper's config reproduce/configs/splitmnist_GEM.yaml "
        f"({PAPER_CODE}): the Split-MNIST set-up with full GEM, 400 memories per task "
        "(mem_size 2000 over 5 tasks) and memory strength 0.5; SGD lr 0.01, momentum 0.9, "
        "batch 256, 10 epochs per task. Downloads MNIST.",
        spec=_paper(
            "split-mnist gem",
            _MNIST_BENCHMARK,
            _MNIST_MLP,
            {**_GEM, "memories_per_task": 400},
            0.01,
        ),
    ),
    Preset(
        id="rotated_mnist_er",
        title="Rotated-MNIST, experience replay (the paper's ER settings)",
        description="Domain-incremental: the same 10 digits rotated further in each task. "
        f"{PAPER_CODE} releases no Rotated-MNIST config (its main.py defines 20 tasks of "
        "9-degree steps, too large for the default caps): the benchmark here is 5 tasks 40 "
        "degrees apart; the rest is reproduce/configs/splitmnist_ER.yaml's (normalised inputs, "
        "MLP 2x400, SGD lr 0.01, momentum 0.9, batch 256, 10 epochs per task, 2,000-sample "
        "memory filled at task ends, replay_weight 0.7). Downloads MNIST.",
        spec=_paper(
            "rotated-mnist er",
            _ROTATED_BENCHMARK,
            _MNIST_MLP,
            _task_end_er(2000, 0.7),
            lr=0.01,
            tags=("paper-settings",),
        ),
    ),
    Preset(
        id="split_cifar10_er",
        title="Split-CIFAR-10, experience replay (paper set-up)",
        description="The paper's config reproduce/configs/CIFAR10_ER.yaml "
        f"({PAPER_CODE}): 5 class-incremental tasks of 2 classes, normalised as its main.py "
        "does; reduced ResNet-18 (nf 20); SGD lr 0.1, momentum 0.9, batch 256, 10 epochs per "
        "task; a 1,000-sample memory filled at task ends with Lw_new 0.7 (replay_weight 0.3); "
        "evaluated every iteration. Downloads CIFAR-10 (about 170 MB); for a GPU worker.",
        spec=_paper(
            "split-cifar10 er", _CIFAR10_BENCHMARK, _REDUCED_RESNET, _task_end_er(1000, 0.3), lr=0.1
        ),
    ),
    Preset(
        id="split_cifar10_gem",
        title="Split-CIFAR-10, GEM (paper set-up)",
        description="The paper's config reproduce/configs/CIFAR10_GEM.yaml "
        f"({PAPER_CODE}): the Split-CIFAR-10 set-up with full GEM, 200 memories per task "
        "(mem_size 1000 over 5 tasks), memory strength 0.5, SGD lr 0.001, momentum 0.9, "
        "batch 256, 10 epochs per task. Downloads CIFAR-10; for a GPU worker.",
        spec=_paper(
            "split-cifar10 gem",
            _CIFAR10_BENCHMARK,
            _REDUCED_RESNET,
            {**_GEM, "memories_per_task": 200},
            lr=0.001,
        ),
    ),
)


def validated_presets() -> tuple[Preset, ...]:
    """The presets with every default filled in, so the form shows complete specs."""
    return tuple(
        Preset(p.id, p.title, p.description, RunSpec.model_validate(p.spec).model_dump(mode="json"))
        for p in PRESETS
    )
