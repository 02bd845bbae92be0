"""Stability-gap mitigations that compose with any replay strategy (every spec deriving from
`ReplayOptions`, plugins' included): applied by `build_strategy` around the built strategy, so
a plugin gets them without code of its own.

- head_init "mean_embedding": Harun & Kanan, "Overcoming the Stability Gap in Continual
  Learning" (TMLR 2024, arXiv 2306.01904), data-driven weight initialisation. As their released
  code does (github.com/yousuf907/SGM, model_sgm.py: SModel.init_new_weights): the network in
  eval mode and without gradients embeds every training sample of the new task (the embedding
  is the output layer's input), each embedding is scaled to unit L2 length, and the weight row
  of each class new in the task becomes the mean of its samples' unit embeddings, not rescaled;
  the bias is left as it is.
- freeze_old_heads: their "old output class freezing" (model_sgm.py: freeze_linear_params on
  the old classes' rows, partial_freeze.py). They zero those rows' gradients with a tensor
  hook, which AdamW's decoupled weight decay (and any momentum) still moves; here the rows are
  written back after every optimizer step, so they stay bit-identical whatever the optimizer.
- soft_targets s: each new row's target is (1 - s) * one-hot + s spread evenly over the classes
  seen so far that its logits do not mask. This is label smoothing restricted to the seen
  classes, a static stand-in for the paper's dynamic soft targets (model_sgm.py:
  soft_cross_entropy builds them from running means of the model's own softmax outputs).
- lora_rank r: LoRA (Hu et al., ICLR 2022): h = W x + b + (alpha / r) B A x with B zero and A
  random at the start, alpha = r. Harun & Kanan train only the adapters and the output layer
  (model_sgm.py: lora.mark_only_lora_as_trainable, then the head's weight and bias); here from
  the second task on, so the first task learns the backbone itself.

The mitigation state (the task begun last, the classes seen, the frozen rows' values) goes
through the strategy's `state_dict`, so a resumed run continues bit-exactly.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from gapwatch.components import ReplayOptions

from ..benchmarks.base import TaskData
from ..benchmarks.scenarios import DOMAIN_INCREMENTAL, MASK_VALUE
from .base import BuildContext, Strategy

STATE_KEY = "mitigations"
EMBED_CHUNK = 1024  # rows per forward pass when embedding a task's train set


def output_layer(model: nn.Module, n_outputs: int) -> nn.Module:
    """The model's output layer: the last module, in `model.modules()` order, that holds a 2-D
    `weight` parameter of `n_outputs` rows (an `nn.Linear` or a cosine head on its weight).

    Raises:
        ValueError: If there is none.
    """
    found = None
    for module in model.modules():
        weight = getattr(module, "weight", None)
        if isinstance(weight, nn.Parameter) and weight.dim() == 2:
            if weight.shape[0] == n_outputs:
                found = module
    if found is None:
        raise ValueError(
            f"the stability-gap mitigations need an output layer with a (n_outputs, features) "
            f"weight; the model has no module with a 2-D weight of {n_outputs} rows"
        )
    return found


def embeddings(model: nn.Module, head: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The inputs of `head` (flattened per row) when `model` runs on `x`, in eval mode and
    without gradients, in chunks; the model's train/eval mode is restored after."""
    captured: list[torch.Tensor] = []

    def capture(_module: nn.Module, args: tuple[Any, ...]) -> None:
        captured.append(args[0].detach().flatten(1))

    handle = head.register_forward_pre_hook(capture)
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            for chunk in x.split(EMBED_CHUNK):
                model(chunk)
    finally:
        handle.remove()
        model.train(was_training)
    return torch.cat(captured)


def mean_unit_embeddings(
    features: torch.Tensor, y: torch.Tensor, classes: torch.Tensor
) -> torch.Tensor:
    """Row i: the mean of the unit-length rows of `features` whose target is classes[i]."""
    unit = nn.functional.normalize(features, dim=1)
    return torch.stack([unit[y == c].mean(0) for c in classes.tolist()])


