"""Tiny seeded continual-learning problems and a driver for the strategy tests."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import torch
from pydantic import TypeAdapter
from torch import nn

from gapwatch.spec import StrategySpec, TrainingSpec
from gapwatch_worker.cl.benchmarks.base import Benchmark, TaskData
from gapwatch_worker.cl.benchmarks.scenarios import make_benchmark
from gapwatch_worker.cl.strategies import BuildContext, Strategy, build_strategy

CPU = torch.device("cpu")
DIM = 8
BATCH = 16

# Small options so that every memory fills and every penalty bites within a few dozen updates.
STRATEGY_OPTIONS: dict[str, dict[str, Any]] = {
    "finetune": {},
    "joint": {},
    "er": {"buffer_size": 40},
    "er_ace": {"buffer_size": 40},
    "agem": {"buffer_size": 40, "reference_batch_size": 16},
    "ewc": {"ewc_lambda": 50.0, "fisher_samples": 64},
    "si": {"si_c": 0.5, "epsilon": 0.1},
    "lwf": {"alpha": 1.0},
    "der": {"buffer_size": 40},
    "derpp": {"buffer_size": 40},
    "gem": {"memories_per_task": 20},
    "cbp": {"replacement_rate": 0.05, "decay_rate": 0.9, "maturity_threshold": 5},
    "l2_init": {"l2_init_lambda": 0.05},
    "shrink_perturb": {"shrink": 0.99, "noise_std": 0.01},
}
STRATEGY_NAMES = list(STRATEGY_OPTIONS)

_STRATEGY_SPEC = TypeAdapter(StrategySpec)


def strategy_spec(name: str, **options: Any) -> Any:
    """The validated spec of strategy `name` with the test defaults, overridden by `options`."""
    return _STRATEGY_SPEC.validate_python({"name": name, **STRATEGY_OPTIONS[name], **options})


def blobs_benchmark(
    scenario: str = "class_incremental",
    n_tasks: int = 3,
    classes_per_task: int = 2,
    n_train: int = 96,
    seed: int = 0,
) -> Benchmark:
    """Gaussian class clusters in DIM dimensions, n_train rows per task, mapped for `scenario`.

    Class-/task-incremental: task k has classes (k * c, ..., k * c + c - 1). Domain-incremental:
    every task has classes 0..c-1, each task's clusters elsewhere.
    """
    generator = torch.Generator().manual_seed(seed)
    shared_labels = scenario == "domain_incremental"
    n_classes = classes_per_task if shared_labels else n_tasks * classes_per_task
    tasks = []
    for k in range(n_tasks):
        classes = (
            tuple(range(classes_per_task))
            if shared_labels
            else tuple(range(k * classes_per_task, (k + 1) * classes_per_task))
        )
        centres = torch.randn(n_classes, DIM, generator=generator) * 3

        def draw(n: int, classes: tuple[int, ...] = classes, centres: torch.Tensor = centres):
            y = torch.tensor(classes)[torch.randint(len(classes), (n,), generator=generator)]
            return centres[y] + torch.randn(n, DIM, generator=generator), y

        train_x, train_y = draw(n_train)
        test_x, test_y = draw(32)
        tasks.append(TaskData(classes, train_x, train_y, test_x, test_y))
    return make_benchmark("blobs", scenario, tasks, (DIM,))


def tiny_model(benchmark: Benchmark, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(DIM, 16), nn.ReLU(), nn.Linear(16, benchmark.n_outputs))


def make_strategy(
    spec: Any,
    benchmark: Benchmark,
    *,
    lr: float = 0.05,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    optimizer_name: str = "sgd",
    model: nn.Module | None = None,
    model_seed: int = 0,
    seed: int = 0,
) -> Strategy:
    """A strategy on a fresh tiny model (or `model`) with SGD (or AdamW), batch size BATCH."""
    model = tiny_model(benchmark, model_seed) if model is None else model
    optimizer: torch.optim.Optimizer
    if optimizer_name == "sgd":
        optimizer = torch.optim.SGD(
            model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay
        )
    else:
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    return build_strategy(
        spec, BuildContext(model, optimizer, TrainingSpec(batch_size=BATCH), CPU, seed, benchmark)
    )


def batch(task: TaskData, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The step-th batch of a task: consecutive rows, wrapping around (deterministic)."""
    n = len(task.train_y)
    index = (torch.arange(BATCH) + step * BATCH) % n
    return task.train_x[index], task.train_y[index]


def train(
    strategy: Strategy,
    benchmark: Benchmark,
    schedule: list[tuple[int, int, int]],
) -> list[torch.Tensor]:
    """Runs (task, first step, last step exclusive) segments; a segment from step 0 begins the
    task, and one that reaches the task's end (a negative last step means "end here") ends it.

    Returns the losses, as returned by observe.
    """
    losses = []
    for task_id, first, last in schedule:
        task = benchmark.tasks[task_id]
        if first == 0:
            strategy.begin_task(task_id, task)
        for step in range(first, abs(last)):
            x, y = batch(task, step)
            losses.append(strategy.observe(x, y, task_id))
        if last < 0:
            strategy.end_task(task_id, task)
    return losses


def checkpoint(strategy: Strategy) -> bytes:
    """Model, optimizer and strategy state serialised as a run's checkpoint would be."""
    buffer = io.BytesIO()
    torch.save(
        {
            "model": strategy.model.state_dict(),
            "optimizer": strategy.optimizer.state_dict(),
            "strategy": strategy.state_dict(),
        },
        buffer,
    )
    return buffer.getvalue()


def restore(strategy: Strategy, saved: bytes) -> None:
    state = torch.load(io.BytesIO(saved), weights_only=True)
    strategy.model.load_state_dict(state["model"])
    strategy.optimizer.load_state_dict(state["optimizer"])
    strategy.load_state_dict(state["strategy"])


def assert_resumes_bit_exactly(make: Callable[..., Strategy], benchmark: Benchmark) -> None:
    """A strategy checkpointed in the middle of task 1 and restored into a fresh one (other
    initial weights: `make(model_seed=1)`) continues with bit-identical losses and weights,
    even when the loop begins the task in progress again."""
    original = make(model_seed=0)
    train(original, benchmark, [(0, 0, -10), (1, 0, 5)])
    saved = checkpoint(original)
    continuation = [(1, 5, -10), (2, 0, -6)]  # the rest of task 1, its end, then task 2
    expected = torch.stack(train(original, benchmark, continuation))

    resumed = make(model_seed=1)
    restore(resumed, saved)
    resumed.begin_task(1, benchmark.tasks[1])  # a loop may begin the task again: no effect
    actual = torch.stack(train(resumed, benchmark, continuation))
    assert torch.equal(actual, expected), (actual - expected).abs().max()
    for p, q in zip(original.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(p, q)


def last_layer(strategy: Strategy) -> nn.Linear:
    layer = strategy.model[-1]  # type: ignore[index]
    assert isinstance(layer, nn.Linear)
    return layer


def current_grad(model: nn.Module) -> torch.Tensor:
    """The gradients the model's parameters hold now, concatenated (None ones left out)."""
    return torch.cat([p.grad.reshape(-1) for p in model.parameters() if p.grad is not None])


def batch_grad(
    strategy: Strategy, model: nn.Module, x: torch.Tensor, y: torch.Tensor, task: int | torch.Tensor
) -> torch.Tensor:
    """The flat gradient of the (task-masked) cross-entropy of `model` on one batch, computed
    apart from the strategy: what a projecting strategy starts from."""
    model.zero_grad()
    nn.functional.cross_entropy(strategy.mask(model(x), task), y).backward()
    return current_grad(model)
