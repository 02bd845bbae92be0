"""Methods against loss of plasticity: one update of each checked by hand, CBP's replacements
counted, UPGD's special cases, and resume through the loop."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

from gapwatch.components import CNNSpec, MLPSpec, OptimizerSpec, ResNet18ReducedSpec
from gapwatch.spec import RunSpec
from gapwatch_worker.cl.models import build_model
from gapwatch_worker.cl.optim import UPGD, build_optimizer
from gapwatch_worker.cl.seeding import make_generator
from gapwatch_worker.cl.strategies.cbp import ContinualBackprop
from gapwatch_worker.cl.strategies.l2_init import L2Init
from gapwatch_worker.cl.strategies.shrink_perturb import ShrinkPerturb
from tests.worker.strategy_fixtures import CPU, blobs_benchmark, make_strategy, strategy_spec
from tests.worker.test_checkpoint import assert_resumed_from, crash_then_resume

SpecFactory = Callable[..., RunSpec]


def sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v))


def linear_model(weight: list[list[float]], bias: list[float]) -> nn.Sequential:
    layer = nn.Linear(len(weight[0]), len(weight))
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight))
        layer.bias.copy_(torch.tensor(bias))
    return nn.Sequential(layer)


# --- L2-Init -----------------------------------------------------------------------------------


def test_l2_init_one_update_by_hand() -> None:
    # theta_0: W0 = [[1], [2]], b0 = [0.5, -0.5]; then the weights are set to zero.
    model = linear_model([[1.0], [2.0]], [0.5, -0.5])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    strategy = L2Init(model, optimizer, CPU, l2_init_lambda=0.1)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    # Logits 0, 0: CE = ln 2, dCE/dlogits = softmax - onehot = [-0.5, 0.5]; x = 1.
    # Penalty 0.1 * (1 + 4 + 0.25 + 0.25) = 0.55; its gradient 2 * 0.1 * (theta - theta_0).
    loss = strategy.observe(torch.tensor([[1.0]]), torch.tensor([0]), 0)
    assert loss.item() == pytest.approx(math.log(2) + 0.55, rel=1e-6)
    layer = model[0]
    # W: grad [[-0.5 - 0.2], [0.5 - 0.4]] = [[-0.7], [0.1]]; W <- 0 - 0.5 * grad.
    assert layer.weight.detach().flatten().tolist() == pytest.approx([0.35, -0.05], rel=1e-6)
    # b: grad [-0.5 - 0.1, 0.5 + 0.1] = [-0.6, 0.6].
    assert layer.bias.detach().tolist() == pytest.approx([0.3, -0.3], rel=1e-6)
    assert strategy.penalty().item() == pytest.approx(
        0.1 * ((0.35 - 1) ** 2 + (-0.05 - 2) ** 2 + (0.3 - 0.5) ** 2 + (-0.3 + 0.5) ** 2), rel=1e-6
    )


def test_l2_init_anchors_at_the_weights_it_was_built_with() -> None:
    benchmark = blobs_benchmark()
    strategy = make_strategy(strategy_spec("l2_init"), benchmark)
    assert strategy.penalty().item() == 0.0  # type: ignore[attr-defined]
    with torch.no_grad():
        strategy.model[0].weight.add_(1.0)  # type: ignore[index]
    n = strategy.model[0].weight.numel()  # type: ignore[index]
    assert strategy.penalty().item() == pytest.approx(0.05 * n)  # type: ignore[attr-defined]


# --- Shrink & Perturb --------------------------------------------------------------------------


def test_shrink_perturb_one_update_by_hand() -> None:
    model = linear_model([[0.0], [0.0]], [0.0, 0.0])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    strategy = ShrinkPerturb(
        model, optimizer, CPU, torch.Generator().manual_seed(5), shrink=0.5, noise_std=0.1
    )
    strategy.observe(torch.tensor([[1.0]]), torch.tensor([0]), 0)
    # SGD: grad W = [[-0.5], [0.5]], grad b = [-0.5, 0.5] -> W = [[0.25], [-0.25]], b likewise;
    # then theta <- 0.5 theta + 0.1 eps, eps drawn for W (2x1) then b (2) from the generator.
    generator = torch.Generator().manual_seed(5)
    eps_w, eps_b = torch.randn(2, 1, generator=generator), torch.randn(2, generator=generator)
    layer = model[0]
    expected_w = torch.tensor([[0.125], [-0.125]]) + 0.1 * eps_w
    expected_b = torch.tensor([0.125, -0.125]) + 0.1 * eps_b
    torch.testing.assert_close(layer.weight.detach(), expected_w, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(layer.bias.detach(), expected_b, rtol=1e-6, atol=1e-7)


def test_shrink_perturb_at_task_start_acts_once_per_later_task() -> None:
    benchmark = blobs_benchmark()
    strategy = make_strategy(strategy_spec("shrink_perturb", at="task_start"), benchmark)
    weights = lambda: torch.cat([p.detach().flatten() for p in strategy.model.parameters()])  # noqa: E731
    before = weights()
    strategy.begin_task(0, benchmark.tasks[0])
    assert torch.equal(weights(), before)  # the first task starts from the initial weights
    x, y = benchmark.tasks[0].train_x[:16], benchmark.tasks[0].train_y[:16]
    strategy.observe(x, y, 0)
    after_update = weights()
    strategy.begin_task(1, benchmark.tasks[1])
    perturbed = weights()
    # shrink 0.99, noise std 0.01, drawn parameter after parameter from the run's stream
    generator = make_generator(0, "shrink_perturb")
    sizes = [p.numel() for p in strategy.model.parameters()]
    noise = torch.cat([torch.randn(n, generator=generator) for n in sizes])
    torch.testing.assert_close(perturbed, 0.99 * after_update + 0.01 * noise, rtol=0, atol=1e-7)
    strategy.begin_task(1, benchmark.tasks[1])  # begun again after a resume: nothing more
    assert torch.equal(weights(), perturbed)


# --- Continual backprop ------------------------------------------------------------------------


def cbp_model() -> nn.Sequential:
    """2 inputs, 3 hidden ReLU units, 2 outputs, weights chosen for distinct utilities."""
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        model[0].bias.zero_()
        model[2].weight.copy_(torch.tensor([[1.0, -1.0, 0.5], [0.5, 1.0, -0.5]]))
        model[2].bias.zero_()
    return model


def test_cbp_one_update_by_hand() -> None:
    model = cbp_model()
    # lr 0 leaves the SGD step out of the numbers; momentum makes a state to be reset.
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9)
    strategy = ContinualBackprop(
        model,
        optimizer,
        CPU,
        torch.Generator().manual_seed(3),
        replacement_rate=0.34,
        decay_rate=0.5,
        maturity_threshold=0,
    )
    x, y = torch.tensor([[1.0, 2.0], [3.0, 0.0]]), torch.tensor([0, 1])
    strategy.observe(x, y, 0)
    # h = relu(W1 x): unit 0 [1, 3], unit 1 [2, 0], unit 2 [3, 3] -> mean |h| = 2, 1, 3.
    # sum_k |w_out| = 1.5, 2, 1 -> contributions 3, 2, 3; u = 0.5 * contribution, age 1,
    # corrected u / (1 - 0.5) = 3, 2, 3. 0.34 * 3 mature units = 1.02 -> one unit: unit 1.
    assert strategy.last_replaced[0].tolist() == [1]
    assert strategy.replaced == [1]
    assert strategy.accumulated[0] == pytest.approx(0.02)
    assert strategy.utility[0].tolist() == pytest.approx([1.5, 0.0, 1.5])
    assert strategy.age[0].tolist() == [1, 0, 1]
    bound = 1 / math.sqrt(2)  # torch's default init of a Linear with 2 inputs
    fresh = torch.empty(1, 2).uniform_(-bound, bound, generator=torch.Generator().manual_seed(3))
    w1, b1, w2 = model[0].weight.detach(), model[0].bias.detach(), model[2].weight.detach()
    assert torch.equal(w1[1:2], fresh)
    assert torch.equal(w1[[0, 2]], torch.tensor([[1.0, 0.0], [1.0, 1.0]]))
    assert b1.tolist() == [0.0, 0.0, 0.0]
    assert w2.tolist() == [[1.0, 0.0, 0.5], [0.5, 0.0, -0.5]]
    # Momentum of the reset weights zeroed, the others kept (the first step's gradient).
    m_w1 = optimizer.state[model[0].weight]["momentum_buffer"]
    m_w2 = optimizer.state[model[2].weight]["momentum_buffer"]
    assert m_w1[1].eq(0).all() and m_w1[0].ne(0).any() and m_w1[2].ne(0).all()
    assert m_w2[:, 1].eq(0).all() and m_w2[:, [0, 2]].ne(0).all()
    assert optimizer.state[model[0].bias]["momentum_buffer"][1] == 0

    strategy.observe(x, y, 0)
    # Unit 1's outgoing weights are zero: contribution 0, u = 0, the lowest again.
    # Units 0 and 2: u = 0.5 * 1.5 + 0.5 * 3 = 2.25 (corrected 2.25 / 0.75 = 3).
    assert strategy.utility[0].tolist() == pytest.approx([2.25, 0.0, 2.25])
    assert strategy.last_replaced[0].tolist() == [1]
    assert strategy.age[0].tolist() == [2, 0, 2]
    assert strategy.replaced == [1 + 1] and strategy.accumulated[0] == pytest.approx(0.04)


def test_cbp_replaces_the_expected_number_of_mature_units() -> None:
    torch.manual_seed(0)
    model = build_model(MLPSpec(name="mlp", hidden_sizes=[16, 16]), (8,), 6)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    strategy = ContinualBackprop(
        model,
        optimizer,
        CPU,
        torch.Generator().manual_seed(0),
        replacement_rate=0.5,
        decay_rate=0.9,
        maturity_threshold=2,
    )
    benchmark = blobs_benchmark()
    task = benchmark.tasks[0]
    per_step = []
    for step in range(6):
        rows = slice(16 * step, 16 * step + 16)
        strategy.observe(task.train_x[rows], task.train_y[rows], 0)
        per_step.append([len(r) for r in strategy.last_replaced])
        # The host's count of mature units (no device sync) is the device's.
        for i, age in enumerate(strategy.age):
            assert strategy._mature_units(i, 16) == int((age > 2).sum())
    # Mature means age > 2. Step 3: 16 mature -> 8; step 4: the 8 others -> 4; step 5: 4 of
    # the originals left -> 2; step 6: the 8 of step 3 (age 3) and the last 2 originals -> 5.
    assert per_step == [[0, 0], [0, 0], [8, 8], [4, 4], [2, 2], [5, 5]]
    assert strategy.replaced == [19, 19]
    linears = [m for m in model if isinstance(m, nn.Linear)]
    for i, units in enumerate(strategy.last_replaced):
        outgoing = linears[i + 1].weight[:, units]
        if i + 1 < len(strategy.last_replaced):
            # Rows of the next layer's units replaced in the same update are fresh draws.
            fresh = torch.zeros(len(outgoing), dtype=torch.bool)
            fresh[strategy.last_replaced[i + 1]] = True
            assert outgoing[fresh].ne(0).all()
            outgoing = outgoing[~fresh]
        assert outgoing.eq(0).all()  # outgoing weights zero
        assert linears[i].bias[units].eq(0).all()
        assert strategy.age[i][units].eq(0).all() and strategy.utility[i][units].eq(0).all()


def test_cbp_on_the_cnn_zeroes_the_flattened_columns_of_a_channel() -> None:
    torch.manual_seed(0)
    model = build_model(CNNSpec(name="cnn", channels=[3], hidden=4), (1, 4, 4), 2)
    # Conv(1->3), ReLU, MaxPool(4x4 -> 2x2), Flatten, Linear(12 -> 4), ReLU, Linear(4 -> 2).
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    strategy = ContinualBackprop(
        model,
        optimizer,
        CPU,
        torch.Generator().manual_seed(0),
        replacement_rate=0.34,
        decay_rate=0.5,
        maturity_threshold=0,
    )
    conv, hidden = model[0], model[4]
    x = torch.randn(5, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        activity = torch.relu(conv(x)).abs().mean(dim=(0, 2, 3))
        magnitude = hidden.weight.abs().sum(dim=0).view(3, 4).sum(dim=1)
    lowest = int(torch.argmin(activity * magnitude))
    strategy.observe(x, torch.zeros(5, dtype=torch.int64), 0)
    assert strategy.last_replaced[0].tolist() == [lowest]
    columns = list(range(4 * lowest, 4 * lowest + 4))
    # The hidden Linear's replaced unit (one of 4: 0.34 * 4 = 1.36) has a fresh incoming row.
    assert len(strategy.last_replaced[1]) == 1
    old_rows = [r for r in range(4) if r != strategy.last_replaced[1].item()]
    assert hidden.weight[old_rows][:, columns].eq(0).all()
    others = [c for c in range(12) if c not in columns]
    assert hidden.weight[:, others].ne(0).all()
    assert hidden.weight[strategy.last_replaced[1]].ne(0).all()
    assert conv.bias[lowest] == 0
    assert conv.weight[lowest].abs().max() <= 1 / 3  # fan_in 1 * 3 * 3: bound 1/3


def test_cbp_refuses_a_model_that_is_not_a_sequential_chain() -> None:
    model = build_model(ResNet18ReducedSpec(name="resnet18_reduced", nf=2), (3, 8, 8), 4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="ReducedResNet18"):
        ContinualBackprop(model, optimizer, CPU, torch.Generator())


def test_cbp_ignores_forward_passes_outside_its_updates() -> None:
    model = cbp_model()
    strategy = ContinualBackprop(
        model, torch.optim.SGD(model.parameters(), lr=0.1), CPU, torch.Generator()
    )
    model(torch.ones(4, 2))  # an evaluation
    assert strategy._features == [None]


# --- UPGD --------------------------------------------------------------------------------------


def upgd_params() -> tuple[nn.Parameter, nn.Parameter]:
    p1 = nn.Parameter(torch.tensor([1.0, -2.0]))
    p2 = nn.Parameter(torch.tensor([0.5, 2.0]))
    p1.grad = torch.tensor([0.5, 0.25])
    p2.grad = torch.tensor([-1.0, -1.0])
    return p1, p2


def test_upgd_one_step_by_hand() -> None:
    p1, p2 = upgd_params()
    optimizer = UPGD([p1, p2], lr=0.1, weight_decay=0.5, beta_utility=0.5, sigma=0.0, seed=7)
    optimizer.step()
    # -grad * param: [-0.5, 0.5] and [0.5, 2.0]; traces 0.5 * that: [-0.25, 0.25], [0.25, 1.0];
    # global max 1.0; bias correction 1 - 0.5 = 0.5 -> scaled sigmoid([-0.5, 0.5]),
    # sigmoid([0.5, 2.0]). param <- param * (1 - 0.1 * 0.5) - 0.1 * grad * (1 - scaled).
    assert optimizer.state[p1]["avg_utility"].tolist() == [-0.25, 0.25]
    assert optimizer.state[p2]["avg_utility"].tolist() == [0.25, 1.0]
    expected_1 = [
        0.95 - 0.1 * 0.5 * (1 - sigmoid(-0.5)),
        -1.9 - 0.1 * 0.25 * (1 - sigmoid(0.5)),
    ]
    expected_2 = [0.475 + 0.1 * (1 - sigmoid(0.5)), 1.9 + 0.1 * (1 - sigmoid(2.0))]
    assert expected_1 == pytest.approx([0.91887703, -1.90943852], abs=1e-8)
    assert expected_2 == pytest.approx([0.51275407, 1.91192029], abs=1e-8)
    assert p1.detach().tolist() == pytest.approx(expected_1, rel=1e-6)
    assert p2.detach().tolist() == pytest.approx(expected_2, rel=1e-6)


def test_upgd_noise_comes_from_its_seeded_generator() -> None:
    p1, p2 = upgd_params()
    optimizer = UPGD([p1, p2], lr=0.1, weight_decay=0.5, beta_utility=0.5, sigma=0.1, seed=7)
    optimizer.step()
    generator = make_generator(7, "upgd")  # the run seed's stream "upgd"
    n1, n2 = torch.randn(2, generator=generator), torch.randn(2, generator=generator)
    s1 = torch.sigmoid(torch.tensor([-0.5, 0.5]))
    s2 = torch.sigmoid(torch.tensor([0.5, 2.0]))
    g1, g2 = torch.tensor([0.5, 0.25]), torch.tensor([-1.0, -1.0])
    expected_1 = torch.tensor([1.0, -2.0]) * 0.95 - 0.1 * (g1 + 0.1 * n1) * (1 - s1)
    expected_2 = torch.tensor([0.5, 2.0]) * 0.95 - 0.1 * (g2 + 0.1 * n2) * (1 - s2)
    torch.testing.assert_close(p1.detach(), expected_1)
    torch.testing.assert_close(p2.detach(), expected_2)


@pytest.mark.parametrize("beta", [0.0, 0.9])
def test_upgd_with_equal_utilities_and_no_noise_is_a_scaled_sgd_step(beta: float) -> None:
    # -grad * param = 2 for every weight: every scaled utility is sigmoid(1 / (1 - beta)), the
    # trace (1 - beta) * 2 over the max (1 - beta) * 2 of the uncorrected traces.
    params = [torch.tensor([1.0, 2.0, -1.0]), torch.tensor([[0.5, -4.0]])]
    grads = [torch.tensor([-2.0, -1.0, 2.0]), torch.tensor([[-4.0, 0.5]])]
    upgd_params_ = [nn.Parameter(p.clone()) for p in params]
    sgd_params = [nn.Parameter(p.clone()) for p in params]
    for p, q, g in zip(upgd_params_, sgd_params, grads, strict=True):
        p.grad, q.grad = g.clone(), g.clone()
    UPGD(upgd_params_, lr=0.1, beta_utility=beta, sigma=0.0, seed=0).step()
    scale = 1 - sigmoid(1 / (1 - beta))
    torch.optim.SGD(sgd_params, lr=0.1 * scale).step()
    for p, q in zip(upgd_params_, sgd_params, strict=True):
        torch.testing.assert_close(p, q)
    assert upgd_params_[0].detach().tolist() == pytest.approx(
        [1.0 + 0.2 * scale, 2.0 + 0.1 * scale, -1.0 - 0.2 * scale], rel=1e-6
    )


def test_upgd_state_dict_resumes_the_noise() -> None:
    def run(steps: int, optimizer: UPGD, p: nn.Parameter) -> None:
        for _ in range(steps):
            p.grad = torch.sin(p.detach() * 3)
            optimizer.step()

    p = nn.Parameter(torch.linspace(-1, 1, 5))
    optimizer = UPGD([p], lr=0.1, beta_utility=0.9, sigma=0.5, seed=1)
    run(3, optimizer, p)
    saved = copy.deepcopy(optimizer.state_dict())  # as a checkpoint file holds it
    saved_p = p.detach().clone()
    run(3, optimizer, p)

    q = nn.Parameter(saved_p.clone())
    resumed = UPGD([q], lr=0.1, beta_utility=0.9, sigma=0.5, seed=99)  # another seed
    resumed.load_state_dict(saved)
    run(3, resumed, q)
    assert torch.equal(p, q)


def test_build_optimizer_makes_upgd() -> None:
    model = nn.Linear(2, 2)
    spec = OptimizerSpec(name="upgd", lr=0.05, weight_decay=0.1, beta_utility=0.9, sigma=0.01)
    optimizer = build_optimizer(spec, model.parameters(), seed=0)
    assert isinstance(optimizer, UPGD)
    group = optimizer.param_groups[0]
    assert (group["lr"], group["weight_decay"], group["beta_utility"], group["sigma"]) == (
        0.05,
        0.1,
        0.9,
        0.01,
    )


def test_upgd_run_resumes_bit_exactly(make_spec: SpecFactory, tmp_path: Path) -> None:
    spec = make_spec(
        optimizer={"name": "upgd", "lr": 0.1, "beta_utility": 0.9, "sigma": 0.05},
        benchmark={"n_tasks": 2},
        training={"iterations_per_task": 10},
        evaluation={"every": 2, "subset_size": 20},
        checkpoint_every=5,
    )
    # Dies at step 13, after the checkpoint of step 10, inside task 1.
    uninterrupted, _, resumed, outcome = crash_then_resume(spec, tmp_path / "run", 13)
    assert outcome.resumed_from == 10 and outcome.iterations == 20
    assert_resumed_from(uninterrupted, resumed, 10)


@pytest.mark.parametrize("name", ["cbp", "l2_init", "shrink_perturb"])
def test_plasticity_strategy_resumes_bit_exactly_in_the_loop(
    make_spec: SpecFactory, tmp_path: Path, name: str
) -> None:
    spec = make_spec(
        strategy=strategy_spec(name).model_dump(),
        benchmark={"n_tasks": 2},
        training={"iterations_per_task": 10},
        evaluation={"every": 2, "subset_size": 20},
        checkpoint_every=5,
    )
    uninterrupted, _, resumed, outcome = crash_then_resume(spec, tmp_path / "run", 13)
    assert outcome.resumed_from == 10
    assert_resumed_from(uninterrupted, resumed, 10)
