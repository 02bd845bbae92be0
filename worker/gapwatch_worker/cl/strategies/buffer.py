"""A replay memory filled by reservoir sampling, preallocated on the run's device."""

from __future__ import annotations

from typing import Any

import torch

# Below this ratio of stored samples to requested ones a full permutation is cheap; above it a
# permutation of a large buffer (10 ms for a million) would cost more than the update itself.
_PERMUTE_BELOW_RATIO = 64


class ReservoirBuffer:
    """Keeps a uniform random sample of every item ever added (Vitter's algorithm R).

    The item at stream position p (0-based) enters with probability capacity / (p + 1) and
    replaces a uniformly chosen slot, so after n items each one is stored with probability
    capacity / n whatever its position. All random draws come from one CPU generator: no device
    synchronisation, and the same slots on CPU and CUDA.

    Attributes:
        capacity: Number of slots.
        seen: Number of items added so far (the stream length).
    """

    def __init__(self, capacity: int, device: torch.device, generator: torch.Generator):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.device = device
        self.generator = generator
        self.seen = 0
        # Allocated at the first add, when the item shape is known; never reallocated.
        self.x: torch.Tensor | None = None
        self.y: torch.Tensor | None = None

    def __len__(self) -> int:
        return min(self.seen, self.capacity)

    def add(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Offers a batch to the reservoir, item by item in batch order."""
        n = x.shape[0]
        if self.x is None or self.y is None:
            self.x = torch.empty((self.capacity, *x.shape[1:]), dtype=x.dtype, device=self.device)
            self.y = torch.empty((self.capacity, *y.shape[1:]), dtype=y.dtype, device=self.device)
        positions = torch.arange(self.seen, self.seen + n, dtype=torch.int64)
        # float64 draws are exact enough for streams up to 2**53 items.
        draws = torch.rand(n, generator=self.generator, dtype=torch.float64)
        replaced = (draws * (positions + 1).to(torch.float64)).floor().to(torch.int64)
        slots = torch.where(positions < self.capacity, positions, replaced)
        sources = torch.nonzero(slots < self.capacity).flatten()
        slots = slots[sources]
        # Two items of one batch may draw the same slot; the later one overwrites, as it would
        # item by item. An indexed write with repeated indices is undefined on CUDA, so dedupe.
        order = torch.argsort(slots, stable=True)
        last_of_slot = torch.ones(len(order), dtype=torch.bool)
        last_of_slot[:-1] = slots[order[:-1]] != slots[order[1:]]
        keep = order[last_of_slot]
        self.seen += n
        if len(keep) == 0:
            return
        slot_index = slots[keep].to(self.device)
        source_index = sources[keep].to(x.device)
        self.x.index_copy_(0, slot_index, x.index_select(0, source_index).to(self.device))
        self.y.index_copy_(0, slot_index, y.index_select(0, source_index).to(self.device))

    def sample(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Draws min(size, len(self)) distinct stored items uniformly at random.

        Raises:
            ValueError: If the buffer is empty.
        """
        if self.x is None or self.y is None or len(self) == 0:
            raise ValueError("cannot sample from an empty buffer")
        index = distinct_indices(len(self), min(size, len(self)), self.generator).to(self.device)
        return self.x[index], self.y[index]

    def state_dict(self) -> dict[str, Any]:
        """Contents, stream length and generator state, for checkpoints."""
        return {"x": self.x, "y": self.y, "seen": self.seen, "rng": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what `state_dict` returned, moving the contents to this buffer's device."""
        self.x = None if state["x"] is None else state["x"].to(self.device)
        self.y = None if state["y"] is None else state["y"].to(self.device)
        self.seen = int(state["seen"])
        self.generator.set_state(state["rng"])


def distinct_indices(n: int, k: int, generator: torch.Generator) -> torch.Tensor:
    """A uniformly random set of k distinct integers in [0, n), as a CPU int64 tensor.

    Both branches treat all labels alike, so the set they return is uniform over k-subsets.
    """
    if n <= _PERMUTE_BELOW_RATIO * k:
        return torch.randperm(n, generator=generator)[:k]
    # Sparse case: collisions are rare (about k / 128 expected), so this redraws once or twice.
    index = torch.randint(n, (k,), generator=generator)
    while True:
        sorted_index, order = torch.sort(index, stable=True)
        repeated = torch.zeros(k, dtype=torch.bool)
        repeated[order[1:]] = sorted_index[1:] == sorted_index[:-1]
        n_repeated = int(repeated.sum())
        if n_repeated == 0:
            return index
        index[repeated] = torch.randint(n, (n_repeated,), generator=generator)
