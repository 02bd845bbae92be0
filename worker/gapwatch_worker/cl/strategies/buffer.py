"""Replay memories, preallocated on the run's device, that never make the device wait.

A memory stores rows of several aligned tensors (inputs, targets, task ids and, for DER, logits).
Which slot a row goes to is decided either on the CPU from a CPU generator (reservoir) or by
fixed-shape tensor operations on the device (class-balanced): no decision reads a device value
back to the host, so on CUDA an update never waits for the one before it.
"""

from __future__ import annotations

from typing import Any

import torch

# Below this ratio of stored samples to requested ones a full permutation is cheap; above it a
# permutation of a large buffer (10 ms for a million) would cost more than the update itself.
_PERMUTE_BELOW_RATIO = 64


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Copies a small CPU tensor (indices, draws) to `device` without a stream synchronisation.

    A blocking host-to-device copy makes the host wait for every queued kernel. From pageable
    memory a non-blocking copy is staged before the call returns, so the source may be freed.
    """
    return tensor.to(device, non_blocking=True)


class ReplayBuffer:
    """Rows of aligned tensors in `capacity` slots; subclasses decide which slots new rows take.

    Attributes:
        capacity: Number of slots.
        seen: Number of rows offered so far (the stream length).
        items: The stored tensors, allocated at the first `add` when the row shapes are known and
            never reallocated; the valid rows are the first `len(self)`.
    """

    # Extra rows allocated after the `capacity` slots (a scratch row for discarded writes).
    _spare_rows = 0

    def __init__(self, capacity: int, device: torch.device, generator: torch.Generator):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.device = device
        self.generator = generator
        self.seen = 0
        self.items: list[torch.Tensor] | None = None

    def __len__(self) -> int:
        return min(self.seen, self.capacity)

    def add(self, *rows: torch.Tensor) -> None:
        """Offers a batch: one tensor per stored field, all with the same first dimension."""
        raise NotImplementedError

    def sample(self, size: int) -> tuple[torch.Tensor, ...]:
        """Draws min(size, len(self)) distinct stored rows uniformly at random, every field.

        Raises:
            ValueError: If the buffer is empty.
        """
        if self.items is None or len(self) == 0:
            raise ValueError("cannot sample from an empty buffer")
        index = distinct_indices(len(self), min(size, len(self)), self.generator)
        index = to_device(index, self.device)
        return tuple(item[index] for item in self.items)

    def _allocate(self, rows: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
        if self.items is None:
            if not rows or any(len(r) != len(rows[0]) for r in rows):
                raise ValueError("add needs at least one tensor, all with the same length")
            n_rows = self.capacity + self._spare_rows
            self.items = [
                torch.empty((n_rows, *r.shape[1:]), dtype=r.dtype, device=self.device) for r in rows
            ]
        if len(rows) != len(self.items):
            raise ValueError(f"this buffer stores {len(self.items)} fields, got {len(rows)}")
        return self.items

    def state_dict(self) -> dict[str, Any]:
        """Contents, stream length and generator state, for checkpoints.

        The contents are returned by reference: save them before the next `add`.
        """
        return {"items": self.items, "seen": self.seen, "rng": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what `state_dict` returned, moving the contents to this buffer's device."""
        items = state["items"]
        self.items = None if items is None else [item.to(self.device).clone() for item in items]
        self.seen = int(state["seen"])
        self.generator.set_state(state["rng"])


class ReservoirBuffer(ReplayBuffer):
    """Keeps a uniform random sample of every row ever added (Vitter's algorithm R).

    The row at stream position p (0-based) enters with probability capacity / (p + 1) and
    replaces a uniformly chosen slot, so after n rows each one is stored with probability
    capacity / n whatever its position. All random draws come from one CPU generator: the same
    slots on CPU and CUDA.
    """

    def add(self, *rows: torch.Tensor) -> None:
        """Offers a batch to the reservoir, row by row in batch order."""
        items = self._allocate(rows)
        n = len(rows[0])
        positions = torch.arange(self.seen, self.seen + n, dtype=torch.int64)
        # float64 draws are exact enough for streams up to 2**53 rows.
        draws = torch.rand(n, generator=self.generator, dtype=torch.float64)
        replaced = (draws * (positions + 1).to(torch.float64)).floor().to(torch.int64)
        slots = torch.where(positions < self.capacity, positions, replaced)
        sources = torch.nonzero(slots < self.capacity).flatten()
        slots = slots[sources]
        # Two rows of one batch may draw the same slot; the later one overwrites, as it would
        # row by row. An indexed write with repeated indices is undefined on CUDA, so dedupe.
        order = torch.argsort(slots, stable=True)
        last_of_slot = torch.ones(len(order), dtype=torch.bool)
        last_of_slot[:-1] = slots[order[:-1]] != slots[order[1:]]
        keep = order[last_of_slot]
        self.seen += n
        if len(keep) == 0:
            return
        slot_index = to_device(slots[keep], self.device)
        source_index = to_device(sources[keep], rows[0].device)
        for item, row in zip(items, rows, strict=True):
            item.index_copy_(0, slot_index, row.index_select(0, source_index).to(self.device))


