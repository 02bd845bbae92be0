"""Models by spec name. Each maps a batch of inputs to `n_outputs` logits.

The scenario decides what the logits mean (see `benchmarks/scenarios.py`): one head over all
classes, one head per task as slices of the last layer (task-incremental; the slice of a row's
task is chosen by masking), or one head shared by all tasks. The models themselves are plain.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from gapwatch.components import CNNSpec, MLPSpec, ResNet18ReducedSpec
from gapwatch.plugins import load_implementation

InputShape = tuple[int, ...]


def build_mlp(spec: MLPSpec, input_shape: InputShape, n_outputs: int) -> nn.Module:
    """A fully connected ReLU network; inputs of any shape are flattened first.

    Args:
        spec: Hidden layer widths.
        input_shape: Shape of one input; the first layer takes prod(input_shape) features.
        n_outputs: Number of logits.
    """
    layers: list[nn.Module] = [nn.Flatten()]
    width = math.prod(input_shape)
    for hidden in spec.hidden_sizes:
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


def _image_shape(input_shape: InputShape, model: str) -> tuple[int, int, int]:
    if len(input_shape) != 3:
        raise ValueError(f"model {model} needs image inputs (C, H, W), got shape {input_shape}")
    channels, height, width = input_shape
    return channels, height, width


def build_cnn(spec: CNNSpec, input_shape: InputShape, n_outputs: int) -> nn.Module:
    """Per `channels` entry a 3x3 convolution (padding 1), ReLU and 2x2 max-pool; then a hidden
    ReLU layer of `hidden` units and the output layer.

    A pool that would shrink a side below 1 pixel is left out, so deep stacks still fit small
    images (8x8 digits pool three times: 8, 4, 2, 1).
    """
    channels, height, width = _image_shape(input_shape, "cnn")
    layers: list[nn.Module] = []
    for out_channels in spec.channels:
        layers += [nn.Conv2d(channels, out_channels, 3, padding=1), nn.ReLU()]
        if height >= 2 and width >= 2:
            layers.append(nn.MaxPool2d(2))
            height, width = height // 2, width // 2
        channels = out_channels
    layers += [
        nn.Flatten(),
        nn.Linear(channels * height * width, spec.hidden),
        nn.ReLU(),
        nn.Linear(spec.hidden, n_outputs),
    ]
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity (or 1x1 projection) shortcut."""

    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut: nn.Module = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ReducedResNet18(nn.Module):
    """The reduced ResNet-18 of GEM (Lopez-Paz & Ranzato 2017), used by the stability-gap paper
    for Split CIFAR: BasicBlocks [2, 2, 2, 2] of widths nf, 2nf, 4nf, 8nf, a 3x3 stride-1 stem,
    stages with strides 1, 2, 2, 2, batch norm, global average pooling and a linear layer.

    GEM pools 4x4 for its 32x32 inputs; pooling adaptively to 1x1 is the same there and also
    fits 28x28 and 8x8 inputs.
    """

    def __init__(self, in_channels: int, n_outputs: int, nf: int = 20):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, nf, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(nf)
        stages: list[nn.Module] = []
        in_planes = nf
        for multiplier, stride in ((1, 1), (2, 2), (4, 2), (8, 2)):
            planes = nf * multiplier
            stages += [BasicBlock(in_planes, planes, stride), BasicBlock(planes, planes, 1)]
            in_planes = planes
        self.layers = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.linear = nn.Linear(in_planes, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.pool(self.layers(out))
        return self.linear(out.flatten(start_dim=1))


def build_resnet18_reduced(
    spec: ResNet18ReducedSpec, input_shape: InputShape, n_outputs: int
) -> nn.Module:
    """The reduced ResNet-18 with `spec.nf` base filters (20 in GEM)."""
    channels, _, _ = _image_shape(input_shape, "resnet18_reduced")
    return ReducedResNet18(channels, n_outputs, spec.nf)


class CosineLinear(nn.Module):
    """A cosine classifier: logits = scale * cos(features, weight row of each class).

    Caccia et al.'s released code (github.com/pclucas14/AML, model.py: `distLinear`, from Chen
    et al.'s "A closer look at few-shot classification"): no bias, both the features and the
    weight rows divided by their L2 norm plus 1e-5, the gradient flowing through both norms,
    and a fixed scale (10 there). It holds the replaced layer's own weight Parameter, so the
    optimizer built over the model before the swap keeps updating it and checkpoints keep its
    state_dict key; the old bias gets no gradient any more, so no optimizer step moves it.
    """

    EPSILON = 1e-5

    def __init__(self, weight: nn.Parameter, scale: float, epsilon: float = EPSILON):
        super().__init__()
        self.weight = weight
        self.scale = scale
        self.epsilon = epsilon  # 0: the exact cosine (a zero row stays at 0, as F.normalize)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.scale * nn.functional.linear(self._unit(features), self._unit(self.weight))

    def _unit(self, rows: torch.Tensor) -> torch.Tensor:
        norms = rows.norm(dim=1, keepdim=True)
        if self.epsilon == 0:
            return rows / norms.clamp_min(1e-12)
        return rows / (norms + self.epsilon)

    def extra_repr(self) -> str:
        out_features, in_features = self.weight.shape
        return f"in_features={in_features}, out_features={out_features}, scale={self.scale}"


def use_cosine_head(
    model: nn.Module, n_outputs: int, scale: float, epsilon: float = CosineLinear.EPSILON
) -> CosineLinear:
    """Replaces the model's last `nn.Linear` (its output layer) by a `CosineLinear` over the
    same weight, in place, and returns it.

    Raises:
        ValueError: If the model has no `nn.Linear`, or its last one does not give `n_outputs`
            logits (so it is not the output layer).
    """
    linears = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("a cosine head needs a model whose output layer is an nn.Linear")
    name, linear = linears[-1]
    if linear.out_features != n_outputs:
        raise ValueError(
            f"a cosine head replaces the output layer, but the model's last nn.Linear "
            f"({name!r}) has {linear.out_features} outputs, not the benchmark's {n_outputs}"
        )
    parent, _, attribute = name.rpartition(".")
    head = CosineLinear(linear.weight, scale, epsilon)
    setattr(model.get_submodule(parent), attribute, head)
    return head


ModelBuilder = Callable[[Any, InputShape, int], nn.Module]
"""What a model spec's `implementation` names: (spec, input shape, n_outputs) -> module."""


def build_model(spec: Any, input_shape: InputShape | int, n_outputs: int) -> nn.Module:
    """Builds the model that `spec` (a model spec, built-in or plugin) names, on the CPU,
    initialised from torch's global RNG.

    The caller seeds torch first and then moves the model to its device, so that a CPU run and a
    CUDA run of one spec start from the same weights.

    Args:
        spec: The model part of a `RunSpec`.
        input_shape: Shape of one input, (C, H, W) or (D,); an int means (D,).
        n_outputs: Logits to produce (`Benchmark.n_outputs`).

    Raises:
        ImportError: If the spec's implementation cannot be imported on this worker.
        ValueError: If a convolutional model gets vector inputs.
    """
    builder: ModelBuilder = load_implementation(spec)
    shape = (input_shape,) if isinstance(input_shape, int) else tuple(input_shape)
    return builder(spec, shape, n_outputs)
