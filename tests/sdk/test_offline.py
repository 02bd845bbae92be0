"""Offline runs on disk: the directory's layout, and files that survive a crash mid-write."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import gapwatch
from gapwatch.sdk.offline import EVENTS, LOCK, META, POINTS, take_lock
from gapwatch.sdk.records import (
    CorruptFile,
    append_record,
    decode_columnar,
    read_lines,
    read_records,
)
from tests.conftest import REPO_ROOT


def points_of(directory: Path) -> dict[str, dict[int, float]]:
    """Every point of an offline run, first value of each (key, step) kept."""
    found: dict[str, dict[int, float]] = {}
    for payload in read_records(directory / POINTS):
        for key, (steps, values) in decode_columnar(payload).items():
            for step, value in zip(steps, values, strict=True):
                found.setdefault(key, {}).setdefault(step, value)
    return found


def test_an_offline_run_writes_meta_points_and_events(tmp_path: Path) -> None:
    run = gapwatch.init(
        project="cl-lab", name="offline-er", config={"lr": 0.01, "memory": 2000},
        tags=["mnist"], group="er-sweep", mode="offline", dir=tmp_path, quiet=True,
    )  # fmt: skip
    assert run.id is None and run.mode == "offline" and run.dir is not None
    assert run.dir.parent == tmp_path and run.dir.name.startswith("run-")
    run.task_start(0, step=0, eval_samples=100)
    for step in range(1, 301):
        run.log({"train/loss": 1.0 / step}, step=step)
    run.log_eval({0: 0.97, 1: 0.125}, step=300, losses={0: 0.1})
    run.task_end(0, step=300)
    run.finish()

    meta = json.loads((run.dir / META).read_text())
    assert meta["status"] == "succeeded" and meta["error"] is None
    assert (meta["project"], meta["name"], meta["group"], meta["tags"]) == (
        "cl-lab", "offline-er", "er-sweep", ["mnist"]
    )  # fmt: skip
    assert meta["config"] == {"lr": 0.01, "memory": 2000} and meta["finished_at"]
    points = points_of(run.dir)
    keys = ["eval/acc/task_0", "eval/acc/task_1", "eval/loss/task_0", "train/loss"]
    assert sorted(points) == keys
    assert len(points["train/loss"]) == 300 and points["train/loss"][4] == 0.25
    assert points["eval/acc/task_1"] == {300: 0.125}
    events = list(read_lines(run.dir / EVENTS))
    assert [(e["kind"], e["step"], e["payload"]) for e in events] == [
        ("task_start", 0, {"task": 0, "eval_samples": 100}),
        ("task_end", 300, {"task": 0}),
    ]
    # finished: the lock is free for `gapwatch sync`
    lock = take_lock(run.dir)
    assert lock is not None
    lock.close()


def test_an_exception_in_with_finishes_the_offline_run_failed(tmp_path: Path) -> None:
    with pytest.raises(ZeroDivisionError):
        with gapwatch.init(mode="offline", dir=tmp_path, quiet=True) as run:
            run.log({"train/loss": 0.5}, step=1)
            1 / 0  # noqa: B018
    meta = json.loads((run.dir / META).read_text())
    assert meta["status"] == "failed"
    assert meta["error"].startswith("ZeroDivisionError: division by zero")
    assert "Traceback" in meta["error"] and "1 / 0" in meta["error"]
    assert points_of(run.dir) == {"train/loss": {1: 0.5}}
    run.finish()  # idempotent
    assert run.status == "failed"
    with pytest.raises(RuntimeError, match="failed"):
        run.log({"train/loss": 0.1}, step=2)


def test_a_torn_last_record_is_ignored_and_the_rest_read(tmp_path: Path) -> None:
    path = tmp_path / "points.bin"
    with path.open("ab") as file:
        for n in range(3):
            append_record(file, f"record {n}".encode())
    whole = path.read_bytes()
    for cut in (1, 5, 12, 15):  # inside the header, inside the payload
        path.write_bytes(whole[:-cut])
        assert list(read_records(path)) == [b"record 0", b"record 1"]
    path.write_bytes(whole + bytes(40))  # a power loss left zeros past the data
    assert list(read_records(path)) == [b"record 0", b"record 1", b"record 2"]
    damaged = bytearray(whole)
    damaged[15] ^= 0xFF  # inside record 0's payload (12-byte header), records after it
    path.write_bytes(bytes(damaged))
    with pytest.raises(CorruptFile, match="byte 0"):
        list(read_records(path))


def test_a_torn_last_event_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"step": 1, "kind": "a", "payload": {}}\n{"step": 2, "ki')
    assert [e["step"] for e in read_lines(path)] == [1]
    path.write_bytes(b'{"step": 1, "kind": "a", "payload": {}}\n{"step": 2, "ki\n')
    assert [e["step"] for e in read_lines(path)] == [1]
    path.write_bytes(b'{"step": 1, "ki\n{"step": 2, "kind": "a", "payload": {}}\n')
    with pytest.raises(CorruptFile, match="line 1"):
        list(read_lines(path))


def test_a_killed_training_process_leaves_a_readable_unlocked_run(tmp_path: Path) -> None:
    """The loop is killed (SIGKILL: no finally, no atexit) after its points reached the file:
    everything written is readable, meta still says running, and the lock is gone."""
    script = textwrap.dedent(
        f"""
        import os, signal, gapwatch
        run = gapwatch.init(name="killed", mode="offline", dir={str(tmp_path)!r}, quiet=True)
        run.task_start(0, step=0)
        for step in range(1000):
            run.log({{"train/loss": step / 1000}}, step=step)
        run.flush()
        run.log({{"train/loss": 9.0}}, step=5000)   # buffered, never written
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    process = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, timeout=60
    )
    assert process.returncode == -signal.SIGKILL, process.stderr.decode()
    (directory,) = tmp_path.iterdir()
    assert json.loads((directory / META).read_text())["status"] == "running"
    points = points_of(directory)
    assert sorted(points["train/loss"]) == list(range(1000))
    assert [e["kind"] for e in read_lines(directory / EVENTS)] == ["task_start"]
    assert (directory / LOCK).exists()
    lock = take_lock(directory)
    assert lock is not None
    lock.close()


def test_an_open_run_directory_is_locked(tmp_path: Path) -> None:
    run = gapwatch.init(mode="offline", dir=tmp_path, quiet=True)
    assert run.dir is not None
    if os.name == "posix":
        assert take_lock(run.dir) is None
    run.finish()
    lock = take_lock(run.dir)
    assert lock is not None
    lock.close()
