"""Training batches by seeded index permutations over a task's preloaded tensors."""

from __future__ import annotations

from typing import Any

import torch

from .benchmarks.base import TaskData


class TaskBatchSampler:
    """Batches of one task, in seeded random permutations, a new one each epoch.

    By default every batch is full: a batch that crosses an epoch's end is completed from the
    next permutation, so n batches cover n * batch_size samples. Online (`online=True`,
    `training.online`), a task is one pass over its train split, every sample exactly once, in
    one seeded order, as in the online streams of loss-of-plasticity studies (Dohare et al.,
    Nature 2024; Elsayed & Mahmood, ICLR 2024): the pass's last batch holds what is left
    (n_train % batch_size rows when that is not 0) and is not completed from the next pass.
    The loop takes ceil(n_train / batch_size) batches (`TrainingSpec.updates_per_task`); a
    further batch would start a new pass from a new permutation.

    Both draw the same permutations from the same generator, so the first pass's batches are
    the same either way, up to the last one. The permutation, the position in it and the
    generator are the sampler's whole state: a checkpoint restores them and the next batch is
    the one an uninterrupted run would have drawn.
    """

    def __init__(
        self,
        task: TaskData,
        batch_size: int,
        generator: torch.Generator,
        *,
        online: bool = False,
    ) -> None:
        self.task = task
        self.batch_size = batch_size
        self.generator = generator
        self.online = online
        self._n = len(task.train_y)
        self._device = task.train_y.device
        self.permutation = self._new_permutation()
        self.position = 0

    def _new_permutation(self) -> torch.Tensor:
        # Drawn on the CPU generator, so CPU and CUDA runs see the same batches.
        return torch.randperm(self._n, generator=self.generator).to(self._device, non_blocking=True)

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next (inputs, targets) batch; online, a batch never runs into the next pass
        (the last one of a pass is smaller)."""
        parts = []
        needed = self.batch_size
        while needed > 0:
            if self.position == self._n:
                self.permutation = self._new_permutation()
                self.position = 0
            take = min(needed, self._n - self.position)
            parts.append(self.permutation[self.position : self.position + take])
            self.position += take
            needed -= take
            if self.online:
                break
        index = parts[0] if len(parts) == 1 else torch.cat(parts)
        return self.task.train_x[index], self.task.train_y[index]

    def state_dict(self) -> dict[str, Any]:
        return {
            "permutation": self.permutation.cpu(),
            "position": self.position,
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.permutation = state["permutation"].to(self._device)
        self.position = int(state["position"])
        self.generator.set_state(state["generator"])
