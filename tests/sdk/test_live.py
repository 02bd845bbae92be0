"""The SDK against a real API process on PostgreSQL: online runs, offline runs and `gapwatch
sync`, `gapwatch login`, cancellation, an outage ridden out through a TCP proxy that is cut
and restored, and a run the server took for crashed resumed by itself."""

from __future__ import annotations

import io
import json
import logging
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import gapwatch
from gapwatch.cli import main
from gapwatch.client import GapwatchClient
from gapwatch.sdk.run import Run
from gapwatch.sdk.sync import UNFINISHED_ERROR, sync_all
from tests.conftest import REPO_ROOT, api_process, seed_account, temporary_database, wait_until
from tests.example_plugin import builtins_only_env

STEPS_PER_TASK = 50
# Task 0's accuracy while task 1 is trained (every 5 steps from s_1 = 50): a stability gap of
# 0.5 at 10 steps after the boundary, recovering to 0.85 (never within 1 point of 0.9).
TASK0_DURING_TASK1 = {55: 0.6, 60: 0.4, 65: 0.6, 70: 0.7, 75: 0.8}

Points = dict[str, dict[int, float]]


def accuracy(task: int, step: int) -> float:
    if task == 0:
        return 0.4 + step / 100 if step <= 50 else TASK0_DURING_TASK1.get(step, 0.85)
    return 0.125 if step <= 50 else 0.125 + (step - 50) / 80


def training_loop(run: Run, tasks: int = 2) -> Points:
    """What a small continual-learning loop logs; returns every point it logged."""
    logged: Points = {}

    def log(values: dict[str, float], step: int) -> None:
        for key, value in values.items():
            logged.setdefault(key, {})[step] = value

    step = 0
    for task in range(tasks):
        run.task_start(task, step=step, eval_samples=100)
        for _ in range(STEPS_PER_TASK):
            step += 1
            values = {"train/loss": 1.0 / step, "train/lr": 0.01}
            run.log(values, step=step)
            log(values, step)
            if step % 5 == 0:
                accs = {j: accuracy(j, step) for j in range(tasks)}
                losses = {j: 1.0 - a for j, a in accs.items()}
                run.log_eval(accs, step=step, losses=losses)
                log({f"eval/acc/task_{j}": a for j, a in accs.items()}, step)
                log({f"eval/loss/task_{j}": v for j, v in losses.items()}, step)
        run.task_end(task, step=step)
    return logged


def stored_points(client: GapwatchClient, run_id: int) -> Points:
    return {
        key: dict(zip(steps, values, strict=True))
        for key, (steps, values) in client.get_metrics(run_id).items()
    }


def stored_events(client: GapwatchClient, run_id: int) -> list[tuple[str, int, dict]]:
    return [(e["kind"], e["step"], e["payload"]) for e in client.get_events(run_id)]