class Mitigations:
    """The stability-gap mitigations of one strategy (see the module docstring).

    Attributes:
        head: The model's output layer.
        task: The task begun last (-1 before the first).
        seen: Bool (n_outputs,) on the device: output units of the tasks begun so far.
        frozen: Output units whose rows are frozen now (empty when none).
        adapters: The LoRA parameters, (A, B) per adapted layer, in module order.
    """

    def __init__(self, spec: ReplayOptions, ctx: BuildContext):
        self.model = ctx.model
        self.optimizer = ctx.optimizer
        self.device = ctx.device
        self.head = output_layer(ctx.model, ctx.benchmark.n_outputs)
        self.head_init = spec.head_init == "mean_embedding"
        self.freeze_old_heads = spec.freeze_old_heads
        self.soft_targets = spec.soft_targets
        self.lora_rank = spec.lora_rank
        self.task = -1
        self.seen = torch.zeros(ctx.benchmark.n_outputs, dtype=torch.bool, device=ctx.device)
        # Each task's output units: the targets of its train rows.
        self.units = [torch.unique(t.train_y).to(ctx.device) for t in ctx.benchmark.tasks]
        self.frozen = torch.zeros(0, dtype=torch.int64, device=ctx.device)
        self.frozen_weight: torch.Tensor | None = None
        self.frozen_bias: torch.Tensor | None = None
        self.adapters: list[tuple[nn.Parameter, nn.Parameter]] = []
        self._handles: list[RemovableHandle] = []
        if self.freeze_old_heads:
            if ctx.benchmark.scenario == DOMAIN_INCREMENTAL:
                raise ValueError(
                    "freeze_old_heads applies to class- and task-incremental runs: in a "
                    "domain-incremental run every task shares one head, so every output row "
                    "would be frozen from the second task on"
                )
            self._handles.append(self.optimizer.register_step_post_hook(self._restore_frozen))
        if self.lora_rank is not None:
            self._add_adapters(self.lora_rank, ctx.generator("lora"))

    # --- LoRA ----------------------------------------------------------------------------------

    def _add_adapters(self, rank: int, generator: torch.Generator) -> None:
        """Registers lora_A (rank x in, Gaussian of std 1/sqrt(in)) and lora_B (out x rank,
        zero) on every hidden `nn.Linear`, a forward hook adding B A x to its output, and the
        adapters as a new optimizer group (the optimizer's defaults)."""
        for name, module in self.model.named_modules():
            if not isinstance(module, nn.Linear) or module is self.head:
                continue
            if hasattr(module, "lora_A"):
                raise ValueError(f"layer {name!r} already has LoRA adapters")
            weight = module.weight
            a = torch.randn(rank, module.in_features, generator=generator)
            a = (a / math.sqrt(module.in_features)).to(weight.device, weight.dtype)
            b = torch.zeros(module.out_features, rank, device=weight.device, dtype=weight.dtype)
            lora_a, lora_b = nn.Parameter(a, requires_grad=False), nn.Parameter(b)
            lora_b.requires_grad_(False)
            module.register_parameter("lora_A", lora_a)
            module.register_parameter("lora_B", lora_b)
            self._handles.append(module.register_forward_hook(self._adapt))
            self.adapters.append((lora_a, lora_b))
        if not self.adapters:
            raise ValueError(
                "lora_rank needs hidden nn.Linear layers to adapt; this model has none besides "
                "its output layer"
            )
        self.optimizer.add_param_group({"params": [p for pair in self.adapters for p in pair]})

    def _adapt(self, module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> Any:
        if self.task < 1:  # no adapters during the first task: B is still zero
            return None
        low_rank = nn.functional.linear(args[0], module.lora_A)
        return output + nn.functional.linear(low_rank, module.lora_B)

    def _set_trainable(self) -> None:
        """From the second task on, only the adapters and the output layer train."""
        if self.lora_rank is None:
            return
        adapting = self.task >= 1
        adapter_ids = {id(p) for pair in self.adapters for p in pair}
        head_ids = {id(p) for p in self.head.parameters()}
        for p in self.model.parameters():
            if id(p) in adapter_ids:
                p.requires_grad_(adapting)
            elif id(p) not in head_ids:
                p.requires_grad_(not adapting)

    # --- frozen old heads -----------------------------------------------------------------------

    def _restore_frozen(self, *_: Any) -> None:
        """Optimizer step post-hook: writes the frozen rows' values back."""
        if self.frozen_weight is None:
            return
        with torch.no_grad():
            self.head.weight[self.frozen] = self.frozen_weight
            bias = getattr(self.head, "bias", None)
            if self.frozen_bias is not None and bias is not None:
                bias[self.frozen] = self.frozen_bias

    def _freeze(self, units: torch.Tensor) -> None:
        self.frozen = units
        self.frozen_weight = self.head.weight.detach()[units].clone()
        bias = getattr(self.head, "bias", None)
        self.frozen_bias = None if bias is None else bias.detach()[units].clone()

    # --- the strategy's events ------------------------------------------------------------------

    def begin_task(self, task_id: int, task_data: TaskData) -> None:
        """Initialises new classes' rows, freezes earlier tasks' rows, switches to adapters. A
        second call for the task in progress (a resumed loop) changes nothing."""
        if task_id == self.task:
            return
        self.task = task_id
        earlier = torch.zeros_like(self.seen)
        for units in self.units[:task_id]:
            earlier[units] = True
        self.seen |= earlier
        self.seen[self.units[task_id]] = True
        if self.head_init:
            units = self.units[task_id]
            new = units[~earlier[units]]
            if len(new):
                features = embeddings(self.model, self.head, task_data.train_x)
                rows = mean_unit_embeddings(features, task_data.train_y, new)
                with torch.no_grad():
                    self.head.weight[new] = rows.to(self.head.weight.dtype)
        if self.freeze_old_heads and task_id >= 1:
            self._freeze(earlier.nonzero().flatten())
        self._set_trainable()

    def cross_entropy(self, logits: torch.Tensor, y: torch.Tensor, n_new: int) -> torch.Tensor:
        """Mean cross-entropy of `logits` against `y`, the first `n_new` rows (the new ones)
        against soft targets: (1 - s) * one-hot + s spread evenly over the seen classes that
        their logits leave unmasked (the target's own class included)."""
        if not self.soft_targets:
            return nn.functional.cross_entropy(logits, y)
        s = self.soft_targets
        targets = nn.functional.one_hot(y, logits.shape[1]).to(logits.dtype)
        allowed = (self.seen & (logits[:n_new] > MASK_VALUE / 2)).to(logits.dtype)
        spread = allowed / allowed.sum(1, keepdim=True)
        targets[:n_new] = (1 - s) * targets[:n_new] + s * spread
        return nn.functional.cross_entropy(logits, targets)

    def state_dict(self) -> dict[str, Any]:
        """The task begun last, the classes seen and the frozen rows with their values."""
        return {
            "task": self.task,
            "seen": self.seen,
            "frozen": self.frozen,
            "frozen_weight": self.frozen_weight,
            "frozen_bias": self.frozen_bias,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what `state_dict` returned, and which parameters train."""
        self.task = int(state["task"])
        self.seen = state["seen"].to(self.device).clone()
        self.frozen = state["frozen"].to(self.device).clone()
        self.frozen_weight, self.frozen_bias = (
            None if t is None else t.to(self.device).clone()
            for t in (state["frozen_weight"], state["frozen_bias"])
        )
        self._set_trainable()


def wanted(spec: Any) -> bool:
    """True if `spec` is a replay spec asking for any mitigation."""
    return isinstance(spec, ReplayOptions) and (
        spec.head_init != "default"
        or spec.freeze_old_heads
        or spec.soft_targets > 0
        or spec.lora_rank is not None
    )


def attach_mitigations(strategy: Strategy, spec: ReplayOptions, ctx: BuildContext) -> None:
    """Applies the spec's mitigations around a built strategy: its `begin_task` runs theirs
    first, its `state_dict` carries theirs under "mitigations", and its `cross_entropy` helper
    uses the soft targets. Instance attributes wrap the strategy's own methods, so subclasses
    (plugins) need no code for it."""
    mitigations = Mitigations(spec, ctx)
    strategy.mitigations = mitigations
    own_begin, own_state, own_load = (
        strategy.begin_task,
        strategy.state_dict,
        strategy.load_state_dict,
    )

    def begin_task(task_id: int, task_data: TaskData) -> None:
        mitigations.begin_task(task_id, task_data)
        own_begin(task_id, task_data)

    def state_dict() -> dict[str, Any]:
        return {**own_state(), STATE_KEY: mitigations.state_dict()}

    def load_state_dict(state: dict[str, Any]) -> None:
        own_load({k: v for k, v in state.items() if k != STATE_KEY})
        mitigations.load_state_dict(state[STATE_KEY])

    strategy.begin_task = begin_task  # type: ignore[method-assign]
    strategy.state_dict = state_dict  # type: ignore[method-assign]
    strategy.load_state_dict = load_state_dict  # type: ignore[method-assign]
