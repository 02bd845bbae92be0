"""The stability-gap mitigations (strategies/mitigations.py): each checked by hand on a tiny
model, each applied to every replay strategy (the example plugin's er_cosine included, which
has no code for them), and a bit-exact resume with all of them on."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from pydantic import TypeAdapter
from torch import nn

from gapwatch.spec import StrategySpec
from gapwatch_worker.cl.benchmarks.base import TaskData
from gapwatch_worker.cl.benchmarks.scenarios import MASK_VALUE, make_benchmark
from gapwatch_worker.cl.models import CosineLinear
from gapwatch_worker.cl.strategies import Strategy
from tests.worker.strategy_fixtures import (
    DIM,
    assert_resumes_bit_exactly,
    batch,
    blobs_benchmark,
    make_strategy,
    tiny_model,
    train,
)

REPLAY_NAMES = ["er", "er_ace", "der", "derpp", "er_cosine"]
MITIGATIONS: dict[str, dict[str, Any]] = {
    "head_init": {"head_init": "mean_embedding"},
    "freeze_old_heads": {"freeze_old_heads": True},
    "soft_targets": {"soft_targets": 0.2},
    "lora": {"lora_rank": 2},
}
ALL_ON = {k: v for options in MITIGATIONS.values() for k, v in options.items()}


def spec_of(name: str, **options: Any) -> Any:
    """A replay spec (the plugin's too) validated through the run spec's strategy union."""
    return TypeAdapter(StrategySpec).validate_python({"name": name, "buffer_size": 40, **options})


def build(spec: Any, benchmark: Any, model: nn.Module | None = None, **options: Any) -> Strategy:
    """`make_strategy` with momentum 0.9 unless told: frozen rows must survive momentum."""
    options.setdefault("momentum", 0.9)
    return make_strategy(spec, benchmark, model=model, **options)


def head(strategy: Strategy) -> nn.Module:
    return strategy.model[-1]  # type: ignore[index]


# --- head_init: mean unit-length embedding --------------------------------------------------


def two_dimensional_benchmark() -> Any:
    """Task 0: classes 0, 1; task 1: classes 2, 3, with hand-picked 2-D inputs."""
    x0 = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0]])
    y0 = torch.tensor([0, 1, 0])
    x1 = torch.tensor([[3.0, 4.0], [-1.0, 0.0], [0.0, 2.0], [-5.0, 0.0], [0.0, -2.0]])
    y1 = torch.tensor([2, 3, 2, 3, 3])
    tasks = [TaskData((0, 1), x0, y0, x0, y0), TaskData((2, 3), x1, y1, x1, y1)]
    return make_benchmark("hand", "class_incremental", tasks, (2,))


def identity_embedding_model() -> nn.Sequential:
    """A hidden identity layer then the output layer: the embedding is the input itself."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 4))
    with torch.no_grad():
        model[0].weight.copy_(torch.eye(2))
        model[0].bias.zero_()
    return model


def test_new_classes_rows_are_their_mean_unit_embeddings() -> None:
    benchmark = two_dimensional_benchmark()
    model = identity_embedding_model()
    strategy = build(spec_of("er", head_init="mean_embedding"), benchmark, model)
    bias = model[1].bias.detach().clone()

    strategy.begin_task(0, benchmark.tasks[0])
    # class 0: (1, 0) and (2, 0) are both (1, 0) at unit length; class 1: (0, 1)
    torch.testing.assert_close(model[1].weight[:2], torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    rows_2_3 = model[1].weight[2:].detach().clone()

    with torch.no_grad():
        model[1].weight[:2] = torch.tensor([[9.0, 9.0], [8.0, 8.0]])  # "learnt" on task 0
    strategy.begin_task(1, benchmark.tasks[1])
    weight = model[1].weight.detach()
    # class 2: (3, 4) -> (0.6, 0.8), (0, 2) -> (0, 1): mean (0.3, 0.9)
    # class 3: (-1, 0), (-5, 0) -> (-1, 0), (0, -2) -> (0, -1): mean (-2/3, -1/3)
    torch.testing.assert_close(weight[2:], torch.tensor([[0.3, 0.9], [-2 / 3, -1 / 3]]))
    assert not torch.equal(weight[2:], rows_2_3)
    assert torch.equal(weight[:2], torch.tensor([[9.0, 9.0], [8.0, 8.0]]))  # old classes kept
    assert torch.equal(model[1].bias, bias)  # as Harun & Kanan's code: the bias is left alone
    assert model.training  # the embedding pass ran in eval mode, and the mode is restored


def test_head_init_embeds_through_the_model_not_the_raw_input() -> None:
    benchmark = two_dimensional_benchmark()
    model = identity_embedding_model()
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[0.0, 1.0], [1.0, 0.0]]))  # swaps the coordinates
    strategy = build(spec_of("er", head_init="mean_embedding"), benchmark, model)
    strategy.begin_task(0, benchmark.tasks[0])
    strategy.begin_task(1, benchmark.tasks[1])
    expected = torch.tensor([[0.9, 0.3], [-1 / 3, -2 / 3]])
    torch.testing.assert_close(model[1].weight[2:].detach(), expected)