class ClassBalancedBuffer(ReplayBuffer):
    """Equal slots for every class seen; each class's slots hold a uniform sample of its rows.

    Every row gets a random key when it is offered. When the rows held plus the rows offered
    exceed the capacity, the slots are shared out by water-filling (classes with fewer rows
    than an equal share keep them all; the others get the equal share, the remainder going one
    slot each to the classes whose next key is smallest), and each class keeps its rows with the
    smallest keys. So a new class takes its share from the largest classes, which evict rows at
    random (their largest keys), and within a class the stored rows stay a uniform sample of
    the class's stream, as in class-balanced reservoir sampling (Chrysakis & Moens, ICML 2020).

    All of it runs as fixed-shape tensor operations on the device, with no value read back to
    the host; the price is a sort of (stored + offered) keys per update, negligible for the
    buffer sizes of the literature (hundreds to a few thousand rows).

    Attributes:
        label_field: Which field of `add` holds the class (the target, or the task id for a
            memory balanced over tasks).
        n_classes: Labels lie in [0, n_classes).
    """

    _spare_rows = 1  # rows not kept are written to this scratch row, so shapes stay fixed

    def __init__(
        self,
        capacity: int,
        device: torch.device,
        generator: torch.Generator,
        *,
        n_classes: int,
        label_field: int = 1,
    ):
        super().__init__(capacity, device, generator)
        self.n_classes = n_classes
        self.label_field = label_field
        self.keys = torch.empty(capacity + 1, dtype=torch.float64, device=device)

    def add(self, *rows: torch.Tensor) -> None:
        """Offers a batch; the buffer then holds the class-balanced selection described above."""
        items = self._allocate(rows)
        n, held, capacity = len(rows[0]), len(self), self.capacity
        new_keys = to_device(
            torch.rand(n, generator=self.generator, dtype=torch.float64), self.device
        )
        rows = tuple(row.to(self.device) for row in rows)
        self.seen += n
        if held + n <= capacity:  # room for everything: append
            for item, row in zip(items, rows, strict=True):
                item[held : held + n] = row
            self.keys[held : held + n] = new_keys
            return

        labels = torch.cat([items[self.label_field][:held], rows[self.label_field]])
        keys = torch.cat([self.keys[:held], new_keys])
        keep = _balanced_selection(labels, keys, capacity, self.n_classes)

        # Offered rows that are kept take the slots that are free (never filled, or evicted),
        # in increasing slot order; the others go to the scratch row.
        slot_taken = torch.zeros(capacity, dtype=torch.bool, device=self.device)
        slot_taken[:held] = keep[:held]
        free_slots = torch.argsort(slot_taken.to(torch.int8), stable=True)
        kept_new = keep[held:]
        rank = (torch.cumsum(kept_new, 0) - 1).clamp(0, capacity - 1)
        target = torch.where(kept_new, free_slots[rank], capacity)
        for item, row in zip(items, rows, strict=True):
            item.index_copy_(0, target, row)
        self.keys.index_copy_(0, target, new_keys)

    def state_dict(self) -> dict[str, Any]:
        """Contents, keys, stream length and generator state, for checkpoints."""
        return {**super().state_dict(), "keys": self.keys}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what `state_dict` returned."""
        super().load_state_dict(state)
        self.keys = state["keys"].to(self.device).clone()

    def class_counts(self) -> torch.Tensor:
        """Rows held per class (a device tensor), for inspection and tests."""
        if self.items is None:
            return torch.zeros(self.n_classes, dtype=torch.int64, device=self.device)
        return torch.bincount(self.items[self.label_field][: len(self)], minlength=self.n_classes)


def _balanced_selection(
    labels: torch.Tensor, keys: torch.Tensor, capacity: int, n_classes: int
) -> torch.Tensor:
    """Which of more than `capacity` candidate rows a class-balanced buffer keeps (a bool mask).

    Exactly `capacity` rows are kept: per class min(count, level) of its smallest keys, plus one
    more row for `capacity - sum min(count, level)` of the classes above the level (those whose
    next key is smallest). `level` is the largest integer that does not overflow the capacity.
    """
    counts = torch.bincount(labels, minlength=n_classes)
    sorted_counts = torch.sort(counts).values
    below = torch.cumsum(sorted_counts, 0) - sorted_counts  # sum of the smaller classes
    classes_from = torch.arange(n_classes, 0, -1, device=labels.device)  # classes at or above i
    filled_at = below + classes_from * sorted_counts  # rows kept if the level were count i
    # Classes wholly kept; fewer than n_classes, as the candidates overflow. Kept as a 1-element
    # tensor: indexing with a 0-d tensor would read it back to the host.
    n_below = torch.count_nonzero(filled_at <= capacity).reshape(1)
    level = (capacity - below.index_select(0, n_below)) // classes_from.index_select(0, n_below)
    remainder = capacity - torch.minimum(counts, level).sum()

    # Rank of each row among its class by key: sort by (label, key); keys lie in [0, 1).
    order = torch.argsort(labels.to(torch.float64) + keys, stable=True)
    position = torch.empty_like(order)
    position[order] = torch.arange(len(order), device=labels.device)
    class_start = torch.cumsum(counts, 0) - counts
    rank = position - class_start[labels]

    at_level = rank == level
    extra_keys = torch.where(at_level, keys, 2.0)
    extra_order = torch.argsort(extra_keys, stable=True)
    extra_rank = torch.empty_like(extra_order)
    extra_rank[extra_order] = torch.arange(len(extra_order), device=labels.device)
    return (rank < level) | (at_level & (extra_rank < remainder))


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
