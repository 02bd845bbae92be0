"""Models: output shapes for every benchmark's inputs, the CNN's pooling, the reduced ResNet-18."""

from __future__ import annotations

from typing import ClassVar, Literal

import pytest
import torch
from torch import nn

from gapwatch.spec import CNNSpec, MLPSpec, ModelSpecBase, ResNet18ReducedSpec
from gapwatch_worker.cl.models import build_model

# split_digits, the MNIST family, CIFAR, synthetic (vectors: mlp only).
IMAGE_SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32)]
SPECS = [
    MLPSpec(name="mlp", hidden_sizes=[16, 8]),
    CNNSpec(name="cnn", channels=[4, 8], hidden=16),
    ResNet18ReducedSpec(name="resnet18_reduced", nf=4),
]


def _parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("shape", IMAGE_SHAPES)
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_output_shape_for_every_image_input(spec: MLPSpec, shape: tuple[int, ...]) -> None:
    model = build_model(spec, shape, 7)
    assert model(torch.rand(3, *shape)).shape == (3, 7)
    model.eval()
    assert model(torch.rand(1, *shape)).shape == (1, 7)


def test_mlp_takes_vectors_and_flattens_images() -> None:
    model = build_model(MLPSpec(name="mlp", hidden_sizes=[400, 400]), (1, 28, 28), 10)
    first = model[1]
    assert isinstance(first, nn.Linear) and first.in_features == 784
    assert _parameters(model) == 784 * 400 + 400 + 400 * 400 + 400 + 400 * 10 + 10
    vectors = build_model(MLPSpec(name="mlp"), (32,), 4)
    assert vectors(torch.rand(5, 32)).shape == (5, 4)
    assert build_model(MLPSpec(name="mlp"), 64, 10)(torch.rand(2, 64)).shape == (2, 10)


def test_cnn_pools_no_smaller_than_one_pixel() -> None:
    model = build_model(CNNSpec(name="cnn", channels=[3] * 6, hidden=5), (1, 8, 8), 2)
    pools = [m for m in model if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 3  # 8 -> 4 -> 2 -> 1, then no more
    flatten_to = [m for m in model if isinstance(m, nn.Linear)][0]
    assert flatten_to.in_features == 3 * 1 * 1
    assert model(torch.rand(2, 1, 8, 8)).shape == (2, 2)
    mnist = build_model(CNNSpec(name="cnn"), (1, 28, 28), 10)
    assert [m for m in mnist if isinstance(m, nn.Linear)][0].in_features == 64 * 7 * 7


def test_convolutional_models_refuse_vectors() -> None:
    for spec in SPECS[1:]:
        with pytest.raises(ValueError, match="needs image inputs"):
            build_model(spec, (32,), 2)


def test_a_model_whose_code_is_not_installed_is_a_clear_error() -> None:
    class Transformer(ModelSpecBase):
        implementation: ClassVar[str] = "gapwatch_no_such_plugin.models:build"
        name: Literal["transformer"]

    with pytest.raises(ImportError, match="'transformer'.*gapwatch_no_such_plugin"):
        build_model(Transformer(name="transformer"), (2,), 2)


def test_reduced_resnet18_matches_gem() -> None:
    model = build_model(ResNet18ReducedSpec(name="resnet18_reduced"), (3, 32, 32), 100)
    # GEM's reduced ResNet-18 (nf = 20) on CIFAR-100: about 1.1 M parameters.
    assert 1.05e6 < _parameters(model) < 1.15e6
    convolutions = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert convolutions[0].stride == (1, 1) and convolutions[0].kernel_size == (3, 3)
    assert {c.out_channels for c in convolutions} == {20, 40, 80, 160}
    assert len([c for c in convolutions if c.kernel_size == (3, 3)]) == 1 + 4 * 2 * 2
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == len(convolutions)
    assert isinstance(model.linear, nn.Linear) and model.linear.in_features == 160
    grey = build_model(ResNet18ReducedSpec(name="resnet18_reduced"), (1, 28, 28), 10)
    assert grey(torch.rand(2, 1, 28, 28)).shape == (2, 10)


def test_same_seed_same_initial_weights() -> None:
    def weights() -> list[torch.Tensor]:
        torch.manual_seed(3)
        return list(build_model(SPECS[2], (3, 32, 32), 10).state_dict().values())

    assert all(torch.equal(a, b) for a, b in zip(weights(), weights(), strict=True))
