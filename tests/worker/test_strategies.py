"""Strategies learn; the reservoir buffer keeps a uniform sample of the stream."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gapwatch.spec import ERSpec, FinetuneSpec, TrainingSpec
from gapwatch_worker.cl.strategies import ExperienceReplay, build_strategy
from gapwatch_worker.cl.strategies.buffer import ReservoirBuffer, distinct_indices

CPU = torch.device("cpu")


def _blobs(n: int = 256, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Four Gaussian blobs in 8 dimensions: easy to fit, not fitted at init."""
    generator = torch.Generator().manual_seed(seed)
    y = torch.randint(4, (n,), generator=generator)
    centres = torch.randn(4, 8, generator=generator) * 3
    return centres[y] + torch.randn(n, 8, generator=generator), y


def _train(spec: FinetuneSpec | ERSpec, steps: int = 60) -> list[float]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    strategy = build_strategy(spec, model, optimizer, TrainingSpec(batch_size=16), CPU, seed=0)
    x, y = _blobs()
    losses = []
    for step in range(steps):
        rows = slice((step * 16) % 256, (step * 16) % 256 + 16)
        loss = strategy.observe(x[rows], y[rows], task_id=0)
        assert loss.ndim == 0 and not loss.requires_grad  # detached, still a tensor
        losses.append(float(loss))
    return losses


@pytest.mark.parametrize("spec", [FinetuneSpec(name="finetune"), ERSpec(name="er", buffer_size=50)])
def test_loss_falls_on_a_tiny_problem(spec: FinetuneSpec | ERSpec) -> None:
    losses = _train(spec)
    start, end = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert end < 0.3 * start, (start, end)


class RecordingModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(8, 4)
        self.batch_sizes: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.batch_sizes.append(len(x))
        return self.linear(x)


def test_er_replays_after_the_first_batch_and_fills_its_buffer() -> None:
    model = RecordingModel()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    spec = ERSpec(name="er", buffer_size=20, replay_batch_size=6)
    strategy = build_strategy(spec, model, optimizer, TrainingSpec(batch_size=8), CPU, seed=0)
    assert isinstance(strategy, ExperienceReplay)
    x, y = _blobs(32)
    for start in range(0, 32, 8):
        strategy.observe(x[start : start + 8], y[start : start + 8], task_id=0)
    # Empty buffer first; then 6 replayed samples per update.
    assert model.batch_sizes == [8, 14, 14, 14]
    assert len(strategy.buffer) == 20 and strategy.buffer.seen == 32


def test_replay_batch_defaults_to_the_training_batch_size() -> None:
    model = nn.Linear(8, 4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    strategy = build_strategy(
        ERSpec(name="er"), model, optimizer, TrainingSpec(batch_size=24), CPU, seed=0
    )
    assert isinstance(strategy, ExperienceReplay)
    assert strategy.replay_batch_size == 24


def test_er_state_round_trip_continues_identically() -> None:
    def make() -> ExperienceReplay:
        model = nn.Linear(8, 4)
        strategy = build_strategy(
            ERSpec(name="er", buffer_size=10),
            model,
            torch.optim.SGD(model.parameters(), lr=0.01),
            TrainingSpec(batch_size=4),
            CPU,
            seed=3,
        )
        assert isinstance(strategy, ExperienceReplay)
        return strategy

    x, y = _blobs(64)
    first = make()
    for start in range(0, 40, 4):
        first.observe(x[start : start + 4], y[start : start + 4], 0)
    second = make()
    second.load_state_dict(first.state_dict())
    assert torch.equal(first.buffer.sample(5)[0], second.buffer.sample(5)[0])


def _stream_into_reservoir(n_items: int, capacity: int, batch: int, seed: int) -> list[int]:
    buffer = ReservoirBuffer(capacity, CPU, torch.Generator().manual_seed(seed))
    items = torch.arange(n_items)
    for start in range(0, n_items, batch):
        chunk = items[start : start + batch]
        buffer.add(chunk[:, None].float(), chunk)
    assert buffer.y is not None and buffer.seen == n_items
    return buffer.y.tolist()


def test_reservoir_keeps_a_uniform_sample_of_the_stream() -> None:
    # 10,000 items in batches of 50 into 100 slots, 100 times: each 1,000-item segment of the
    # stream should hold 10 slots on average, i.e. 1,000 over the trials (sd about 30).
    counts = [0] * 10
    for seed in range(100):
        kept = _stream_into_reservoir(10_000, 100, 50, seed)
        assert len(set(kept)) == 100  # distinct stream items, no slot left empty
        for item in kept:
            counts[item // 1000] += 1
    chi_square = sum((c - 1000) ** 2 / 1000 for c in counts)
    assert chi_square < 27.9, counts  # 9 degrees of freedom, p = 0.001
    assert all(850 < c < 1150 for c in counts), counts


def test_reservoir_within_one_batch_the_later_item_wins_a_shared_slot() -> None:
    # One slot, 10 items per batch: the survivor must be uniform over all 30 items. Keeping the
    # first of two items that drew the same slot would favour early items of each batch.
    counts = [0] * 30
    for seed in range(3000):
        counts[_stream_into_reservoir(30, 1, 10, seed)[0]] += 1
    chi_square = sum((c - 100) ** 2 / 100 for c in counts)
    assert chi_square < 58.3, counts  # 29 degrees of freedom, p = 0.001


def test_reservoir_holds_the_stream_verbatim_until_full() -> None:
    assert _stream_into_reservoir(7, 10, 3, seed=0)[:7] == list(range(7))


@pytest.mark.parametrize(("n", "k"), [(20, 5), (200, 2), (100_000, 64)])
def test_distinct_indices_are_distinct_and_in_range(n: int, k: int) -> None:
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        index = distinct_indices(n, k, generator)
        assert len(index) == k == len(set(index.tolist()))
        assert 0 <= int(index.min()) and int(index.max()) < n


def test_sparse_distinct_indices_are_uniform() -> None:
    # n > 64 k takes the rejection branch; every index should come up about equally often.
    generator = torch.Generator().manual_seed(0)
    counts = torch.zeros(200)
    for _ in range(4000):
        counts[distinct_indices(200, 3, generator)] += 1
    chi_square = float(((counts - 60) ** 2 / 60).sum())
    assert chi_square < 267.0  # 199 degrees of freedom, p = 0.001
