"""Continual backpropagation (Dohare et al., Nature 2024): SGD plus generate-and-test."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from gapwatch.components import CBPSpec
from gapwatch.torch.diagnostics import ACTIVATIONS, unit_activity

from .base import BuildContext, Strategy

WEIGHT_LAYERS = (nn.Linear, nn.Conv2d)
# Modules that may sit between a hidden layer's activation and the next weight layer: they
# neither mix units (channels) nor hold weights of their own.
PASSTHROUGH = (nn.MaxPool2d, nn.AvgPool2d, nn.Flatten, nn.Dropout, nn.Identity)


@dataclass
class HiddenLayer:
    """One hidden layer of a sequential network, as generate-and-test sees it.

    Attributes:
        incoming: The Linear or Conv2d whose output units (channels) are the layer's units.
        activation: The activation module after it, whose output is the unit's activity h.
        outgoing: The next weight layer, which reads the units.
        columns_per_unit: For a convolution read by a Linear through Flatten: the input
            columns of `outgoing` per channel (H * W); 1 otherwise.
    """

    incoming: nn.Linear | nn.Conv2d
    activation: nn.Module
    outgoing: nn.Linear | nn.Conv2d
    columns_per_unit: int = 1

    @property
    def n_units(self) -> int:
        layer = self.incoming
        return layer.out_features if isinstance(layer, nn.Linear) else layer.out_channels

    def outgoing_magnitude(self) -> torch.Tensor:
        """Per unit, the sum of |w| over the outgoing weights that read it."""
        w = self.outgoing.weight.detach().abs()
        if isinstance(self.outgoing, nn.Conv2d):
            return w.sum(dim=(0, 2, 3))
        per_column = w.sum(dim=0)
        return per_column.view(self.n_units, self.columns_per_unit).sum(dim=1)

    def outgoing_columns(self, units: torch.Tensor) -> torch.Tensor:
        """The input columns (channels) of `outgoing` that read `units`."""
        if self.columns_per_unit == 1:
            return units
        offsets = torch.arange(self.columns_per_unit, device=units.device)
        return (units[:, None] * self.columns_per_unit + offsets).reshape(-1)


def hidden_layers(model: nn.Module) -> list[HiddenLayer]:
    """The hidden layers of a sequential chain of Linear/Conv2d layers and activations.

    Raises:
        ValueError: If the model is not such a chain (e.g. the reduced ResNet-18, or layers
            with normalisation between them), naming the model.
    """
    name = type(model).__name__
    if not isinstance(model, nn.Sequential):
        raise ValueError(
            f"cbp needs a sequential chain of Linear/Conv2d layers and activations (the mlp "
            f"and cnn models); model {name} is not one"
        )
    modules = list(model.children())
    weight_indices = [i for i, m in enumerate(modules) if isinstance(m, WEIGHT_LAYERS)]
    layers: list[HiddenLayer] = []
    for position, index in enumerate(weight_indices[:-1]):
        following = weight_indices[position + 1]
        between = modules[index + 1 : following]
        activations = [m for m in between if isinstance(m, ACTIVATIONS)]
        others = [
            m for m in between if not isinstance(m, ACTIVATIONS) and not isinstance(m, PASSTHROUGH)
        ]
        if len(activations) != 1 or others:
            found = ", ".join(type(m).__name__ for m in between) or "nothing"
            raise ValueError(
                f"cbp needs exactly one activation and only pooling/flatten/dropout between "
                f"weight layers; model {name} has {found} after layer {index}"
            )
        incoming, outgoing = modules[index], modules[following]
        layer = HiddenLayer(incoming, activations[0], outgoing)  # type: ignore[arg-type]
        if isinstance(incoming, nn.Conv2d) and isinstance(outgoing, nn.Linear):
            if outgoing.in_features % incoming.out_channels:
                raise ValueError(f"model {name}: cannot map layer {following}'s inputs to channels")
            layer.columns_per_unit = outgoing.in_features // incoming.out_channels
        elif isinstance(incoming, nn.Linear) and isinstance(outgoing, nn.Conv2d):
            raise ValueError(f"model {name}: a Linear layer read by a Conv2d is not supported")
        if incoming.bias is None:
            raise ValueError(f"model {name}: cbp needs biases on the hidden layers")
        layers.append(layer)
    if not layers:
        raise ValueError(f"cbp needs at least one hidden layer; model {name} has none")
    return layers


class ContinualBackprop(Strategy):
    """One cross-entropy update on the current batch (as finetune), then generate-and-test.

    Dohare, Hernandez-Garcia, Lan, Rahman, Mahmood & Sutton, "Loss of plasticity in deep
    continual learning" (Nature 2024), Algorithm 1; released code
    github.com/shibhansh/loss-of-plasticity, lop/algos/gnt.py (and cbp_linear.py, cbp_conv.py).
    After every update, for each hidden layer:

    - every unit ages by one, and its contribution utility is updated,
      u <- decay * u + (1 - decay) * mean_batch |h| * sum_k |w_out,k|
      (for a convolution, |h| is averaged over the batch and the positions, and the sum runs
      over every outgoing weight that reads the channel); the ranking uses the Adam-style
      bias-corrected u / (1 - decay^age), as gnt.py does (gnt.py averages |w_out| instead of
      summing it: a factor constant within a layer, which changes no ranking);
    - replacement_rate * (number of mature units, age > maturity_threshold) is added to an
      accumulator; its whole part is the number of units replaced now (cbp_linear.py's
      accumulation), the mature ones of lowest corrected utility;
    - a replaced unit's incoming weights are drawn again from torch's default initialisation of
      the layer, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (gnt.py's `init='default'` bound, and the
      bound cbp_conv.py uses for convolutions), its bias is set to 0 and its outgoing weights
      to 0 (so the network's function is unchanged but for the bias the unit fed forward),
      and its utility and age to 0. The optimizer's state for those weights (momentum,
      Adam's moments, UPGD's utility: any per-weight state tensor) is zeroed, as gnt.py does
      for Adam. gnt.py also adds the unit's mean contribution to the next layer's bias, but it
      zeroes that mean before reading it, so its correction adds nothing; cbp_linear.py has
      none; neither is done here.

    Activities are captured by forward hooks on the activation modules, only during the
    training forward of `observe` (evaluation forwards are not recorded). Utilities, ages,
    accumulators, replacement counts and the generator's state are in `state_dict`.

    Attributes:
        layers: The hidden layers.
        utility, age: Per hidden layer, per unit.
        accumulated: Per hidden layer, the fractional units due.
        replaced: Per hidden layer, the units replaced so far.
        last_replaced: Per hidden layer, the units replaced by the latest update.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        device: torch.device,
        generator: torch.Generator,
        *,
        replacement_rate: float = 1e-4,
        decay_rate: float = 0.99,
        maturity_threshold: int = 100,
        units_table: torch.Tensor | None = None,
    ):
        super().__init__(model, optimizer, device, units_table=units_table)
        self.layers = hidden_layers(model)
        self.generator = generator
        self.replacement_rate = replacement_rate
        self.decay_rate = decay_rate
        self.maturity_threshold = maturity_threshold
        self.utility = [torch.zeros(layer.n_units, device=device) for layer in self.layers]
        self.age = [
            torch.zeros(layer.n_units, dtype=torch.int64, device=device) for layer in self.layers
        ]
        self.accumulated = [0.0 for _ in self.layers]
        self.replaced = [0 for _ in self.layers]
        # Host bookkeeping of maturity, so that no update waits for the device: every unit ages
        # by one per update, so after t updates the immature units (age <= maturity) are
        # exactly those replaced in the last `maturity_threshold` updates (none are mature
        # before t > maturity). Per layer: (update, units replaced then), oldest first.
        self.updates = 0
        self.recent: list[deque[tuple[int, int]]] = [deque() for _ in self.layers]
        self.last_replaced = [torch.empty(0, dtype=torch.int64, device=device) for _ in self.layers]
        self._capturing = False
        self._features: list[torch.Tensor | None] = [None for _ in self.layers]
        for i, layer in enumerate(self.layers):
            layer.activation.register_forward_hook(self._capture_hook(i))

    @classmethod
    def from_spec(cls, spec: CBPSpec, ctx: BuildContext) -> ContinualBackprop:
        """Builds continual backprop with the generator of stream "cbp"."""
        return cls(
            ctx.model,
            ctx.optimizer,
            ctx.device,
            ctx.generator("cbp"),
            replacement_rate=spec.replacement_rate,
            decay_rate=spec.decay_rate,
            maturity_threshold=spec.maturity_threshold,
            units_table=ctx.units_table,
        )

    def _capture_hook(self, index: int) -> Any:
        def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
            if self._capturing:
                self._features[index] = output.detach()

        return hook

    def observe(self, x: torch.Tensor, y: torch.Tensor, task_id: int) -> torch.Tensor:
        """One cross-entropy update, then generate-and-test on this batch's activities."""
        self._capturing = True
        try:
            logits = self.logits(x, task_id)
        finally:
            self._capturing = False
        loss = self.update(nn.functional.cross_entropy(logits, y))
        self.generate_and_test()
        return loss

    @torch.no_grad()
    def generate_and_test(self) -> None:
        """Updates utilities and ages from the captured activities and replaces the due
        units of each hidden layer."""
        self.updates += 1
        for i, layer in enumerate(self.layers):
            features = self._features[i]
            self._features[i] = None
            if features is None:
                raise RuntimeError("cbp: no activity was captured for a hidden layer")
            self.age[i] += 1
            contribution = unit_activity(features) * layer.outgoing_magnitude()
            self.utility[i].mul_(self.decay_rate).add_(contribution, alpha=1 - self.decay_rate)
            self.last_replaced[i] = self._replace(i, layer)

    def _replace(self, i: int, layer: HiddenLayer) -> torch.Tensor:
        none = torch.empty(0, dtype=torch.int64, device=self.device)
        if self.replacement_rate == 0:
            return none
        n_eligible = self._mature_units(i, layer.n_units)
        if n_eligible == 0:
            return none
        self.accumulated[i] += self.replacement_rate * n_eligible
        n = min(int(self.accumulated[i]), n_eligible)
        if n == 0:
            return none
        self.accumulated[i] -= n
        self.recent[i].append((self.updates, n))
        # The n mature units of lowest bias-corrected utility; immature ones ranked last (+inf)
        # instead of being filtered out, which would make the host wait for their count.
        age = self.age[i]
        correction = 1 - self.decay_rate ** age.double()
        corrected = (self.utility[i].double() / correction).float()
        mature = age > self.maturity_threshold
        corrected = torch.where(mature, corrected, torch.full_like(corrected, math.inf))
        units = torch.topk(-corrected, n).indices
        self._reinitialise(layer, units)
        self.utility[i][units] = 0
        self.age[i][units] = 0
        self.replaced[i] += n
        return units

    def _mature_units(self, i: int, n_units: int) -> int:
        """How many units of layer i are mature now (age > maturity_threshold), from the host
        bookkeeping: all but those replaced in the last maturity_threshold updates."""
        if self.updates <= self.maturity_threshold:
            return 0
        recent = self.recent[i]
        while recent and self.updates - recent[0][0] > self.maturity_threshold:
            recent.popleft()
        return n_units - sum(count for _, count in recent)

    def _reinitialise(self, layer: HiddenLayer, units: torch.Tensor) -> None:
        incoming, outgoing = layer.incoming, layer.outgoing
        fan_in = math.prod(incoming.weight.shape[1:])
        bound = 1 / math.sqrt(fan_in)
        shape = (len(units), *incoming.weight.shape[1:])
        fresh = torch.empty(shape).uniform_(-bound, bound, generator=self.generator)
        incoming.weight[units] = fresh.to(incoming.weight)
        assert incoming.bias is not None
        incoming.bias[units] = 0
        columns = layer.outgoing_columns(units)
        outgoing.weight[:, columns] = 0
        self._zero_optimizer_state(incoming.weight, units, rows=True)
        self._zero_optimizer_state(incoming.bias, units, rows=True)
        self._zero_optimizer_state(outgoing.weight, columns, rows=False)

    def _zero_optimizer_state(self, param: torch.Tensor, index: torch.Tensor, rows: bool) -> None:
        """Zeroes the reset weights' entries of every per-weight state tensor of `param`."""
        for value in self.optimizer.state.get(param, {}).values():
            if isinstance(value, torch.Tensor) and value.shape == param.shape:
                if rows:
                    value[index] = 0
                else:
                    value[:, index] = 0

    def state_dict(self) -> dict[str, Any]:
        """Utilities, ages, accumulators, replacement counts and the generator's state."""
        return {
            "utility": self.utility,
            "age": self.age,
            "accumulated": list(self.accumulated),
            "replaced": list(self.replaced),
            "updates": self.updates,
            "recent": [list(r) for r in self.recent],
            "rng": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what `state_dict` returned, on this strategy's device."""
        self.utility = [u.to(self.device).clone() for u in state["utility"]]
        self.age = [a.to(self.device).clone() for a in state["age"]]
        self.accumulated = [float(a) for a in state["accumulated"]]
        self.replaced = [int(r) for r in state["replaced"]]
        self.updates = int(state["updates"])
        self.recent = [deque((int(u), int(n)) for u, n in r) for r in state["recent"]]
        self.generator.set_state(state["rng"])
