"""gapwatch.torch.ContinualEvaluator as a library call: the engine's subsets and scores, in a
user's own loop, from tensors or Datasets, every k steps, logged through a run."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Mapping

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

import gapwatch.torch as gapwatch_torch
from gapwatch.spec import BenchmarkSpec, RunSpec
from gapwatch.torch import ContinualEvaluator, make_generator
from gapwatch_worker.cl import seeding
from gapwatch_worker.cl.benchmarks import build_benchmark, scenarios
from gapwatch_worker.cl.benchmarks.base import build_evaluator
from tests.example_plugin import builtins_only_env


def _benchmark_spec(**fields: object) -> BenchmarkSpec:
    spec = {"benchmark": fields, "model": {"name": "mlp"}, "strategy": {"name": "finetune"}}
    return RunSpec.model_validate(spec).benchmark


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


class FakeRun:
    """Stands in for the SDK's Run: records every log_eval call."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[int, float], int, dict[int, float] | None]] = []

    def log_eval(
        self,
        accuracies: Mapping[int, float],
        step: int,
        *,
        losses: Mapping[int, float] | None = None,
    ) -> None:
        self.calls.append((dict(accuracies), step, None if losses is None else dict(losses)))


class CountingLinear(nn.Module):
    """logits = x @ W.T with W the identity: the larger coordinate wins (ties go to class 0)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.linear.weight.copy_(torch.eye(2))
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.linear(x)


def _ce(logits: list[float], label: int) -> float:
    return -logits[label] + math.log(sum(math.exp(v) for v in logits))


# Task 0: predictions 0, 1, 0, 1 against labels 0, 1, 1, 1: 3 of 4 right.
# Task 1: predictions 0, 1 against labels 1, 1: 1 of 2 right.
TASK0 = ([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]], [0, 1, 1, 1])
TASK1 = ([[2.0, 1.0], [1.0, 3.0]], [1, 1])
EXPECTED_ACCURACY = {0: 0.75, 1: 0.5}
EXPECTED_LOSS = {
    0: (_ce([1, 0], 0) + _ce([0, 1], 1) + _ce([1, 0], 1) + _ce([0, 1], 1)) / 4,
    1: (_ce([2, 1], 1) + _ce([1, 3], 1)) / 2,
}


def _pairs() -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(torch.tensor(x), torch.tensor(y)) for x, y in (TASK0, TASK1)]


@pytest.mark.parametrize("device", DEVICES)
def test_hand_checked_accuracy_and_loss(device: str) -> None:
    model = CountingLinear().to(device)
    run = FakeRun()
    evaluator = ContinualEvaluator(model, _pairs(), subset_size=100, seed=0)

    parameters_device = model.linear.weight.device  # cuda:0 where device is "cuda"
    assert evaluator.device == parameters_device == evaluator.x.device  # from the model
    assert evaluator.device.type == device
    accuracies = evaluator.evaluate(step=7, n_tasks=2, run=run)

    assert accuracies == pytest.approx(EXPECTED_ACCURACY, abs=1e-12)
    assert model.calls == 1  # one forward over both tasks' subsets
    [(logged, step, losses)] = run.calls
    assert step == 7 and logged == accuracies
    assert losses == pytest.approx(EXPECTED_LOSS, abs=1e-6)
    assert model.training  # the mode it was in


def test_device_defaults_to_cpu_without_parameters_and_can_be_given() -> None:
    class Parameterless(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    assert ContinualEvaluator(Parameterless(), _pairs()).device == torch.device("cpu")
    given = ContinualEvaluator(CountingLinear(), _pairs(), device="cpu")
    assert given.device == torch.device("cpu") and given.y.dtype == torch.int64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_data_is_moved_to_the_model_s_cuda_device() -> None:
    on_cpu = ContinualEvaluator(CountingLinear(), _pairs(), subset_size=3, seed=4)
    on_cuda = ContinualEvaluator(CountingLinear().cuda(), _pairs(), subset_size=3, seed=4)
    assert on_cuda.x.is_cuda and on_cuda.y.is_cuda and on_cuda.task_index.is_cuda
    assert all(torch.equal(a, b) for a, b in zip(on_cpu.subsets, on_cuda.subsets, strict=True))
    assert on_cuda.evaluate(0, 2) == pytest.approx(on_cpu.evaluate(0, 2), abs=1e-12)


def test_subsets_are_the_engine_s_for_the_same_seed() -> None:
    spec = _benchmark_spec(name="split_digits", n_tasks=3)
    benchmark = build_benchmark(spec, 11, "cpu")
    test_sets = [(t.test_x, t.test_y) for t in benchmark.tasks]
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, benchmark.n_outputs))

    engine = build_evaluator(benchmark.tasks, 40, 11)
    user = ContinualEvaluator(model, test_sets, subset_size=40, seed=11)

    for k, (subset, (_, y)) in enumerate(zip(user.subsets, test_sets, strict=True)):
        drawn = torch.randperm(len(y), generator=make_generator(11, f"eval_subset/{k}"))
        assert torch.equal(subset, drawn[:40].sort().values)
        assert torch.equal(subset, engine.subsets[k])
    assert torch.equal(user.x, engine.x) and torch.equal(user.y, engine.y)
    assert torch.equal(user.task_index, engine.task_index)
    user.task_start(2)
    engine_scores = engine.scores(model, 3)
    assert user.evaluate(0) == dict(enumerate(engine_scores.accuracy))  # bit-equal
    other_seed = ContinualEvaluator(model, test_sets, subset_size=40, seed=12)
    assert not torch.equal(other_seed.subsets[0], user.subsets[0])


def test_the_engine_runs_this_code_and_not_a_copy() -> None:
    assert seeding.make_generator is gapwatch_torch.make_generator
    assert seeding.derive_seed is gapwatch_torch.derive_seed
    assert scenarios.mask_logits is gapwatch_torch.mask_logits
    assert scenarios.MASK_VALUE == gapwatch_torch.MASK_VALUE
    engine = build_evaluator(
        [build_benchmark(_benchmark_spec(name="synthetic"), 0, "cpu").tasks[0]], 5, 0
    )
    assert type(engine) is ContinualEvaluator and engine.model is None


class CountingDataset(Dataset[tuple[torch.Tensor, int]]):
    """A map-style dataset over tensors that counts its item reads; labels come as ints."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y
        self.reads = 0

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        self.reads += 1
        return self.x[index], int(self.y[index])