# --- freeze_old_heads ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "optimizer"), [(name, "sgd") for name in REPLAY_NAMES] + [("er", "adamw")]
)
def test_old_rows_stay_bit_identical_under_momentum_and_weight_decay(
    name: str, optimizer: str
) -> None:
    benchmark = blobs_benchmark()
    strategy = build(
        spec_of(name, freeze_old_heads=True), benchmark, optimizer_name=optimizer, weight_decay=0.1
    )
    train(strategy, benchmark, [(0, 0, -10)])
    strategy.begin_task(1, benchmark.tasks[1])
    layer = head(strategy)
    weight = layer.weight.detach().clone()
    bias = None if getattr(layer, "bias", None) is None else layer.bias.detach().clone()
    train(strategy, benchmark, [(1, 1, -20)])
    assert torch.equal(layer.weight[:2], weight[:2])  # task 0's classes
    assert not torch.equal(layer.weight[2:4], weight[2:4])  # task 1's move
    if bias is not None:
        assert torch.equal(layer.bias[:2], bias[:2])
        assert not torch.equal(layer.bias[2:4], bias[2:4])
    strategy.begin_task(2, benchmark.tasks[2])
    weight = layer.weight.detach().clone()
    train(strategy, benchmark, [(2, 1, -10)])
    assert torch.equal(layer.weight[:4], weight[:4])  # tasks 0 and 1 frozen now


def test_without_freezing_the_old_rows_move() -> None:
    benchmark = blobs_benchmark()
    strategy = build(spec_of("er"), benchmark, weight_decay=0.1)
    train(strategy, benchmark, [(0, 0, -10), (1, 0, 1)])
    weight = head(strategy).weight.detach().clone()
    train(strategy, benchmark, [(1, 1, -10)])
    assert not torch.equal(head(strategy).weight[:2], weight[:2])


def test_freezing_a_shared_domain_incremental_head_is_refused() -> None:
    benchmark = blobs_benchmark("domain_incremental")
    with pytest.raises(ValueError, match="domain-incremental"):
        build(spec_of("er", freeze_old_heads=True), benchmark)


# --- soft targets -----------------------------------------------------------------------------


def hand_soft_cross_entropy(logits: list[list[float]], targets: list[list[float]]) -> float:
    """-sum_c t_c log softmax(z)_c, averaged over rows, in plain floats."""
    total = 0.0
    for z, t in zip(logits, targets, strict=True):
        log_norm = math.log(sum(math.exp(v - max(z)) for v in z)) + max(z)
        total -= sum(tc * (zc - log_norm) for zc, tc in zip(z, t, strict=True) if tc)
    return total / len(logits)


