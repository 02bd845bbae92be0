"""Memories and the strategies that replay: buffers, ER, ER-ACE, DER, joint, A-GEM."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from gapwatch.spec import ERSpec, TrainingSpec
from gapwatch_worker.cl.strategies import (
    AGEM,
    ERACE,
    BuildContext,
    DarkExperienceReplay,
    ExperienceReplay,
    Joint,
    build_strategy,
)
from gapwatch_worker.cl.strategies.agem import project_gradient
from gapwatch_worker.cl.strategies.buffer import (
    ClassBalancedBuffer,
    ReservoirBuffer,
    _balanced_selection,
    distinct_indices,
)
from gapwatch_worker.cl.strategies.er_ace import mask_absent
from tests.worker.strategy_fixtures import (
    BATCH,
    CPU,
    batch,
    batch_grad,
    blobs_benchmark,
    checkpoint,
    current_grad,
    make_strategy,
    restore,
    strategy_spec,
    tiny_model,
    train,
)

# --- Reservoir ---------------------------------------------------------------------------------


def _stream_into_reservoir(n_items: int, capacity: int, batch: int, seed: int) -> list[int]:
    buffer = ReservoirBuffer(capacity, CPU, torch.Generator().manual_seed(seed))
    items = torch.arange(n_items)
    for start in range(0, n_items, batch):
        chunk = items[start : start + batch]
        buffer.add(chunk[:, None].float(), chunk)
    assert buffer.items is not None and buffer.seen == n_items
    return buffer.items[1][: len(buffer)].tolist()


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


def test_a_sample_keeps_the_fields_of_a_row_together() -> None:
    buffer = ReservoirBuffer(20, CPU, torch.Generator().manual_seed(0))
    for start in range(0, 60, 6):
        ids = torch.arange(start, start + 6)
        buffer.add(ids[:, None].float() * 10, ids, ids % 3, ids[:, None].float().repeat(1, 4))
    x, y, task, logits = buffer.sample(8)
    assert len(y) == 8 == len(set(y.tolist()))
    assert torch.equal(x[:, 0], y.float() * 10) and torch.equal(task, y % 3)
    assert torch.equal(logits, y[:, None].float().repeat(1, 4))


def test_an_empty_buffer_refuses_to_sample() -> None:
    with pytest.raises(ValueError, match="empty"):
        ReservoirBuffer(4, CPU, torch.Generator()).sample(2)


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


# --- Class-balanced ----------------------------------------------------------------------------


def _balanced(capacity: int, n_classes: int = 4, seed: int = 0) -> ClassBalancedBuffer:
    return ClassBalancedBuffer(
        capacity, CPU, torch.Generator().manual_seed(seed), n_classes=n_classes
    )


def _offer(buffer: ClassBalancedBuffer, labels: list[int], first_id: int = 0) -> None:
    y = torch.tensor(labels)
    ids = torch.arange(first_id, first_id + len(labels))
    buffer.add(ids[:, None].float(), y)


def test_balanced_selection_water_fills_and_keeps_the_smallest_keys() -> None:
    generator = torch.Generator().manual_seed(0)
    for _ in range(300):
        n_classes = int(torch.randint(1, 7, (1,), generator=generator))
        n = int(torch.randint(2, 60, (1,), generator=generator))
        capacity = int(torch.randint(1, n, (1,), generator=generator))
        skew = torch.rand(n_classes, generator=generator) ** 3 + 0.01
        labels = torch.multinomial(skew, n, replacement=True, generator=generator)
        keys = torch.rand(n, generator=generator, dtype=torch.float64)
        keep = _balanced_selection(labels, keys, capacity, n_classes)
        assert int(keep.sum()) == capacity
        counts = torch.bincount(labels, minlength=n_classes).tolist()
        kept = torch.bincount(labels[keep], minlength=n_classes).tolist()
        # The largest level that fits: classes under it keep everything, the others get it or
        # one more.
        level = max(q for q in range(capacity + 1) if sum(min(c, q) for c in counts) <= capacity)
        for c, k in zip(counts, kept, strict=True):
            assert k == c if c <= level else k in (level, level + 1), (counts, kept, level)
        for c in range(n_classes):
            members = keys[labels == c]
            kept_keys = keys[keep & (labels == c)]
            assert torch.equal(kept_keys.sort().values, members.sort().values[: len(kept_keys)])


def test_class_balanced_buffer_gives_every_class_an_equal_share() -> None:
    buffer = _balanced(60)
    stream = [0] * 300 + [1] * 90 + [2] * 45
    order = torch.randperm(len(stream), generator=torch.Generator().manual_seed(1)).tolist()
    for start in range(0, len(stream), 16):
        _offer(buffer, [stream[i] for i in order[start : start + 16]], start)
        if start == 96:  # 112 rows offered: 73 of class 0, 26 of class 1, 13 of class 2
            counts = buffer.class_counts().tolist()
            assert counts[2] == 13 and sorted(counts[:2]) == [23, 24], counts
    assert buffer.class_counts().tolist() == [20, 20, 20, 0]
    assert len(buffer) == 60


def test_a_small_class_keeps_all_its_rows_and_the_others_share_the_rest() -> None:
    buffer = _balanced(50)
    _offer(buffer, [0] * 100)
    _offer(buffer, [1] * 8, 100)
    _offer(buffer, [2] * 40, 108)
    assert buffer.class_counts().tolist() == [21, 8, 21, 0]


def test_a_new_class_takes_its_share_from_the_largest_by_random_eviction() -> None:
    buffer = _balanced(30)
    _offer(buffer, [0] * 20 + [1] * 10)
    assert buffer.items is not None
    before = set(buffer.items[0][:30, 0].tolist())
    _offer(buffer, [2] * 10, 30)
    ids = buffer.items[0][:30, 0].tolist()
    assert buffer.class_counts().tolist() == [10, 10, 10, 0]
    assert set(range(20, 30)) <= set(ids)  # class 1 (not the largest) lost nothing
    assert {i for i in ids if i < 20} < before  # class 0 kept a subset of its rows


def test_class_balanced_rows_are_a_uniform_sample_within_each_class() -> None:
    # 400 rows of class 0 then 400 of class 1, in batches of 20, into 40 slots: class 0's 20
    # surviving rows should be spread evenly over its stream (quarters hold 5 each on average).
    quarters = [0] * 4
    for seed in range(200):
        buffer = _balanced(40, n_classes=2, seed=seed)
        for start in range(0, 800, 20):
            _offer(buffer, [start // 400] * 20, start)
        assert buffer.items is not None and buffer.class_counts().tolist() == [20, 20]
        for row in buffer.items[0][:40, 0].tolist():
            if row < 400:
                quarters[int(row) // 100] += 1
    chi_square = sum((c - 1000) ** 2 / 1000 for c in quarters)
    assert chi_square < 16.3, quarters  # 3 degrees of freedom, p = 0.001


def test_class_balanced_state_round_trip() -> None:
    first = _balanced(12, seed=3)
    _offer(first, [0, 1, 2, 0, 0, 1, 1, 2, 0, 0, 0, 0, 3, 3, 3])
    second = _balanced(12, seed=99)
    second.load_state_dict(copy.deepcopy(first.state_dict()))
    _offer(first, [3, 3, 1, 2], 100)
    _offer(second, [3, 3, 1, 2], 100)
    assert first.items is not None and second.items is not None
    assert torch.equal(first.items[0], second.items[0])
    assert torch.equal(first.sample(5)[0], second.sample(5)[0])


# --- ER -----------------------------------------------------------------------------------------


class RecordingModel(nn.Module):
    def __init__(self, n_outputs: int) -> None:
        super().__init__()
        self.linear = nn.Linear(8, n_outputs)
        self.batch_sizes: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.batch_sizes.append(len(x))
        return self.linear(x)


def test_er_replays_after_the_first_batch_and_fills_its_buffer() -> None:
    benchmark = blobs_benchmark()
    model = RecordingModel(benchmark.n_outputs)
    spec = ERSpec(name="er", buffer_size=20, replay_batch_size=6)
    strategy = make_strategy(spec, benchmark, model=model)
    assert isinstance(strategy, ExperienceReplay)
    train(strategy, benchmark, [(0, 0, 4)])
    # Empty buffer first; then 6 replayed samples per update.
    assert model.batch_sizes == [BATCH, BATCH + 6, BATCH + 6, BATCH + 6]
    assert len(strategy.buffer) == 20 and strategy.buffer.seen == 4 * BATCH


def test_replay_batch_defaults_to_the_training_batch_size() -> None:
    benchmark = blobs_benchmark()
    model = tiny_model(benchmark)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    strategy = build_strategy(
        ERSpec(name="er"),
        BuildContext(model, optimizer, TrainingSpec(batch_size=24), CPU, 0, benchmark),
    )
    assert isinstance(strategy, ExperienceReplay) and strategy.replay_batch_size == 24


def test_er_class_balanced_policy_balances_the_classes_seen() -> None:
    benchmark = blobs_benchmark()
    strategy = make_strategy(strategy_spec("er", buffer_policy="class_balanced"), benchmark)
    assert isinstance(strategy, ExperienceReplay)
    assert isinstance(strategy.buffer, ClassBalancedBuffer)
    train(strategy, benchmark, [(0, 0, -10), (1, 0, -10), (2, 0, 3)])
    # 40 slots over 6 classes: 6 each and 4 more for four of them (random ones).
    assert sorted(strategy.buffer.class_counts().tolist()) == [6, 6, 7, 7, 7, 7]


@pytest.mark.parametrize(("weight", "reference"), [(0.0, "new"), (1.0, "replayed")])
def test_replay_weight_selects_the_loss_of_new_or_replayed_rows(
    weight: float, reference: str
) -> None:
    benchmark = blobs_benchmark()
    strategy = make_strategy(strategy_spec("er", replay_weight=weight), benchmark)
    assert isinstance(strategy, ExperienceReplay)
    train(strategy, benchmark, [(0, 0, -4), (1, 0, 2)])
    x, y = batch(benchmark.tasks[1], 2)
    state = strategy.buffer.generator.get_state()
    replay_x, replay_y, _ = strategy.buffer.sample(strategy.replay_batch_size)
    strategy.buffer.generator.set_state(state)
    inputs, targets = (x, y) if reference == "new" else (replay_x, replay_y)
    expected = nn.functional.cross_entropy(strategy.model(inputs), targets)
    assert torch.allclose(strategy.observe(x, y, 1), expected)


def _rows(buffer: ClassBalancedBuffer) -> set[tuple[float, ...]]:
    assert buffer.items is not None
    return {tuple(row.tolist()) for row in buffer.items[0][: len(buffer)]}


def test_er_task_end_memory_is_filled_at_task_ends_and_replays_earlier_tasks_only() -> None:
    benchmark = blobs_benchmark()
    model = RecordingModel(benchmark.n_outputs)
    spec = strategy_spec("er", buffer_policy="task_end", replay_batch_size=6)
    strategy = make_strategy(spec, benchmark, model=model)
    assert isinstance(strategy, ExperienceReplay)
    assert isinstance(strategy.buffer, ClassBalancedBuffer)
    train(strategy, benchmark, [(0, 0, 5)])
    assert model.batch_sizes == [BATCH] * 5  # nothing replayed during the first task
    assert len(strategy.buffer) == 0
    strategy.end_task(0, benchmark.tasks[0])
    # 40 slots for the 2 classes seen, each a sample of its class in task 0's train set.
    assert strategy.buffer.class_counts().tolist() == [20, 20, 0, 0, 0, 0]
    task_0 = {tuple(row.tolist()) for row in benchmark.tasks[0].train_x}
    after_task_0 = _rows(strategy.buffer)
    assert len(after_task_0) == 40 and after_task_0 <= task_0

    model.batch_sizes.clear()
    train(strategy, benchmark, [(1, 0, 4)])
    assert model.batch_sizes == [BATCH + 6] * 4  # task 0's rows replayed
    assert _rows(strategy.buffer) == after_task_0  # task 1's batches are not offered
    assert strategy.buffer.items is not None
    assert strategy.buffer.items[2][:40].eq(0).all()  # task ids: only task 0 so far

    strategy.end_task(1, benchmark.tasks[1])
    assert strategy.buffer.class_counts().tolist() == [10, 10, 10, 10, 0, 0]
    kept = _rows(strategy.buffer)
    # The old classes gave up half their slots; what they kept was held before.
    assert len(kept & after_task_0) == 20 and len(kept & task_0) == 20


def test_er_task_end_leaves_out_the_current_task_and_balances_all_classes_seen() -> None:
    benchmark = blobs_benchmark(n_tasks=3)
    strategy = make_strategy(strategy_spec("er", buffer_policy="task_end"), benchmark)
    assert isinstance(strategy, ExperienceReplay)
    train(strategy, benchmark, [(0, 0, -3), (1, 0, -3), (2, 0, 2)])
    assert isinstance(strategy.buffer, ClassBalancedBuffer) and strategy.buffer.items is not None
    # 40 slots over 4 classes; task 2's classes (4, 5) are absent while it trains.
    assert strategy.buffer.class_counts().tolist() == [10, 10, 10, 10, 0, 0]
    assert sorted(set(strategy.buffer.items[2][:40].tolist())) == [0, 1]


def test_replay_weight_scales_the_new_loss_while_the_memory_is_empty() -> None:
    # De Lange et al.'s ER weighs the new rows by Lw_new = 1 - w even when nothing is replayed,
    # so under task_end the first task trains on (1 - w) * CE(new).
    benchmark = blobs_benchmark()
    spec = strategy_spec("er", buffer_policy="task_end", replay_weight=0.7)
    strategy = make_strategy(spec, benchmark, lr=0.1)
    reference = make_strategy(strategy_spec("finetune"), benchmark, lr=0.1 * 0.3)
    for step in range(5):
        x, y = batch(benchmark.tasks[0], step)
        expected = reference.observe(x, y, 0)
        assert torch.allclose(strategy.observe(x, y, 0), 0.3 * expected, atol=1e-7)
    for p, q in zip(strategy.model.parameters(), reference.model.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6)  # SGD on 0.3 * CE at lr = lr * 0.3 on CE


@pytest.mark.parametrize("scenario", ["class_incremental", "domain_incremental"])
def test_er_task_end_resumes_bit_exactly(scenario: str) -> None:
    benchmark = blobs_benchmark(scenario)
    spec = strategy_spec("er", buffer_policy="task_end", replay_weight=0.7)
    original = make_strategy(spec, benchmark, momentum=0.9)
    train(original, benchmark, [(0, 0, -10), (1, 0, 5)])
    saved = checkpoint(original)
    continuation = [(1, 5, -10), (2, 0, -6)]  # the rest of task 1, its end (a fill), task 2
    expected = torch.stack(train(original, benchmark, continuation))
    resumed = make_strategy(spec, benchmark, momentum=0.9, model_seed=1, seed=5)
    restore(resumed, saved)
    resumed.begin_task(1, benchmark.tasks[1])
    assert torch.equal(torch.stack(train(resumed, benchmark, continuation)), expected)


# --- ER-ACE -------------------------------------------------------------------------------------


def test_er_ace_new_rows_leave_absent_classes_logits_untouched() -> None:
    logits = torch.randn(6, 5, requires_grad=True)
    y = torch.tensor([1, 3, 3, 1, 1, 3])
    present = torch.zeros(5, dtype=torch.bool)
    present[y] = True
    nn.functional.cross_entropy(mask_absent(logits, present), y).backward()
    assert logits.grad is not None
    assert logits.grad[:, [0, 2, 4]].eq(0).all()
    assert logits.grad[:, [1, 3]].ne(0).all()


def test_er_ace_replays_over_seen_classes_only() -> None:
    benchmark = blobs_benchmark()
    strategy = make_strategy(strategy_spec("er_ace"), benchmark)
    assert isinstance(strategy, ERACE)
    train(strategy, benchmark, [(0, 0, -6), (1, 0, 3)])
    assert strategy.seen_classes.tolist() == [True] * 4 + [False] * 2
    strategy.observe(*batch(benchmark.tasks[1], 3), 1)
    bias_grad = strategy.model[-1].bias.grad  # type: ignore[index]
    assert bias_grad is not None
    assert bias_grad[4:].eq(0).all()  # the unseen classes of task 2 get no gradient at all
    assert bias_grad[:2].ne(0).all()  # the old classes are pushed by the replayed rows only


# --- DER ----------------------------------------------------------------------------------------


def test_der_stores_the_logits_of_insertion_time() -> None:
    benchmark = blobs_benchmark()
    strategy = make_strategy(strategy_spec("der", buffer_size=200), benchmark)
    assert isinstance(strategy, DarkExperienceReplay)
    x, y = batch(benchmark.tasks[0], 0)
    before = strategy.model(x).detach()
    strategy.observe(x, y, 0)
    assert strategy.buffer.items is not None
    stored = strategy.buffer.items[3][:BATCH]
    assert torch.equal(stored, before)  # the update's own forward, before its step
    assert not torch.allclose(strategy.model(x), before)


@pytest.mark.parametrize("scenario", ["class_incremental", "task_incremental"])
def test_der_logit_matching_is_zero_for_an_unchanged_model(scenario: str) -> None:
    benchmark = blobs_benchmark(scenario)
    strategy = make_strategy(strategy_spec("der"), benchmark, lr=1e-12)
    assert isinstance(strategy, DarkExperienceReplay)
    strategy.optimizer.param_groups[0]["lr"] = 0.0  # the model never changes
    train(strategy, benchmark, [(0, 0, -4), (1, 0, 4)])
    x, _, task, stored = strategy.buffer.sample(32)
    with torch.no_grad():
        assert float(strategy.logit_mse(strategy.logits(x, task), stored, task)) == 0.0
        strategy.model[-1].bias += 1.0  # type: ignore[index]
        shifted = strategy.logit_mse(strategy.logits(x, task), stored, task)
    assert float(shifted) == pytest.approx(1.0)


def test_derpp_replays_two_independent_draws() -> None:
    benchmark = blobs_benchmark()
    model = RecordingModel(benchmark.n_outputs)
    strategy = make_strategy(strategy_spec("derpp", replay_batch_size=5), benchmark, model=model)
    der = make_strategy(strategy_spec("der", replay_batch_size=5), benchmark)
    assert isinstance(strategy, DarkExperienceReplay) and isinstance(der, DarkExperienceReplay)
    assert der.beta == 0.0 and strategy.beta == 0.5
    train(strategy, benchmark, [(0, 0, 3)])
    assert model.batch_sizes == [BATCH, BATCH + 10, BATCH + 10]


# --- Joint --------------------------------------------------------------------------------------


def test_joint_draws_uniformly_from_every_task_seen() -> None:
    benchmark = blobs_benchmark("task_incremental", n_train=96)
    strategy = make_strategy(strategy_spec("joint"), benchmark)
    assert isinstance(strategy, Joint)
    train(strategy, benchmark, [(0, 0, -2), (1, 0, -2)])
    counts = torch.zeros(benchmark.n_outputs)
    for _ in range(200):
        x, y, task_ids = strategy.draw_batch(BATCH)
        assert len(y) == BATCH
        counts += torch.bincount(y, minlength=benchmark.n_outputs)
        table = benchmark.tasks
        # Every row is a true row of its task, with its task id.
        for k in (0, 1):
            rows = task_ids == k
            matches = (x[rows][:, None, :] == table[k].train_x[None]).all(-1)
            assert matches.any(1).all()
            assert torch.equal(y[rows], table[k].train_y[matches.float().argmax(1)])
    assert counts[4:].sum() == 0  # task 2 not seen yet
    tasks_share = counts[:4].reshape(2, 2).sum(1) / counts.sum()
    assert torch.allclose(tasks_share, torch.tensor([0.5, 0.5]), atol=0.03)
    assert (counts[:4] > 0).all()


def test_joint_ignores_the_loops_batch_but_keeps_its_size() -> None:
    benchmark = blobs_benchmark()
    model = RecordingModel(benchmark.n_outputs)
    strategy = make_strategy(strategy_spec("joint"), benchmark, model=model)
    train(strategy, benchmark, [(0, 0, -1), (1, 0, 1)])
    x, y = batch(benchmark.tasks[1], 0)
    strategy.observe(x[:5], y[:5], 1)
    assert model.batch_sizes == [BATCH, BATCH, 5]


# --- A-GEM --------------------------------------------------------------------------------------


def test_projection_keeps_a_gradient_that_does_not_conflict() -> None:
    g, ref = torch.tensor([1.0, 2.0, -1.0]), torch.tensor([0.5, 0.0, 0.5])
    assert torch.equal(project_gradient(g, ref), g)  # g . ref = 0
    assert torch.equal(project_gradient(g, torch.zeros(3)), g)


def test_projection_removes_the_conflicting_component() -> None:
    generator = torch.Generator().manual_seed(0)
    for _ in range(50):
        g, ref = torch.randn(20, generator=generator), torch.randn(20, generator=generator)
        projected = project_gradient(g, ref)
        if torch.dot(g, ref) >= 0:
            assert torch.equal(projected, g)
        else:
            assert abs(float(torch.dot(projected, ref))) < 1e-5
            expected = g - torch.dot(g, ref) / torch.dot(ref, ref) * ref
            assert torch.allclose(projected, expected)


def test_agem_fills_its_memory_at_task_end_balanced_over_tasks() -> None:
    benchmark = blobs_benchmark()
    strategy = make_strategy(strategy_spec("agem", buffer_size=40), benchmark)
    assert isinstance(strategy, AGEM)
    train(strategy, benchmark, [(0, 0, 5)])
    assert len(strategy.memory) == 0
    strategy.end_task(0, benchmark.tasks[0])
    assert strategy.memory.class_counts().tolist() == [40, 0, 0]
    train(strategy, benchmark, [(1, 0, -5), (2, 0, -5)])
    assert sorted(strategy.memory.class_counts().tolist()) == [13, 13, 14]


@pytest.mark.parametrize("scenario", ["class_incremental", "task_incremental"])
def test_agem_applies_the_projected_gradient(scenario: str) -> None:
    benchmark = blobs_benchmark(scenario)
    strategy = make_strategy(strategy_spec("agem"), benchmark, lr=0.2)
    assert isinstance(strategy, AGEM)
    train(strategy, benchmark, [(0, 0, -20)])
    projected = 0
    for step in range(10):
        x, y = batch(benchmark.tasks[1], step)
        before = copy.deepcopy(strategy.model)
        state = strategy.memory.generator.get_state()
        memory_x, memory_y, memory_task = strategy.memory.sample(strategy.reference_batch_size)
        strategy.memory.generator.set_state(state)

        raw = batch_grad(strategy, before, x, y, 1)
        reference = batch_grad(strategy, before, memory_x, memory_y, memory_task)
        strategy.observe(x, y, 1)
        applied = current_grad(strategy.model)
        assert float(torch.dot(applied, reference)) >= -1e-6
        if float(torch.dot(raw, reference)) >= 0:
            assert torch.allclose(applied, raw, atol=1e-7)
        else:
            projected += 1
            assert not torch.allclose(applied, raw)
            assert torch.allclose(applied, project_gradient(raw, reference), atol=1e-6)
    assert projected > 0  # the test saw both cases