def test_datasets_give_what_tensors_give() -> None:
    g = torch.Generator().manual_seed(0)
    sets = [
        (torch.randn(300, 5, generator=g), torch.randint(0, 3, (300,), generator=g)),
        (torch.randn(50, 5, generator=g), torch.randint(0, 3, (50,), generator=g)),
    ]
    model = nn.Linear(5, 3)
    counting = CountingDataset(*sets[0])
    as_tensors = ContinualEvaluator(model, sets, subset_size=60, seed=3)
    as_datasets = ContinualEvaluator(
        model, [counting, TensorDataset(*sets[1])], subset_size=60, seed=3
    )

    assert counting.reads == 60  # only the chosen rows are read
    assert all(
        torch.equal(a, b) for a, b in zip(as_tensors.subsets, as_datasets.subsets, strict=True)
    )
    assert torch.equal(as_tensors.x, as_datasets.x) and torch.equal(as_tensors.y, as_datasets.y)
    assert as_datasets.evaluate(0, 2) == as_tensors.evaluate(0, 2)


def test_every_k_steps_and_the_seen_tasks() -> None:
    model = CountingLinear()
    run = FakeRun()
    evaluator = ContinualEvaluator(model, _pairs(), subset_size=100, every=5, seed=0)

    with pytest.raises(ValueError, match="task_start"):
        evaluator.evaluate(0)
    evaluator.task_start(0)
    results = {step: evaluator.maybe_evaluate(step, run=run) for step in range(11)}
    assert [step for step, r in results.items() if r is not None] == [0, 5, 10]
    assert model.calls == 3
    assert [(step, sorted(acc)) for acc, step, _ in run.calls] == [(0, [0]), (5, [0]), (10, [0])]
    assert results[5] == {0: 0.75}

    evaluator.task_start(1)
    assert evaluator.seen == 2
    assert evaluator.maybe_evaluate(15) == pytest.approx(EXPECTED_ACCURACY, abs=1e-12)
    evaluator.task_start(0)  # going back does not shrink what was seen
    assert evaluator.seen == 2
    assert evaluator.maybe_evaluate(16) is None
    assert evaluator.evaluate(17, n_tasks=1) == {0: 0.75}  # an explicit count wins
    with pytest.raises(ValueError):
        evaluator.task_start(2)


