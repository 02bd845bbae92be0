"""Plasticity diagnostics (METRICS.md): every formula against a hand-computed value."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pytest
import torch
from torch import nn

from gapwatch.torch import ContinualEvaluator, ProbeDiagnostics
from gapwatch.torch.diagnostics import (
    dormant_share,
    effective_rank,
    feature_matrix,
    gradient_norm,
    plasticity,
    singular_values,
    stable_rank,
    unit_activity,
    weight_layers,
    weight_magnitudes,
)


def test_singular_values_of_a_known_matrix() -> None:
    # [[3, 0, 0], [0, 4, 0]] has singular values 4 and 3 (its Gram matrix is diag(9, 16)).
    a = torch.tensor([[3.0, 0.0, 0.0], [0.0, 4.0, 0.0]])
    assert singular_values(a).tolist() == pytest.approx([4.0, 3.0], abs=1e-5)
    assert singular_values(a.T).tolist() == pytest.approx([4.0, 3.0], abs=1e-5)  # tall: A^T A


def test_effective_and_stable_rank_by_hand() -> None:
    s = torch.tensor([4.0, 3.0])
    # p = (4/7, 3/7); H = -(4/7 ln 4/7 + 3/7 ln 3/7) = 0.682908; exp(H) = 1.979634
    entropy = -(4 / 7 * math.log(4 / 7) + 3 / 7 * math.log(3 / 7))
    assert effective_rank(s).item() == pytest.approx(math.exp(entropy), rel=1e-6)
    assert effective_rank(s).item() == pytest.approx(1.979626, abs=1e-6)
    assert stable_rank(s).item() == pytest.approx((16 + 9) / 16)  # 1.5625
    # Three equal singular values: both ranks are 3; one non-zero value: both are 1.
    assert effective_rank(torch.tensor([2.0, 2.0, 2.0])).item() == pytest.approx(3.0)
    assert stable_rank(torch.tensor([2.0, 2.0, 2.0])).item() == pytest.approx(3.0)
    assert effective_rank(torch.tensor([5.0, 0.0])).item() == pytest.approx(1.0)
    assert stable_rank(torch.tensor([5.0, 0.0])).item() == pytest.approx(1.0)
    # An all-zero layer (every unit dead) has rank 0, not NaN.
    assert effective_rank(torch.zeros(3)).item() == 0.0
    assert stable_rank(torch.zeros(3)).item() == 0.0


def test_dormant_units_of_a_dense_layer() -> None:
    # Activity (mean |a| over the batch): (2, 0, 2, 0.001); layer mean 1.00025; scores
    # (1.9995, 0, 1.9995, 0.0009998): units 1 and 3 are at most tau = 0.01.
    a = torch.tensor([[1.0, 0.0, -2.0, 0.001], [3.0, 0.0, 2.0, -0.001]])
    assert unit_activity(a).tolist() == pytest.approx([2.0, 0.0, 2.0, 0.001])
    assert dormant_share(a, 0.01).item() == 0.5
    assert dormant_share(a, 0.0).item() == 0.25  # only the silent unit at tau = 0
    assert dormant_share(torch.zeros(4, 3), 0.01).item() == 1.0  # an all-silent layer


def test_convolutional_channels_are_the_units() -> None:
    # (N=2, C=3, H=1, W=2): channel 0 mean |a| = 1, channel 1 = 0, channel 2 = 0.5.
    a = torch.zeros(2, 3, 1, 2)
    a[:, 0] = torch.tensor([[1.0, -1.0]])
    a[:, 2] = torch.tensor([[0.5, 0.5]])
    assert unit_activity(a).tolist() == pytest.approx([1.0, 0.0, 0.5])
    assert dormant_share(a, 0.01).item() == pytest.approx(1 / 3)
    # Ranks are over the (N, C) matrix of spatial means: channel 0 averages to 0.
    assert feature_matrix(a).tolist() == [[0.0, 0.0, 0.5], [0.0, 0.0, 0.5]]


def test_weight_magnitudes_and_gradient_norm() -> None:
    w = torch.tensor([[3.0, -4.0]])
    w_abs, w_norm = weight_magnitudes(w)
    assert (w_abs.item(), w_norm.item()) == (3.5, 5.0)
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(1, requires_grad=True)
    assert gradient_norm([a, b]) is None  # no update yet
    a.grad, b.grad = torch.tensor([3.0, 0.0]), torch.tensor([4.0])
    assert gradient_norm([a, b]).item() == 5.0
    # Norm layers' 1-D scales are not weight layers; Linear and Conv are, in modules() order.
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(2, 2))
    assert weight_layers(model) == [model[0], model[3]]


def test_plasticity_is_clamped_to_0_1() -> None:
    assert plasticity(torch.tensor(2.0), torch.tensor(0.5)).item() == 0.75
    assert plasticity(torch.tensor(2.0), torch.tensor(3.0)).item() == 0.0  # the update hurt
    assert plasticity(torch.tensor(0.0), torch.tensor(0.0)).item() == 0.0


def _known_mlp() -> nn.Sequential:
    """2 -> 3 -> 2 with ReLU; hidden unit 2 never fires on inputs >= 0 (weights -1)."""
    model = nn.Sequential(nn.Linear(2, 3, bias=False), nn.ReLU(), nn.Linear(3, 2, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]))
        model[2].weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    return model


def test_probe_captures_rows_across_chunks_and_skips_the_output_activation() -> None:
    model = nn.Sequential(*_known_mlp(), nn.Sigmoid())  # the Sigmoid's output is the model's
    probe = ProbeDiagnostics(model, dormant_threshold=0.01)
    x = torch.tensor([[9.0, 9.0], [3.0, 0.0], [0.0, 4.0], [9.0, 9.0]])
    with probe.capture(1, 3), torch.no_grad():  # rows 1 and 2, split over two forwards
        model(x[:2])
        model(x[2:])
    keys, values = probe.values()
    got = dict(zip(keys, values.tolist(), strict=True))
    # Hidden features of rows 1, 2: [[3, 0, 0], [0, 4, 0]]: singular values 4, 3; unit 2 dead.
    assert got["diag/dormant/hidden_0"] == pytest.approx(1 / 3)
    assert got["diag/dormant"] == pytest.approx(1 / 3)
    assert got["diag/eff_rank/hidden_0"] == pytest.approx(1.979626, abs=1e-5)
    assert got["diag/stable_rank/hidden_0"] == pytest.approx(1.5625, abs=1e-5)
    assert got["diag/w_abs/layer_0"] == pytest.approx(4 / 6)
    assert got["diag/w_norm/layer_0"] == pytest.approx(2.0)  # sqrt(1 + 1 + 1 + 1)
    assert got["diag/w_norm/layer_1"] == pytest.approx(math.sqrt(2))
    assert "diag/stable_rank/hidden_1" not in got  # the output Sigmoid is not hidden
    assert "diag/grad_norm" not in got and "diag/plasticity" not in got
    assert values.dtype == torch.float64
    # The hooks are gone after the capture.
    assert not model[1]._forward_hooks and not model._forward_pre_hooks


class _Recorder:
    def __init__(self) -> None:
        self.logged: dict[int, dict[str, float]] = {}
        self.evals: dict[int, Mapping[int, float]] = {}

    def log(self, values: Mapping[str, float], step: int) -> None:
        self.logged.setdefault(step, {}).update(values)

    def log_eval(
        self,
        accuracies: Mapping[int, float],
        step: int,
        *,
        losses: Mapping[int, float] | None = None,
    ) -> None:
        self.evals[step] = accuracies


def test_one_update_measured_in_a_users_loop() -> None:
    # Linear(1, 2) at zero: logits 0, loss ln 2. Gradient at x = 1, y = 0: dW = (-0.5, 0.5);
    # after SGD with lr 1, logits (0.5, -0.5): loss ln(1 + e^-1) = 0.313262.
    model = nn.Linear(1, 2, bias=False)
    nn.init.zeros_(model.weight)
    x, y = torch.tensor([[1.0]]), torch.tensor([0])
    evaluator = ContinualEvaluator(model, [(x, y)], diagnostics=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    with evaluator.measure_update(x, y):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    run = _Recorder()
    accuracies = evaluator.evaluate(1, n_tasks=1, run=run)
    assert accuracies == {0: 1.0}
    got = run.logged[1]
    expected = 1 - math.log(1 + math.exp(-1)) / math.log(2)  # 0.548056
    assert got["diag/plasticity"] == pytest.approx(expected, rel=1e-6)
    assert got["diag/grad_norm"] == pytest.approx(math.sqrt(0.5), rel=1e-6)
    assert got["diag/w_abs/layer_0"] == pytest.approx(0.5)
    assert evaluator.last_diagnostics == got
    # Reported once: the next evaluation has no measured update before it.
    evaluator.evaluate(2, n_tasks=1, run=run)
    assert "diag/plasticity" not in run.logged[2] and "diag/w_abs/layer_0" in run.logged[2]


def test_evaluator_diagnostics_match_the_functions_on_the_probe_rows() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3))
    sets = [(torch.randn(40, 5), torch.randint(0, 3, (40,))) for _ in range(2)]
    evaluator = ContinualEvaluator(
        model, sets, subset_size=30, diagnostics=True, probe_size=12, max_rows=7
    )
    evaluator.evaluate(0, n_tasks=2)
    probe_x = evaluator.x[30:42]  # the first 12 rows of task 1's subset
    with torch.no_grad():
        hidden_1 = model[3](model[2](model[1](model[0](probe_x))))
    s = singular_values(hidden_1)
    assert evaluator.last_diagnostics["diag/eff_rank/hidden_1"] == pytest.approx(
        effective_rank(s).item(), rel=1e-5
    )
    assert evaluator.last_diagnostics["diag/stable_rank/hidden_1"] == pytest.approx(
        stable_rank(s).item(), rel=1e-5
    )


def test_a_run_without_log_is_refused_with_diagnostics_and_plain_evaluation_is_unchanged() -> None:
    model = _known_mlp()
    sets = [(torch.rand(6, 2), torch.tensor([0, 1, 0, 1, 0, 1]))]

    class EvalOnly:
        def log_eval(self, accuracies, step, *, losses=None):  # noqa: ANN001, ANN201
            self.accuracies = accuracies

    plain = ContinualEvaluator(model, sets)
    with_diagnostics = ContinualEvaluator(model, sets, diagnostics=True)
    run = EvalOnly()
    assert plain.evaluate(0, n_tasks=1, run=run) == with_diagnostics.evaluate(0, n_tasks=1)
    assert plain.last_diagnostics == {}
    with pytest.raises(TypeError, match="log"):
        with_diagnostics.evaluate(0, n_tasks=1, run=run)


def test_a_model_with_functional_activations_reports_its_penultimate_features() -> None:
    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body, self.head = _known_mlp()[0], nn.Linear(3, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(torch.relu(self.body(x)))

    model = Functional()
    probe = ProbeDiagnostics(model)
    with probe.capture(0, 2), torch.no_grad():
        model(torch.tensor([[3.0, 0.0], [0.0, 4.0]]))
    keys, values = probe.values()
    got = dict(zip(keys, values.tolist(), strict=True))
    # The head's input: [[3, 0, 0], [0, 4, 0]], as in the MLP above.
    assert got["diag/dormant/hidden_0"] == pytest.approx(1 / 3)
    assert got["diag/stable_rank/hidden_0"] == pytest.approx(1.5625, abs=1e-5)
    assert "diag/dormant/hidden_1" not in got


def test_a_collapsed_low_rank_layer_keeps_its_low_effective_rank() -> None:
    """Rank-2 features with a large common offset (what collapsed ReLU layers look like): the
    Gram route must agree with a float64 SVD. In float32 the squared matrix put every null
    singular value near sqrt(eps) * s_max and read this layer's effective rank as 2.8."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(1000, 2, generator=generator) @ torch.randn(2, 1000, generator=generator)
    features = a + 5.0
    exact = effective_rank(torch.linalg.svdvals(features.double()))
    assert float(effective_rank(singular_values(features))) == pytest.approx(float(exact), abs=1e-4)
    assert float(exact) < 2.5