def test_soft_target_loss_matches_a_hand_computation() -> None:
    benchmark = blobs_benchmark()  # 3 tasks of 2 classes: 6 outputs
    strategy = build(spec_of("er", soft_targets=0.2), benchmark)
    strategy.begin_task(0, benchmark.tasks[0])
    strategy.begin_task(1, benchmark.tasks[1])  # seen: classes 0..3
    z = [
        [0.5, -1.0, 2.0, 0.0, 1.0, 3.0],
        [1.0, 0.2, MASK_VALUE, -0.5, 0.0, 0.0],  # unit 2 masked (ER-ACE: absent)
        [0.1, 0.3, -0.2, 0.4, 0.0, 0.0],  # a replayed row: one-hot
    ]
    logits = torch.tensor(z, dtype=torch.float64)
    y = torch.tensor([2, 3, 0])
    loss = strategy.cross_entropy(logits, y, n_new=2)
    # row 0: 0.8 on class 2 + 0.2 / 4 on each of classes 0..3
    # row 1: 0.8 on class 3 + 0.2 / 3 on classes 0, 1, 3 (2 masked); row 2: one-hot on class 0
    targets = [
        [0.05, 0.05, 0.85, 0.05, 0.0, 0.0],
        [0.2 / 3, 0.2 / 3, 0.0, 0.8 + 0.2 / 3, 0.0, 0.0],
        [1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    ]
    assert loss.item() == pytest.approx(hand_soft_cross_entropy(z, targets), rel=1e-12)
    # and the update's loss is that on the model's logits (ER, empty memory: all rows new)
    x, yb = batch(benchmark.tasks[1], 0)
    before = strategy.model(x).detach().double().tolist()
    seen = [1.0 if c < 4 else 0.0 for c in range(6)]
    hand_targets = [[0.8 * (c == t) + 0.2 * seen[c] / 4 for c in range(6)] for t in yb.tolist()]
    observed = strategy.observe(x, yb, 1)
    expected = hand_soft_cross_entropy(before, hand_targets)
    assert observed.item() == pytest.approx(expected, rel=1e-5)


def test_no_soft_targets_is_the_plain_cross_entropy() -> None:
    benchmark = blobs_benchmark()
    strategy = build(spec_of("er", head_init="mean_embedding"), benchmark)
    logits = torch.randn(4, 6, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([0, 1, 2, 3])
    assert torch.equal(strategy.cross_entropy(logits, y), nn.functional.cross_entropy(logits, y))


# --- LoRA -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["er", "derpp"])
def test_lora_freezes_the_backbone_from_the_second_task_and_trains_adapters(name: str) -> None:
    benchmark = blobs_benchmark()
    strategy = build(spec_of(name, lora_rank=2), benchmark, weight_decay=0.1)
    model = strategy.model
    hidden = model[0]  # type: ignore[index]
    assert "0.lora_A" in model.state_dict() and "0.lora_B" in model.state_dict()
    assert hidden.lora_A.shape == (2, DIM) and hidden.lora_B.shape == (16, 2)
    assert torch.equal(hidden.lora_B, torch.zeros(16, 2))
    base = hidden.weight.detach().clone()
    train(strategy, benchmark, [(0, 0, -10)])
    assert not torch.equal(hidden.weight, base)  # the first task trains the backbone itself
    assert torch.equal(hidden.lora_B, torch.zeros(16, 2))  # and no adapter

    x, _ = batch(benchmark.tasks[1], 0)
    before = model(x).detach()
    strategy.begin_task(1, benchmark.tasks[1])
    assert torch.equal(model(x), before)  # B = 0: the adapters change nothing at first
    weight, bias = hidden.weight.detach().clone(), hidden.bias.detach().clone()
    lora_a, out = hidden.lora_A.detach().clone(), head(strategy).weight.detach().clone()
    train(strategy, benchmark, [(1, 1, -10), (2, 0, -5)])
    assert torch.equal(hidden.weight, weight) and torch.equal(hidden.bias, bias)
    assert not torch.equal(hidden.lora_B, torch.zeros(16, 2))
    assert not torch.equal(hidden.lora_A, lora_a)
    assert not torch.equal(head(strategy).weight, out)  # the output layer keeps training


def test_lora_needs_a_hidden_linear_layer() -> None:
    benchmark = blobs_benchmark()
    model = nn.Sequential(nn.Flatten(), nn.Linear(DIM, benchmark.n_outputs))
    with pytest.raises(ValueError, match="hidden nn.Linear"):
        build(spec_of("er", lora_rank=2), benchmark, model)


# --- ER-ACE's cosine head ---------------------------------------------------------------------


def test_er_ace_cosine_logits_match_a_hand_computation() -> None:
    benchmark = blobs_benchmark()
    model = tiny_model(benchmark)
    weight = model[2].weight
    strategy = build(spec_of("er_ace", cosine_scale=10.0), benchmark, model)
    assert isinstance(model[2], CosineLinear) and model[2].weight is weight
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight"]
    x = torch.randn(3, DIM, generator=torch.Generator().manual_seed(1))
    features = model[:2](x).detach().tolist()
    rows = weight.detach().tolist()
    expected = [
        [
            10.0
            * sum(a * b for a, b in zip(h, w, strict=True))
            / (
                (math.sqrt(sum(a * a for a in h)) + 1e-5)
                * (math.sqrt(sum(b * b for b in w)) + 1e-5)
            )
            for w in rows
        ]
        for h in features
    ]
    torch.testing.assert_close(model(x), torch.tensor(expected))
    train(strategy, benchmark, [(0, 0, -5)])
    assert not torch.equal(weight, torch.tensor(rows))  # the optimizer still trains the weight


def test_er_ace_without_cosine_scale_keeps_its_linear_head() -> None:
    benchmark = blobs_benchmark()
    strategy = build(spec_of("er_ace"), benchmark)
    assert isinstance(head(strategy), nn.Linear)
    assert strategy.mitigations is None  # no mitigation asked: nothing attached


# --- every replay strategy, every mitigation ----------------------------------------------------


@pytest.mark.parametrize("mitigation", list(MITIGATIONS))
@pytest.mark.parametrize("name", REPLAY_NAMES)
def test_each_mitigation_runs_with_each_replay_strategy(name: str, mitigation: str) -> None:
    benchmark = blobs_benchmark()
    strategy = build(spec_of(name, **MITIGATIONS[mitigation]), benchmark)
    assert strategy.mitigations is not None
    losses = torch.stack(train(strategy, benchmark, [(0, 0, -5), (1, 0, -5), (2, 0, -5)]))
    assert torch.isfinite(losses).all()
    assert strategy.mitigations.task == 2
    assert strategy.mitigations.seen.all()


@pytest.mark.parametrize("name", REPLAY_NAMES)
def test_all_mitigations_resume_bit_exactly(name: str) -> None:
    benchmark = blobs_benchmark()
    options = {**ALL_ON, **({"cosine_scale": 10.0} if name == "er_ace" else {})}
    spec = spec_of(name, **options)
    assert_resumes_bit_exactly(
        lambda model_seed: build(spec, benchmark, weight_decay=0.01, model_seed=model_seed),
        benchmark,
    )