def test_rejects_what_it_cannot_evaluate() -> None:
    model = CountingLinear()
    with pytest.raises(ValueError):
        ContinualEvaluator(model, [])
    with pytest.raises(ValueError, match="empty"):
        ContinualEvaluator(model, [(torch.zeros(0, 2), torch.zeros(0, dtype=torch.int64))])
    with pytest.raises(ValueError, match="targets"):
        ContinualEvaluator(model, [(torch.zeros(3, 2), torch.zeros(2, dtype=torch.int64))])
    with pytest.raises(TypeError):
        ContinualEvaluator(model, [object()])
    with pytest.raises(TypeError):
        ContinualEvaluator(model, [([[1.0, 0.0]], [0])])  # a pair, but of lists
    with pytest.raises(ValueError):
        ContinualEvaluator(model, _pairs(), every=0)
    model_free = ContinualEvaluator.from_tensors(_pairs(), 10, 0)
    with pytest.raises(ValueError, match="no model"):
        model_free.evaluate(0, 1)
    assert model_free.scores(model, 2).accuracy == pytest.approx([0.75, 0.5], abs=1e-12)
    assert model_free.evaluate(0, 2, model=model) == pytest.approx({0: 0.75, 1: 0.5}, abs=1e-12)


def test_output_units_mask_each_task_s_rows() -> None:
    # Task 0 owns output unit 0, task 1 unit 1: unmasked, half of each task's rows are wrong.
    sets = [
        (torch.tensor([[0.0, 1.0], [1.0, 0.0]]), torch.tensor([0, 0])),
        (torch.tensor([[2.0, 1.0], [1.0, 3.0]]), torch.tensor([1, 1])),
    ]
    plain = ContinualEvaluator(CountingLinear(), sets)
    masked = ContinualEvaluator(CountingLinear(), sets, output_units=[(0, 1), (1, 2)])

    assert plain.units_table is None and plain.evaluate(0, 2) == {0: 0.5, 1: 0.5}
    assert masked.units_table is not None and masked.units_table.tolist() == [[0, 1], [1, 2]]
    assert masked.evaluate(0, 2) == {0: 1.0, 1: 1.0}
    assert masked.scores(masked.model, 2).loss == pytest.approx([0.0, 0.0], abs=1e-6)


def test_importing_gapwatch_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "import gapwatch, gapwatch.spec, gapwatch.client, gapwatch.config, gapwatch.resources\n"
        "assert 'torch' not in sys.modules, 'the core imported torch'\n"
        "import gapwatch.torch\n"
        "assert 'torch' in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=builtins_only_env()
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_to_follows_a_model_that_a_framework_moved() -> None:
    evaluator = ContinualEvaluator(None, _pairs(), subset_size=3, seed=4, output_units=[(0, 2)] * 2)
    on_cpu = evaluator.scores(CountingLinear(), 2)
    moved = evaluator.to("cuda")
    assert moved is evaluator and evaluator.x.is_cuda and evaluator.units_table.is_cuda
    on_cuda = evaluator.scores(CountingLinear().cuda(), 2)
    assert on_cuda.accuracy == pytest.approx(on_cpu.accuracy)
    assert on_cuda.loss == pytest.approx(on_cpu.loss)


def test_to_the_same_device_changes_nothing() -> None:
    evaluator = ContinualEvaluator(None, _pairs(), subset_size=3, seed=4)
    x = evaluator.x
    assert evaluator.to("cpu") is evaluator and evaluator.x is x
