"""`gapwatch sweep FILE [--wait]` and `gapwatch submit --wait` against a real API process on
PostgreSQL and Redis. The runs go to a queue no worker consumes; the tests play the worker
themselves through the API (claim, heartbeat, points, finish), which is what the commands
wait on, in a few seconds instead of a training's minutes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import (
    UNWORKED_QUEUE,
    WORKER_TOKEN,
    LiveProcess,
    api_process,
    clean_env,
    wait_until,
)

pytestmark = pytest.mark.integration

SWEEP_YAML = """\
name: cli-lr
base:
  benchmark: {name: split_digits, n_tasks: 2}
  model: {name: mlp, hidden_sizes: [16]}
  strategy: {name: er, buffer_size: 20}
  training: {iterations_per_task: 5}
axes:
  optimizer.lr: [1e-3, 0.1]   # YAML 1.2 numbers: 1e-3 is a number, not text
  seed: [0, 1]
"""


@pytest.fixture(scope="module")
def unworked_api(pg_live_url: str, redis_client) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with api_process("cli-api", pg_live_url, UNWORKED_QUEUE) as url:
        yield url


def gapwatch(*args: str, url: str, key: str) -> list[str]:
    return [sys.executable, "-m", "gapwatch.cli", *args, "--url", url, "--api-key", key]


def run_sweep(file: Path, url: str, key: str) -> subprocess.CompletedProcess[str]:
    """`gapwatch sweep FILE` without --wait, to its end."""
    return subprocess.run(
        gapwatch("sweep", str(file), url=url, key=key),
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def play_worker(url: str, run_id: int, accuracy: float) -> None:
    """Claim the run, report progress, store two tasks' curves and finish it."""
    claimed = httpx.post(
        f"{url}/api/v1/runs/{run_id}/claim",
        json={"worker": "test"},
        headers={"Authorization": f"Bearer {WORKER_TOKEN}"},
    )
    assert claimed.status_code == 200, claimed.text
    auth = {"Authorization": f"Bearer {claimed.json()['token']}"}
    path = f"{url}/api/v1/runs/{run_id}"
    beat = httpx.post(f"{path}/heartbeat", json={"step": 5, "total_steps": 10}, headers=auth)
    assert beat.status_code == 200
    events = [
        {"step": 0, "kind": "task_start", "payload": {"task": 0}},
        {"step": 5, "kind": "task_end", "payload": {"task": 0}},
        {"step": 5, "kind": "task_start", "payload": {"task": 1}},
        {"step": 10, "kind": "task_end", "payload": {"task": 1}},
    ]
    assert httpx.post(f"{path}/events", json={"events": events}, headers=auth).status_code == 200
    steps = list(range(11))
    series = [
        {"key": "eval/acc/task_0", "steps": steps, "values": [0.5] * 5 + [accuracy] * 6},
        {"key": "eval/acc/task_1", "steps": steps[5:], "values": [0.0] + [accuracy] * 5},
    ]
    assert httpx.post(f"{path}/metrics", json={"series": series}, headers=auth).status_code == 200
    finish = httpx.post(f"{path}/finish", json={"status": "succeeded"}, headers=auth)
    assert finish.status_code == 200, finish.text


def first_line_id(process: LiveProcess, word: str) -> int:
    """The id the command printed first (`sweep 12 ...`, `run 7 ...`)."""
    wait_until(lambda: f"{word} " in process.output(), 60, f"the {word} line")
    line = next(x for x in process.output().splitlines() if x.startswith(f"{word} "))
    return int(line.split()[1])


def finish(process: LiveProcess, timeout_s: float = 60.0) -> int:
    deadline = time.monotonic() + timeout_s
    while process.process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return process.stop()


