"""Models by spec name. Each maps a batch of inputs to logits over all classes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from gapwatch.spec import MLPSpec, ModelSpec


def build_mlp(spec: MLPSpec, input_dim: int, n_classes: int) -> nn.Module:
    """A fully connected ReLU network with one head over all classes.

    Args:
        spec: Hidden layer widths.
        input_dim: Number of input features; inputs of any shape are flattened first.
        n_classes: Number of logits.
    """
    layers: list[nn.Module] = [nn.Flatten()]
    width = input_dim
    for hidden in spec.hidden_sizes:
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    layers.append(nn.Linear(width, n_classes))
    return nn.Sequential(*layers)


ModelBuilder = Callable[[Any, int, int], nn.Module]

MODELS: dict[str, ModelBuilder] = {
    "mlp": build_mlp,
}


def build_model(spec: ModelSpec, input_dim: int, n_classes: int) -> nn.Module:
    """Builds the model that `spec` names, on the CPU, initialised from torch's global RNG.

    The caller seeds torch first and then moves the model to its device, so that a CPU run and a
    CUDA run of one spec start from the same weights.

    Raises:
        ValueError: If no model has that name.
    """
    try:
        builder = MODELS[spec.name]
    except KeyError:
        raise ValueError(f"unknown model {spec.name!r}; known: {sorted(MODELS)}") from None
    return builder(spec, input_dim, n_classes)
