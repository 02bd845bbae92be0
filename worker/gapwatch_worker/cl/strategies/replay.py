"""What the replay strategies (ER, ER-ACE, DER/DER++) share: a memory and its checkpoint."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gapwatch.components import ReplayOptions, TrainingSpec

from .base import BuildContext, Strategy
from .buffer import ReplayBuffer, ReservoirBuffer


class ReplayStrategy(Strategy):
    """A strategy that replays rows from a memory; the memory is its state to checkpoint.

    Attributes:
        buffer: The replay memory.
        replay_batch_size: Replayed rows per draw.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        device: torch.device,
        buffer: ReplayBuffer,
        replay_batch_size: int,
        *,
        units_table: torch.Tensor | None = None,
    ):
        super().__init__(model, optimizer, device, units_table=units_table)
        self.buffer = buffer
        self.replay_batch_size = replay_batch_size

    def state_dict(self) -> dict[str, Any]:
        """The memory's rows and its generator state."""
        return {"buffer": self.buffer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores the memory."""
        self.buffer.load_state_dict(state["buffer"])


def reservoir_for(spec: ReplayOptions, ctx: BuildContext) -> ReservoirBuffer:
    """A reservoir of spec.buffer_size rows on the context's device, with the strategy's own
    seeded generator (stream "<name>/buffer")."""
    return ReservoirBuffer(spec.buffer_size, ctx.device, ctx.generator(f"{spec.name}/buffer"))


def replay_batch_size(spec: ReplayOptions, training: TrainingSpec) -> int:
    """Replayed rows per draw: the spec's, else the training batch size."""
    return spec.replay_batch_size or training.batch_size