def test_sweep_posts_a_yaml_file_and_prints_the_sweep_page(
    tmp_path: Path, unworked_api: str, live_key: str
) -> None:
    spec = tmp_path / "sweep.yaml"
    spec.write_text(SWEEP_YAML)
    done = run_sweep(spec, unworked_api, live_key)
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    sweep_id = int(first.split()[1])
    assert first == f"sweep {sweep_id} cli-lr: 4 runs queued: {unworked_api}/sweeps/{sweep_id}"
    assert "HTTP Request" not in done.stderr  # httpx's per-request log line is silenced

    headers = {"Authorization": f"Bearer {live_key}"}
    sweep = httpx.get(f"{unworked_api}/api/v1/sweeps/{sweep_id}", headers=headers).json()
    assert sweep["axes"] == {"optimizer.lr": [0.001, 0.1], "seed": [0, 1]}
    assert sweep["progress"]["queued"] == 4

    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"base": {"benchmark": {"name": "split_digits"}, "model": {"name": "mlp"},'
        ' "strategy": {"name": "er"}}, "axes": {"optimizer.lr": [0.1, 20]}}'
    )
    refused = run_sweep(bad, unworked_api, live_key)
    assert refused.returncode == 2
    assert "axes.optimizer.lr:" in refused.stderr and "optimizer.lr=20" in refused.stderr


def test_sweep_wait_shows_progress_then_the_results_table(
    tmp_path: Path, unworked_api: str, live_key: str
) -> None:
    spec = tmp_path / "sweep.yaml"
    spec.write_text(SWEEP_YAML)
    command = LiveProcess(
        "cli-sweep-wait",
        gapwatch(
            "sweep", str(spec), "--wait", "--metrics", "acc,gap", url=unworked_api, key=live_key
        ),
        clean_env(COLUMNS="120"),
    )
    try:
        sweep_id = first_line_id(command, "sweep")
        headers = {"Authorization": f"Bearer {live_key}"}
        sweep = httpx.get(f"{unworked_api}/api/v1/sweeps/{sweep_id}", headers=headers).json()
        for run_id, accuracy in zip(sweep["run_ids"], (0.8, 0.9, 0.6, 0.7), strict=True):
            play_worker(unworked_api, run_id, accuracy)
        code = finish(command)
    finally:
        command.stop()
    output = command.output()
    assert code == 0, output
    assert "4/4" in output and "runs ended" in output  # the progress bar, at its end
    assert "optimizer.lr" in output and "ACC" in output
    # lr 0.001: seeds at 80% and 90% (mean 85.0); lr 0.1: 60% and 70% (mean 65.0).
    assert "85.0 ±" in output and "65.0 ±" in output
    assert output.rstrip().endswith(f"{unworked_api}/sweeps/{sweep_id}")
    assert "HTTP Request" not in output


def test_submit_wait_shows_one_progress_bar_then_the_url_and_the_headline_numbers(
    tmp_path: Path, unworked_api: str, live_key: str
) -> None:
    spec = tmp_path / "run.json"
    spec.write_text(
        '{"benchmark": {"name": "split_digits", "n_tasks": 2}, "model": {"name": "mlp"},'
        ' "strategy": {"name": "finetune"}, "training": {"iterations_per_task": 5}}'
    )
    command = LiveProcess(
        "cli-submit-wait",
        gapwatch("submit", str(spec), "--wait", url=unworked_api, key=live_key),
        clean_env(COLUMNS="120"),
    )
    try:
        run_id = first_line_id(command, "run")
        time.sleep(1.5)  # a few polls while it is queued: none may print a line of its own
        play_worker(unworked_api, run_id, 0.75)
        code = finish(command)
    finally:
        command.stop()
    output = command.output()
    assert code == 0, output
    assert "HTTP Request" not in output and "httpx" not in output
    assert f"run {run_id} succeeded" in output
    assert "10/10 it" in output  # the finished run's steps (heartbeat total, then the finish)
    assert "headline numbers" in output and "ACC" in output and "75.0" in output
    assert output.rstrip().endswith(f"{unworked_api}/runs/{run_id}")
