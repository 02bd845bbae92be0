"""Checkpoint and resume: a run killed after a checkpoint continues to the same curves."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from gapwatch.spec import RunSpec
from gapwatch_worker.cl.checkpoint import CheckpointStore, spec_fingerprint
from gapwatch_worker.cl.cost import is_measured_cost_key
from gapwatch_worker.cl.loop import RunOutcome, TrainingDiverged, run_experiment
from gapwatch_worker.cl.reporting import MemoryReporter

STRATEGIES = [
    {"name": "finetune"},
    {"name": "joint"},
    {"name": "er", "buffer_size": 40, "buffer_policy": "class_balanced"},
    {"name": "er", "buffer_size": 40, "buffer_policy": "task_end", "replay_weight": 0.7},
    {"name": "er_ace", "buffer_size": 40},
    {"name": "agem", "buffer_size": 40, "reference_batch_size": 16},
    {"name": "ewc", "fisher_samples": 32, "online": True, "gamma": 0.9, "ewc_lambda": 1.0},
    {"name": "si"},
    {"name": "lwf"},
    {"name": "derpp", "buffer_size": 40},
    {"name": "gem", "memories_per_task": 20, "memory_strength": 0.5},
]


class Crash(RuntimeError):
    """The worker dies."""


class CrashingReporter(MemoryReporter):
    """Keeps points like MemoryReporter until `crash_at`, then the process 'dies'."""

    def __init__(self, crash_at: int) -> None:
        super().__init__()
        self.crash_at = crash_at

    def report_scalars(self, step: int, values: Mapping[str, float]) -> None:
        if step >= self.crash_at:
            raise Crash(f"killed at step {step}")
        super().report_scalars(step, values)


def _points(reporter: MemoryReporter) -> dict[str, dict[int, float]]:
    return {
        key: dict(zip(steps, values, strict=True))
        for key, (steps, values) in reporter.series.items()
        # wall-clock rates, seconds and memory peaks differ by nature
        if not key.startswith("sys/") and not is_measured_cost_key(key)
    }


def crash_then_resume(
    spec: RunSpec, directory: Path, crash_at: int
) -> tuple[MemoryReporter, MemoryReporter, MemoryReporter, RunOutcome]:
    """An uninterrupted run, and the same spec dying at `crash_at` then resumed.

    Returns the uninterrupted run's points, the crashed part's, the resumed part's, and the
    resumed call's outcome.
    """
    uninterrupted = MemoryReporter()
    run_experiment(spec, uninterrupted)
    store = CheckpointStore(directory)
    crashed = CrashingReporter(crash_at=crash_at)
    with pytest.raises(Crash):
        run_experiment(spec, crashed, checkpoints=store)
    resumed = MemoryReporter()
    outcome = run_experiment(spec, resumed, checkpoints=store)
    return uninterrupted, crashed, resumed, outcome


def assert_resumed_from(uninterrupted: MemoryReporter, resumed: MemoryReporter, step: int) -> None:
    """The resumed run evaluates from `step` on; the loss of the update that reached `step`
    was reported before the checkpoint, so its training series resumes at step + 1."""
    got = _points(resumed)
    compared = 0
    for key, points in _points(uninterrupted).items():
        first = step + 1 if key.startswith("train/") else step
        expected = {s: v for s, v in points.items() if s >= first}
        assert got.get(key, {}) == expected, key
        compared += len(expected)
    assert compared > 0  # a resume that compared nothing proves nothing


@pytest.mark.parametrize(
    "strategy", STRATEGIES, ids=lambda s: f"{s['name']}-{s.get('buffer_policy', '')}".strip("-")
)
def test_resume_gives_the_curves_of_an_uninterrupted_run(
    make_spec, tmp_path: Path, strategy: dict
) -> None:
    spec = make_spec(
        strategy=strategy,
        benchmark={"n_tasks": 3},
        training={"iterations_per_task": 12},
        evaluation={"every": 1},
        checkpoint_every=5,
    )
    # Dies at step 23, after the checkpoint of step 20 and inside task 1 (steps 12..24).
    uninterrupted, _, resumed, outcome = crash_then_resume(spec, tmp_path / "run", 23)
    assert outcome.resumed_from == 20 and outcome.iterations == 36
    assert_resumed_from(uninterrupted, resumed, 20)
    # Events of the resumed task are not repeated; later tasks' are.
    assert [(e.kind, e.step) for e in resumed.events] == [
        ("task_end", 24), ("task_start", 24), ("task_end", 36)
    ]  # fmt: skip


def test_the_crashed_part_plus_the_resumed_part_cover_the_run(make_spec, tmp_path: Path) -> None:
    spec = make_spec(
        strategy={"name": "er", "buffer_size": 30},
        training={"iterations_per_task": 10},
        evaluation={"every": 1},
        checkpoint_every=7,
    )
    uninterrupted, first, second, outcome = crash_then_resume(spec, tmp_path / "run", 31)
    assert outcome.resumed_from == 28
    merged = _points(first)
    for key, points in _points(second).items():
        for step, value in points.items():
            assert merged.setdefault(key, {}).setdefault(step, value) == value, (key, step)
    assert merged == _points(uninterrupted)


def test_a_checkpoint_of_another_spec_is_not_resumed(make_spec, tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "run")
    spec = make_spec(checkpoint_every=5)
    run_experiment(spec, MemoryReporter(), checkpoints=store)
    assert store.path.exists()
    other = make_spec(checkpoint_every=5, seed=1)
    assert store.load(spec_fingerprint(other)) is None
    assert run_experiment(other, MemoryReporter(), checkpoints=store).resumed_from is None


def test_checkpoint_writes_are_atomic_and_hold_the_whole_state(make_spec, tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "run")
    spec = make_spec(
        strategy={"name": "ewc", "fisher_samples": 16, "ewc_lambda": 1.0}, checkpoint_every=20
    )
    run_experiment(spec, MemoryReporter(), checkpoints=store)
    state = store.load(spec_fingerprint(spec))
    assert state is not None and state["iteration"] == 100
    assert {"model", "optimizer", "strategy", "sampler", "rng", "batch_generator"} <= set(state)
    assert state["strategy"], "EWC's Fisher and anchors belong in the checkpoint"
    assert [p.name for p in store.directory.iterdir()] == ["checkpoint.pt"]  # no temp left


def test_a_diverging_run_fails_with_a_clear_message(make_spec) -> None:
    # EWC's penalty at lambda 1e4 with SGD at lr 0.1 overshoots and explodes within a task.
    spec = make_spec(strategy={"name": "ewc", "fisher_samples": 16, "ewc_lambda": 1e4})
    with pytest.raises(TrainingDiverged, match="diverged; lower the learning rate"):
        run_experiment(spec, MemoryReporter())


def test_a_torn_checkpoint_file_means_starting_over(make_spec, tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "run")
    spec = make_spec(checkpoint_every=5)
    store.directory.mkdir(parents=True)
    store.path.write_bytes(b"PK\x03\x04 half a zip")
    outcome = run_experiment(spec, MemoryReporter(), checkpoints=store)
    assert outcome.resumed_from is None and outcome.iterations == 100


@pytest.mark.parametrize(
    "strategy",
    [
        {"name": "lwf"},
        {"name": "er", "buffer_size": 40, "buffer_policy": "task_end"},
        {"name": "gem", "memories_per_task": 20},
    ],
    ids=lambda s: s["name"],
)
def test_resume_from_a_checkpoint_at_a_task_boundary(
    make_spec, tmp_path: Path, strategy: dict
) -> None:
    # Strategies whose end_task changes their state: the resumed run still ends the task.
    spec = make_spec(
        strategy=strategy,
        benchmark={"n_tasks": 3},
        training={"iterations_per_task": 12},
        evaluation={"every": 1},
        checkpoint_every=12,
    )
    # The checkpoint at 24 is the end of task 1, taken before its end_task.
    uninterrupted, _, resumed, outcome = crash_then_resume(spec, tmp_path / "run", 26)
    assert outcome.resumed_from == 24
    assert_resumed_from(uninterrupted, resumed, 24)
