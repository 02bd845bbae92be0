"""Cost accounting (METRICS.md "Cost of a run"): FLOPs against a hand count, samples, bytes,
cumulative run totals, and a resume that continues them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from gapwatch.components import COST_QUANTITIES, cost_key
from gapwatch.spec import EVENT_TASK_END, EVENT_TASK_START, RunSpec, metric_key_eval_acc
from gapwatch_worker.cl.benchmarks import build_benchmark
from gapwatch_worker.cl.cost import CostMeter, is_measured_cost_key, tensor_bytes
from gapwatch_worker.cl.loop import run_experiment
from gapwatch_worker.cl.reporting import MemoryReporter
from tests.worker.test_checkpoint import crash_then_resume

SpecFactory = Callable[..., RunSpec]

# split_digits: 8 x 8 = 64 features, 10 outputs; the MLP 64-32-16-10, batches of 16.
D, H1, H2, C, B = 64, 32, 16, 10, 16
# torch.utils.flop_counter counts 2mnk per matrix product and nothing for bias additions,
# activations or the loss. Forward: one product per layer.
FORWARD_PER_ROW = 2 * (D * H1 + H1 * H2 + H2 * C)
# Backward: the weight gradient of every layer (as many FLOPs as its forward product) and the
# input gradient of every layer but the first (the input needs none).
UPDATE = B * FORWARD_PER_ROW + B * FORWARD_PER_ROW + B * 2 * (H1 * H2 + H2 * C)


def _spec(make_spec: SpecFactory, **overrides: object) -> RunSpec:
    settings: dict[str, object] = {
        "benchmark": {"n_tasks": 2},
        "model": {"hidden_sizes": [H1, H2]},
        "training": {"iterations_per_task": 6, "batch_size": B},
        "evaluation": {"every": 4, "subset_size": 50},
    }
    settings.update(overrides)
    return make_spec(**settings)


def test_training_and_evaluation_flops_equal_the_hand_count(make_spec: SpecFactory) -> None:
    reporter = MemoryReporter()
    run_experiment(_spec(make_spec), reporter)
    ends = [e.step for e in reporter.events if e.kind == EVENT_TASK_END]
    assert ends == [6, 12]
    rows = [e.payload["eval_samples"] for e in reporter.events if e.kind == EVENT_TASK_START]

    # 6 updates per task, each the same hand count (the sampled counting carries it exactly).
    assert reporter.values(cost_key("task", "train_flops")) == [6 * UPDATE, 6 * UPDATE]
    assert reporter.values(cost_key("run", "train_flops")) == [6 * UPDATE, 12 * UPDATE]
    assert UPDATE == 16 * (2 * 5440 + 2 * 672)  # 195,584 FLOPs per update

    # Evaluations and the rows each forwards: step 0 covers both tasks; then tasks 0..k.
    # Task 0's cost holds steps 0, 4 and its boundary 6; task 1's steps 8 and 12.
    evaluated = {
        step: sum(rows[j] for j in range(2) if step in reporter.steps(metric_key_eval_acc(j)))
        for step in (0, 4, 6, 8, 12)
    }
    assert evaluated == {
        0: rows[0] + rows[1],
        4: rows[0],
        6: sum(rows),
        8: sum(rows),
        12: sum(rows),
    }
    task_0 = (evaluated[0] + evaluated[4] + evaluated[6]) * FORWARD_PER_ROW
    task_1 = (evaluated[8] + evaluated[12]) * FORWARD_PER_ROW
    assert reporter.values(cost_key("task", "eval_flops")) == [task_0, task_1]
    assert reporter.values(cost_key("run", "eval_flops")) == [task_0, task_0 + task_1]

    assert reporter.values(cost_key("task", "updates")) == [6, 6]
    assert reporter.values(cost_key("task", "samples_new")) == [6 * B, 6 * B]
    assert reporter.values(cost_key("task", "samples_replayed")) == [0, 0]  # finetune
    assert reporter.values(cost_key("task", "replay_bytes")) == [0, 0]
    assert reporter.values(cost_key("task", "peak_accelerator_bytes")) == [0, 0]  # a CPU
    for q in COST_QUANTITIES:  # every quantity at every task end, and only there
        assert reporter.steps(cost_key("task", q)) == ends
        assert reporter.steps(cost_key("run", q)) == ends
    host = reporter.values(cost_key("run", "peak_host_bytes"))
    assert host[0] > 10_000_000 and host[1] >= host[0]  # max so far
    wall = reporter.values(cost_key("task", "wall_seconds"))
    train = reporter.values(cost_key("task", "train_seconds"))
    evaluation = reporter.values(cost_key("task", "eval_seconds"))
    assert all(0 < t + e <= w for t, e, w in zip(train, evaluation, wall, strict=True))
    assert reporter.values(cost_key("run", "wall_seconds"))[1] == pytest.approx(sum(wall))


def test_replay_is_counted_and_its_memory_weighed(make_spec: SpecFactory) -> None:
    reporter = MemoryReporter()
    run_experiment(_spec(make_spec, strategy={"name": "er", "buffer_size": 30}), reporter)
    # The first update of the run replays nothing (empty memory); every later one replays a
    # batch-sized sample of the memory (16 rows: the memory holds 16 or more after update 1).
    assert reporter.values(cost_key("task", "samples_replayed")) == [5 * B, 6 * B]
    assert reporter.values(cost_key("task", "samples_new")) == [6 * B, 6 * B]
    # Replayed rows go through the model: training FLOPs grow by their forward and backward.
    replayed_rows = 11 * B
    per_row = 2 * FORWARD_PER_ROW + 2 * (H1 * H2 + H2 * C)
    assert reporter.values(cost_key("run", "train_flops"))[-1] == (12 * B + replayed_rows) * per_row
    # The memory: 30 rows of 64 float32 features, their int64 labels and task ids (its
    # generator's state is bookkeeping, not memory).
    buffer = 30 * 64 * 4 + 30 * 8 + 30 * 8
    assert reporter.values(cost_key("task", "replay_bytes")) == [buffer, buffer]


def test_metering_changes_no_training_number(make_spec: SpecFactory) -> None:
    spec = _spec(make_spec, strategy={"name": "er", "buffer_size": 30}, evaluation={"every": 1})
    metered, bare = MemoryReporter(), MemoryReporter()
    run_experiment(spec, metered)
    run_experiment(spec, bare, measure_cost=False)
    assert not any(k.startswith("cost/") for k in bare.series)
    learned = {k: v for k, v in metered.series.items() if k.startswith(("eval/", "train/"))}
    assert learned == {k: v for k, v in bare.series.items() if k.startswith(("eval/", "train/"))}


def test_a_resumed_run_continues_the_totals(make_spec: SpecFactory, tmp_path: Path) -> None:
    spec = _spec(
        make_spec,
        strategy={"name": "er", "buffer_size": 30},
        benchmark={"n_tasks": 3},
        checkpoint_every=4,
    )
    # Dies at step 10 (after the checkpoint of step 8, inside task 1).
    uninterrupted, crashed, resumed, outcome = crash_then_resume(spec, tmp_path / "run", 10)
    assert outcome.resumed_from == 8

    def counted(reporter: MemoryReporter) -> dict[str, tuple[list[int], list[float]]]:
        return {
            k: v
            for k, v in reporter.series.items()
            if k.startswith("cost/") and not is_measured_cost_key(k)
        }

    merged = counted(crashed)
    for key, (steps, values) in counted(resumed).items():
        merged[key] = (merged.get(key, ([], []))[0] + steps, merged.get(key, ([], []))[1] + values)
    assert merged == counted(uninterrupted)
    assert resumed.values(cost_key("run", "updates")) == [12, 18]


def test_an_old_checkpoint_without_cost_starts_at_zero() -> None:
    meter = CostMeter(torch.nn.Linear(1, 1), torch.device("cpu"))
    meter.load_state_dict(None)
    assert set(meter.task.values()) == {0.0} and set(meter.done.values()) == {0.0}
    meter.load_state_dict({"task": {"updates": 3.0}, "done": {"updates": 7.0}})
    assert (meter.task["updates"], meter.done["updates"], meter.done["train_flops"]) == (3, 7, 0)
    meter.close()
    assert not meter.model._forward_pre_hooks


def test_tensor_bytes_walks_nested_state_once_per_tensor() -> None:
    t = torch.zeros(10, dtype=torch.float64)  # 80 bytes
    rng = torch.Generator().get_state()  # bookkeeping: left out
    state = {"a": t, "b": [t, (torch.zeros(3, dtype=torch.int8), {"c": t})], "n": 5, "rng": rng}
    assert tensor_bytes(state) == 83


def test_joint_counts_the_old_tasks_rows_as_replayed_and_holds_every_seen_split(
    make_spec: SpecFactory,
) -> None:
    """Retraining draws its batches from every seen task: in task 1 only the rows of task 1
    are new, and its memory is the train splits of both tasks."""
    reporter = MemoryReporter()
    spec = _spec(make_spec, strategy={"name": "joint"})
    run_experiment(spec, reporter)
    new = reporter.values(cost_key("task", "samples_new"))
    replayed = reporter.values(cost_key("task", "samples_replayed"))
    assert new[0] == 6 * B and replayed[0] == 0  # task 0: the union is task 0
    assert new[1] + replayed[1] == 6 * B and 0 < replayed[1] < 6 * B
    benchmark = build_benchmark(spec.benchmark, spec.seed, torch.device("cpu"))
    splits = [t.train_x.nbytes + t.train_y.nbytes for t in benchmark.tasks]
    assert reporter.values(cost_key("task", "replay_bytes")) == [splits[0], splits[0] + splits[1]]


def test_a_copy_of_the_model_is_not_counted() -> None:
    import copy

    model = torch.nn.Linear(2, 2)
    meter = CostMeter(model, torch.device("cpu"))
    teacher = copy.deepcopy(model)  # LwF's old model: it shares the hook, not the meter

    def observe() -> None:
        model(torch.zeros(3, 2))
        teacher(torch.zeros(5, 2))

    meter.update(observe, new_rows=3)
    assert (meter.task["samples_new"], meter.task["samples_replayed"]) == (3, 0)
    assert meter.task["train_flops"] == 2 * (3 + 5) * 2 * 2  # both forwards' FLOPs count


def test_evaluations_are_recounted_when_a_task_changes_the_model(make_spec: SpecFactory) -> None:
    """LoRA adapters join the forward pass from task 1 on: task 1's evaluations cost more
    than the same evaluations without them, and task 0's the same."""
    flops = []
    for strategy in ({"name": "er"}, {"name": "er", "lora_rank": 2}):
        reporter = MemoryReporter()
        run_experiment(_spec(make_spec, strategy={**strategy, "buffer_size": 30}), reporter)
        flops.append(reporter.values(cost_key("task", "eval_flops")))
    (plain_0, plain_1), (lora_0, lora_1) = flops
    assert lora_0 == plain_0 and lora_1 > plain_1