@pytest.fixture
def sdk_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No login, server or mode from the machine running the tests."""
    for name in ("GAPWATCH_URL", "GAPWATCH_API_KEY", "GAPWATCH_MODE", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GAPWATCH_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path


@pytest.fixture
def api(live_api: str, live_key: str) -> Iterator[GapwatchClient]:
    with GapwatchClient(live_api, api_key=live_key) as client:
        yield client


def unique_group() -> str:
    return f"sdk-{uuid.uuid4().hex[:10]}"


def test_an_online_run_is_a_loop_run_with_every_point_and_its_gaps(
    sdk_env: Path, live_api: str, live_key: str, api: GapwatchClient
) -> None:
    group = unique_group()
    config = {"lr": 0.01, "memory": 2000, "optimizer": {"name": "sgd", "momentum": 0.9}}
    with gapwatch.init(
        name="my-er", config=config, tags=["mnist"], group=group,
        url=live_api, api_key=live_key, quiet=True,
    ) as run:  # fmt: skip
        assert run.id is not None and run.url == f"{live_api}/runs/{run.id}"
        assert api.get_run(run.id)["status"] == "running"
        logged = training_loop(run)
    assert run.status == "succeeded"

    shown = api.get_run(run.id)
    assert (shown["kind"], shown["status"], shown["spec"]) == ("loop", "succeeded", None)
    assert shown["config"] == config and run.config == config
    assert (shown["name"], shown["group"], shown["tags"]) == ("my-er", group, ["mnist"])
    assert shown["progress"]["step"] == 2 * STEPS_PER_TASK
    assert stored_points(api, run.id) == logged
    assert len(logged["eval/acc/task_0"]) == 20 and len(logged["train/loss"]) == 100
    assert stored_events(api, run.id) == [
        ("task_start", 0, {"task": 0, "eval_samples": 100}),
        ("task_end", 50, {"task": 0}),
        ("task_start", 50, {"task": 1, "eval_samples": 100}),
        ("task_end", 100, {"task": 1}),
    ]
    (boundary,) = api.get_gaps(run.id)["boundaries"]
    assert (boundary["task"], boundary["start"], boundary["end"]) == (1, 50, 100)
    (row,) = boundary["rows"]
    assert row["before"] == pytest.approx(0.9) and row["trough"] == pytest.approx(0.4)
    assert row["depth"] == pytest.approx(0.5) and row["trough_at"] == 10
    assert row["recovered_at"] is None


def test_an_exception_inside_with_fails_the_run_with_its_error_and_goes_on(
    sdk_env: Path, live_api: str, live_key: str, api: GapwatchClient
) -> None:
    with pytest.raises(FloatingPointError, match="loss diverged"):
        with gapwatch.init(name="diverges", url=live_api, api_key=live_key, quiet=True) as run:
            run.log({"train/loss": 0.5}, step=1)
            raise FloatingPointError("loss diverged at step 2")
    shown = api.get_run(run.id)
    assert shown["status"] == "failed" and run.status == "failed"
    assert shown["error"].startswith("FloatingPointError: loss diverged at step 2")
    assert "Traceback (most recent call last)" in shown["error"]
    assert "test_an_exception_inside_with" in shown["error"]
    assert stored_points(api, run.id) == {"train/loss": {1: 0.5}}


def test_resume_continues_a_finished_loop_run_with_its_config(
    sdk_env: Path, live_api: str, live_key: str, api: GapwatchClient
) -> None:
    with gapwatch.init(name="twice", config={"seed": 3}, url=live_api, api_key=live_key,
                       quiet=True) as first:  # fmt: skip
        first.log({"train/loss": 1.0}, step=0)
    with gapwatch.init(resume=first.id, url=live_api, api_key=live_key, quiet=True) as second:
        assert second.id == first.id and second.config == {"seed": 3}
        assert api.get_run(first.id)["status"] == "running"
        second.log({"train/loss": 0.5}, step=1)
    assert api.get_run(first.id)["status"] == "succeeded"
    assert stored_points(api, first.id) == {"train/loss": {0: 1.0, 1: 0.5}}


def test_an_offline_run_synced_equals_the_same_run_logged_online_and_syncs_once(
    sdk_env: Path,
    live_api: str,
    live_key: str,
    api: GapwatchClient,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    group = unique_group()
    fields = {"name": "twin", "config": {"lr": 0.05}, "tags": ["twin"], "group": group}
    with gapwatch.init(**fields, url=live_api, api_key=live_key, quiet=True) as online:
        training_loop(online)
    monkeypatch.setenv("GAPWATCH_MODE", "offline")  # the mode from the environment
    runs_dir = sdk_env / "runs"
    with gapwatch.init(**fields, dir=runs_dir, quiet=True) as offline:
        training_loop(offline)
        offline.log({"train/loss": 123.0}, step=1)  # a repeated step keeps its first value
    assert offline.mode == "offline" and offline.id is None
    monkeypatch.setenv("GAPWATCH_API_KEY", live_key)

    assert main(["sync", str(runs_dir), "--url", live_api]) == 0  # the parent directory
    first = capsys.readouterr().out
    synced = json.loads((offline.dir / "synced.json").read_text())
    run_id = synced["run_id"]
    assert f"created run {run_id} ({live_api}/runs/{run_id}); 280 points sent (280 new)" in first
    assert "4 events; succeeded" in first
    assert synced["finished"] is True and synced["url"] == f"{live_api}/runs/{run_id}"

    copy, original = api.get_run(run_id), api.get_run(online.id)
    for field in ("kind", "status", "name", "group", "tags", "config", "error", "project"):
        assert copy[field] == original[field], field
    assert stored_points(api, run_id) == stored_points(api, online.id)
    assert stored_points(api, run_id)["train/loss"][1] == 1.0
    assert stored_events(api, run_id) == stored_events(api, online.id)
    assert api.get_gaps(run_id)["boundaries"] == api.get_gaps(online.id)["boundaries"]

    assert main(["sync", str(offline.dir), "--url", live_api]) == 0  # the run directory
    assert f"already synced as run {run_id}" in capsys.readouterr().out
    assert api.list_runs(group=group)["total"] == 2  # the online one and one synced copy


def test_a_sync_cut_short_after_creating_the_run_resumes_it_instead_of_a_second_run(
    sdk_env: Path, live_api: str, live_key: str, api: GapwatchClient
) -> None:
    group = unique_group()
    run = gapwatch.init(name="half", group=group, mode="offline", dir=sdk_env, quiet=True)
    for step in range(300):
        run.log({"train/loss": step / 300}, step=step)
    run.finish()

    # An earlier sync created the run and sent some points, then died.
    opened = api.init_run(name="half", group=group)
    api.post_metrics(opened.run_id, opened.token, [{"key": "train/loss", "steps": [0, 1],
                                                    "values": [0.0, 1 / 300]}])  # fmt: skip
    (run.dir / "synced.json").write_text(json.dumps({"run_id": opened.run_id, "finished": False}))

    (result,) = sync_all([run.dir], url=live_api, api_key=live_key, report=lambda _: None)
    assert (result.outcome, result.run_id, result.status) == ("resumed", opened.run_id, "succeeded")
    assert (result.points, result.new_points) == (300, 298)  # sent again, stored once
    assert api.list_runs(group=group)["total"] == 1
    assert len(stored_points(api, opened.run_id)["train/loss"]) == 300


def test_a_killed_offline_run_syncs_as_failed_with_what_it_wrote(
    sdk_env: Path, live_api: str, live_key: str, api: GapwatchClient
) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal, gapwatch
        run = gapwatch.init(name="killed", mode="offline", dir={str(sdk_env)!r}, quiet=True)
        run.task_start(0, step=0)
        for step in range(200):
            run.log({{"train/loss": step / 200}}, step=step)
        run.flush()
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, timeout=60)
    assert done.returncode == -signal.SIGKILL

    (result,) = sync_all([sdk_env], url=live_api, api_key=live_key, report=lambda _: None)
    assert (result.outcome, result.status, result.points, result.events) == (
        "created", "failed", 200, 1
    )  # fmt: skip
    shown = api.get_run(result.run_id)
    assert shown["status"] == "failed" and shown["error"] == UNFINISHED_ERROR
    assert sorted(stored_points(api, result.run_id)["train/loss"]) == list(range(200))


def test_login_checks_the_key_and_stores_it_for_init(
    sdk_env: Path,
    live_api: str,
    live_key: str,
    api: GapwatchClient,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = sdk_env / "config" / "config.json"
    monkeypatch.setattr(sys, "stdin", io.StringIO("gw_not_a_key\n"))
    assert main(["login", "--url", live_api, "--key-stdin"]) == 2
    assert "refused the key" in capsys.readouterr().err
    assert not config.exists()

    monkeypatch.setattr(sys, "stdin", io.StringIO(live_key + "\n"))
    assert main(["login", "--url", live_api, "--key-stdin"]) == 0
    assert f"signed in to {live_api} as live-owner" in capsys.readouterr().out
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert json.loads(config.read_text()) == {"url": live_api, "api_key": live_key}

    with gapwatch.init(name="after-login", quiet=True) as run:  # no url, no key given
        run.log({"train/loss": 0.25}, step=3)
    assert run.url == f"{live_api}/runs/{run.id}"
    assert stored_points(api, run.id) == {"train/loss": {3: 0.25}}

    assert main(["logout"]) == 0
    assert not config.exists()
    with pytest.raises(ValueError, match="no API key"):
        gapwatch.init(url=live_api, quiet=True)


def test_a_run_cancelled_from_the_dashboard_tells_the_loop_to_stop(
    sdk_env: Path, live_api: str, live_key: str, api: GapwatchClient
) -> None:
    run = gapwatch.init(name="cancel-me", url=live_api, api_key=live_key, quiet=True,
                        heartbeat_interval_s=0.2, flush_interval_s=0.05)  # fmt: skip
    run.log({"train/loss": 1.0}, step=0)
    run.flush()
    api.cancel_run(run.id)
    step = 0
    deadline = time.monotonic() + 20
    while not run.should_stop and time.monotonic() < deadline:
        step += 1
        run.log({"train/loss": 1.0 / step}, step=step)
        time.sleep(0.01)
    assert run.should_stop
    run.log({"train/loss": 0.0}, step=10**6)  # dropped, not an error in the loop
    run.finish()
    assert run.status == "cancelled" and api.get_run(run.id)["status"] == "cancelled"
    assert 10**6 not in stored_points(api, run.id)["train/loss"]


class TcpProxy:
    """Forwards 127.0.0.1:<port> to the API. `cut()` closes the port and every connection
    through it (the network is down); `restore()` listens again on the same port."""

    def __init__(self, upstream_port: int) -> None:
        self._upstream = upstream_port
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._listener: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self.restore()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, []
        if listener is not None:  # shutdown wakes the accept() blocked in the other thread
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            connection.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            upstream = socket.create_connection(("127.0.0.1", self._upstream))
            with self._lock:
                self._connections += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def test_an_outage_is_ridden_out_and_every_point_logged_during_it_arrives_once(
    sdk_env: Path,
    live_api: str,
    live_key: str,
    api: GapwatchClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    proxy = TcpProxy(int(live_api.rsplit(":", 1)[1]))
    caplog.set_level(logging.WARNING, logger="gapwatch.client")
    run = gapwatch.init(
        name="outage", url=proxy.url, api_key=live_key, quiet=True, flush_interval_s=0.05,
        heartbeat_interval_s=0.5, max_buffered_points=100,  # small: the outage spills to disk
    )  # fmt: skip
    try:
        for step in range(100):
            run.log({"train/loss": step / 1000}, step=step)
        run.flush()
        proxy.cut()
        started = time.monotonic()
        for step in range(100, 1100):  # logged while the server cannot be reached
            run.log({"train/loss": step / 1000, "eval/acc/task_0": 0.5}, step=step)
            if step % 250 == 0:
                run.event("note", step, {"during": "outage"})
        assert time.monotonic() - started < 5  # log never waited on the network
        spill = run._backend._spill  # type: ignore[attr-defined]
        wait_until(lambda: len(spill) >= 10, 10, "the overflow on disk")
        time.sleep(2.0)  # a few retries fail
        proxy.restore()
        run.finish()
    finally:
        proxy.cut()
    assert any("retrying" in r.getMessage() for r in caplog.records)
    assert run.status == "succeeded" and api.get_run(run.id)["status"] == "succeeded"
    points = api.get_metrics(run.id)
    steps, values = points["train/loss"]
    assert steps == list(range(1100))  # every step once, in order
    assert values[700] == pytest.approx(0.7)
    assert points["eval/acc/task_0"][0] == list(range(100, 1100))
    assert [e[1] for e in stored_events(api, run.id)] == [250, 500, 750, 1000]


def test_a_run_taken_for_crashed_during_an_outage_is_resumed_by_the_sdk(
    sdk_env: Path, test_queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An API whose sweep marks a loop run crashed after 1 s without a heartbeat (its own
    database: the short timeout must not touch other tests' runs)."""
    caplog.set_level(logging.WARNING, logger="gapwatch.sdk")
    name = f"gapwatch_sdk_crash_{uuid.uuid4().hex[:8]}"
    with temporary_database(name) as url:
        key = seed_account(url, "crash-owner").key
        env = {"GAPWATCH_HEARTBEAT_TIMEOUT_S": "1", "GAPWATCH_STALE_SWEEP_INTERVAL_S": "0.2"}
        with api_process("sdk-crash-api", url, test_queue, **env) as base:
            with GapwatchClient(base, api_key=key) as api:
                run = gapwatch.init(name="silent", url=base, api_key=key, quiet=True,
                                    heartbeat_interval_s=3600, flush_interval_s=0.05)  # fmt: skip
                run.log({"train/loss": 0.5}, step=0)
                run.flush()
                wait_until(lambda: api.get_run(run.id)["status"] == "crashed", 15, "crashed")
                run.log({"train/loss": 0.25}, step=1)  # refused (409), then resumed
                run.flush()
                run.finish()
                shown = api.get_run(run.id)
                assert (shown["status"], run.status) == ("succeeded", "succeeded")
                assert stored_points(api, run.id) == {"train/loss": {0: 0.5, 1: 0.25}}
    assert any("resumed" in r.getMessage() for r in caplog.records)


