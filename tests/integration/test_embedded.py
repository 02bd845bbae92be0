"""The `make up` path: `gapwatch up` with SQLite and the filesystem broker, no other server."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import httpx
import pytest

from gapwatch.client import GapwatchClient
from tests.conftest import (
    LiveProcess,
    clean_env,
    free_port,
    http_ok,
    offline_dataset_env,
    wait_until,
)

pytestmark = pytest.mark.integration


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_make_up_serves_trains_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    env = clean_env(
        GAPWATCH_DATA_DIR=str(data_dir), GAPWATCH_PORT=str(port), **offline_dataset_env()
    )
    # The README's command, in its own process group like a terminal's foreground job.
    service = LiveProcess("embedded", ["make", "--no-print-directory", "up"], env, new_group=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_ok(url + "/health"), 60, "embedded service")
        # The dashboard `make up` built, at / and at any of its own URLs.
        for page in ("/", "/runs/1"):
            html = httpx.get(url + page).text
            assert '<div id="root">' in html and "/assets/" in html, (page, html[:300])
        with GapwatchClient(url) as client:
            run = client.create_run(
                {
                    "benchmark": {"name": "split_digits"},
                    "model": {"name": "mlp", "hidden_sizes": [32]},
                    "strategy": {"name": "er", "buffer_size": 50},
                    "training": {"iterations_per_task": 10},
                }
            )
            finished = client.wait_for_run(run["id"], timeout_s=120)
            assert finished["status"] == "succeeded", finished["error"]
            series = client.get_metrics(run["id"], ["eval/acc/task_4"])
            assert series["eval/acc/task_4"][0] == [0, *range(40, 51)]
        assert (data_dir / "gapwatch.db").exists()
        assert (data_dir / "broker" / "queue").is_dir()
    finally:
        match = re.search(r"worker pid (\d+)", service.output())
        service.stop(signal.SIGINT, timeout_s=30)  # Ctrl-C: SIGINT to the whole group
    output = service.output()
    assert match, output
    worker_pid = int(match.group(1))
    wait_until(lambda: not _alive(worker_pid), 15, "worker process exit")
    assert "Finished server process" in output and "Traceback" not in output, output
