"""The examples run as a researcher runs them: a subprocess with a key against a live API. The
run's gaps are those computed from the points it logged, and an offline copy, synced, holds the
same points."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from gapwatch import analytics
from gapwatch.client import GapwatchClient
from gapwatch.sdk.sync import sync_all
from tests.conftest import REPO_ROOT, clean_env

pytestmark = pytest.mark.integration
RUN_LINE = re.compile(r"^run (\d+): ", re.MULTILINE)


def run_example(script: str, cwd: Path, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "examples" / script), "--steps", "40"],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def gaps_from_points(client: GapwatchClient, run_id: int) -> list[tuple[int, int, float]]:
    """(boundary task, earlier task, depth) from the run's logged points and events, by the
    analytics' own definition."""
    series = client.get_metrics(run_id)
    events = client.get_events(run_id)
    starts = {e["payload"]["task"]: e["step"] for e in events if e["kind"] == "task_start"}
    ends = {e["payload"]["task"]: e["step"] for e in events if e["kind"] == "task_end"}
    schedule = analytics.Schedule(
        tuple(starts[k] for k in range(len(starts))), tuple(ends.get(k) for k in range(len(starts)))
    )
    curves = [analytics.Curve.of(*series[f"eval/acc/task_{j}"]) for j in range(schedule.n_tasks)]
    return [
        (boundary.task, j, row.depth)
        for boundary in analytics.stability_gaps(curves, schedule)
        for j, row in boundary.rows
        if row is not None
    ]


def test_own_loop_online_matches_its_points_and_its_offline_copy(
    tmp_path: Path, live_api: str, live_key: str
) -> None:
    connection = {"GAPWATCH_URL": live_api, "GAPWATCH_API_KEY": live_key}
    online = run_example("own_loop.py", tmp_path, **connection)
    run_id = int(RUN_LINE.search(online).group(1))

    with GapwatchClient(live_api, api_key=live_key) as client:
        run = client.get_run(run_id)
        assert run["kind"] == "loop" and run["status"] == "succeeded"
        assert run["config"]["strategy"] == "er"
        served = [
            (b["task"], row["task"], row["depth"])
            for b in client.get_gaps(run_id)["boundaries"]
            for row in b["rows"]
            if row["evaluated"]
        ]
        expected = gaps_from_points(client, run_id)
        assert len(expected) == 10  # 4 boundaries x the tasks before each
        assert served == [(k, j, pytest.approx(d, abs=1e-12)) for k, j, d in expected]

        offline = run_example("own_loop.py", tmp_path, GAPWATCH_MODE="offline")
        assert RUN_LINE.search(offline) is None  # no server id until synced
        (result,) = sync_all([tmp_path / "gapwatch-runs"], url=live_api, api_key=live_key)
        assert result.outcome == "created", result.line()
        assert client.get_metrics(result.run_id) == client.get_metrics(run_id)
        assert client.get_run(result.run_id)["status"] == "succeeded"


def test_lightning_loop_logs_five_tasks(tmp_path: Path, live_api: str, live_key: str) -> None:
    pytest.importorskip("lightning")
    output = run_example(
        "lightning_loop.py", tmp_path, GAPWATCH_URL=live_api, GAPWATCH_API_KEY=live_key
    )
    run_id = int(RUN_LINE.search(output).group(1))
    with GapwatchClient(live_api, api_key=live_key) as client:
        assert client.get_run(run_id)["status"] == "succeeded"
        series = client.get_metrics(run_id, keys=[f"eval/acc/task_{j}" for j in range(5)])
        assert [len(series[f"eval/acc/task_{j}"][0]) for j in range(5)] == [200, 160, 120, 80, 40]
        depths = [row[2] for row in gaps_from_points(client, run_id)]
        assert max(depths) > 0.5  # fine-tuning forgets: the curves show it