def test_the_sdk_imports_no_server_and_no_torch() -> None:
    code = (
        "import sys, gapwatch; gapwatch.init; import gapwatch.sdk.sync, gapwatch.sdk.commands; "
        "bad = {m.split('.')[0] for m in sys.modules} & {'torch', 'fastapi', 'sqlalchemy', "
        "'celery', 'numpy'} | {m for m in sys.modules if m.startswith('gapwatch.server')}; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT,
                   env=builtins_only_env(PYTHONPATH=""))  # fmt: skip


def test_a_sync_that_died_before_recording_its_run_opens_the_same_run_again(
    sdk_env: Path, live_api: str, live_key: str, api: GapwatchClient
) -> None:
    group = unique_group()
    run = gapwatch.init(name="lost-answer", group=group, mode="offline", dir=sdk_env, quiet=True)
    run.log({"train/loss": 0.5}, step=1)
    run.finish()
    first = sync_all([run.dir], url=live_api, api_key=live_key, report=lambda _r: None)
    (run.dir / "synced.json").unlink()  # as if the process died before writing it
    again = sync_all([run.dir], url=live_api, api_key=live_key, report=lambda _r: None)
    assert first[0].outcome == "created" and again[0].outcome == "resumed"
    assert again[0].run_id == first[0].run_id and again[0].new_points == 0
    assert api.list_runs(group=group)["total"] == 1
