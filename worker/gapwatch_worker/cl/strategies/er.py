"""Experience replay: every update mixes the new batch with one drawn from a reservoir buffer."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gapwatch.spec import ERSpec, TrainingSpec

from ..seeding import make_generator
from .base import Strategy
from .buffer import ReservoirBuffer


class ExperienceReplay(Strategy):
    """ER with a reservoir buffer (Chaudhry et al. 2019; mammoth's `er`).

    Attributes:
        buffer: The replay memory, a uniform sample of every training sample seen so far.
        replay_batch_size: Replayed samples per update.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        device: torch.device,
        buffer: ReservoirBuffer,
        replay_batch_size: int,
    ):
        super().__init__(model, optimizer, device)
        self.buffer = buffer
        self.replay_batch_size = replay_batch_size

    @classmethod
    def from_spec(
        cls,
        spec: ERSpec,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        training: TrainingSpec,
        device: torch.device,
        seed: int,
    ) -> ExperienceReplay:
        """Builds ER; the replay batch defaults to the training batch size."""
        buffer = ReservoirBuffer(spec.buffer_size, device, make_generator(seed, "er/buffer"))
        return cls(model, optimizer, device, buffer, spec.replay_batch_size or training.batch_size)

    def observe(self, x: torch.Tensor, y: torch.Tensor, task_id: int) -> torch.Tensor:
        """One update on the new batch plus a replayed one, then offers the new batch to memory."""
        inputs, labels = x, y
        if len(self.buffer) > 0:
            replay_x, replay_y = self.buffer.sample(self.replay_batch_size)
            inputs, labels = torch.cat([x, replay_x]), torch.cat([y, replay_y])
        loss = self.cross_entropy_step(inputs, labels)
        # After the step, so that a sample is never replayed in the update that first sees it.
        self.buffer.add(x, y)
        return loss

    def state_dict(self) -> dict[str, Any]:
        """The buffer's contents and generator state."""
        return {"buffer": self.buffer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores the buffer."""
        self.buffer.load_state_dict(state["buffer"])
