"""The `make up` path: `gapwatch up` with SQLite and the filesystem broker, no other server."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from subprocess import CompletedProcess

import httpx
import pytest

from gapwatch.client import GapwatchClient, NotAuthenticated
from gapwatch.config import DEVELOPMENT_WORKER_TOKEN
from tests.conftest import (
    REPO_ROOT,
    LiveProcess,
    clean_env,
    free_port,
    http_ok,
    offline_dataset_env,
    wait_for_run,
    wait_until,
)

pytestmark = pytest.mark.integration

# A one-time sign-in link as `gapwatch up` and `gapwatch login-link` print it.
LINK = re.compile(r"(http://\S+)/sign-in#token=([A-Za-z0-9_-]+)")
# Later starts' hint: "(for a one-time sign-in link: `<command> login-link`)".
LINK_HINT = re.compile(r"`([^`]+) login-link`")
SESSION_COOKIE = "gapwatch_session"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _printed_link(service: LiveProcess, url: str) -> str:
    """The token of the sign-in link the service printed for `url`, waiting for it briefly:
    a person needs it while the service runs, not after it stops."""
    try:
        wait_until(lambda: LINK.search(service.output()) is not None, 10, "sign-in link")
    except TimeoutError:
        raise AssertionError(
            "no sign-in link in the output of a running first start:\n" + service.output()
        ) from None
    found = LINK.search(service.output())
    assert found is not None and found.group(1) == url, found
    return found.group(2)


def _exchange(url: str, token: str) -> httpx.Response:
    return httpx.post(url + "/api/v1/auth/link", json={"token": token}, timeout=10)


def _signed_in_user(url: str, token: str) -> dict:
    """Exchanges a one-time token for a session and asks who that session is."""
    answer = _exchange(url, token)
    assert answer.status_code == 200, answer.text
    cookie = answer.cookies.get(SESSION_COOKIE)
    assert cookie, answer.headers
    me = httpx.get(
        url + "/api/v1/auth/me", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}, timeout=10
    )
    assert me.status_code == 200, me.text
    assert me.json()["via"] == "session" and me.json()["csrf_token"] == answer.json()["csrf_token"]
    return me.json()["user"]


def _run(command: list[str], env: dict[str, str], timeout: float = 60) -> CompletedProcess[str]:
    """`command` run to its end from the repository's root, its output captured as text."""
    return subprocess.run(
        command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout
    )


def _create_key(env: dict[str, str], name: str) -> str:
    """`gapwatch keys create NAME` on the service's data dir: the key is its last line."""
    done = _run([sys.executable, "-m", "gapwatch.cli", "keys", "create", name], env)
    assert done.returncode == 0, done.stdout + done.stderr
    key = done.stdout.strip().splitlines()[-1]
    assert key.startswith("gw_"), done.stdout
    return key


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

        # The first start created the admin and printed a link to the dashboard's sign-in
        # page; opening the page does not spend it, exchanging it does, once.
        token = _printed_link(service, url)
        # What a browser fetches for the link: the page, without the fragment (the token).
        assert '<div id="root">' in httpx.get(f"{url}/sign-in").text
        user = _signed_in_user(url, token)
        assert user["name"] == "admin" and user["is_admin"] and not user["has_password"], user
        again = _exchange(url, token)
        assert again.status_code == 401 and SESSION_COOKIE not in again.cookies, again.text

        # A program's key from the CLI, next to the running service; without it, a 401.
        key = _create_key(env, "tests")
        with GapwatchClient(url, api_key="") as anonymous:
            with pytest.raises(NotAuthenticated):
                anonymous.list_runs()
        with GapwatchClient(url, api_key=key) as client:
            run = client.create_run(
                {
                    "benchmark": {"name": "split_digits"},
                    "model": {"name": "mlp", "hidden_sizes": [32]},
                    "strategy": {"name": "er", "buffer_size": 50},
                    "training": {"iterations_per_task": 10},
                }
            )
            finished = wait_for_run(client, run["id"])
            assert finished["status"] == "succeeded", finished["error"]
            assert finished["project"] == "default", finished
            series = client.get_metrics(run["id"], ["eval/acc/task_4"])
            assert series["eval/acc/task_4"][0] == [0, *range(40, 51)]
        # The worker claimed with this start's own secret; the well-known default opens nothing.
        claim = httpx.post(
            f"{url}/api/v1/runs/{run['id']}/claim",
            json={"worker": "intruder"},
            headers={"Authorization": f"Bearer {DEVELOPMENT_WORKER_TOKEN}"},
        )
        assert claim.status_code == 403, claim.text
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
    assert len(LINK.findall(output)) == 1, output

    # A later start on the same data: no new admin and no link, but how to get one; the key
    # still works. The command `make up` runs, without make's checks of the build.
    gapwatch = str(Path(sys.executable).parent / "gapwatch")
    later = LiveProcess("embedded-again", [gapwatch, "up"], env, new_group=True)
    try:
        wait_until(lambda: http_ok(url + "/health"), 60, "embedded service, second start")
        me = httpx.get(url + "/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
        assert me.status_code == 200 and me.json()["user"]["name"] == "admin", me.text
        assert me.json()["via"] == "key"
        try:
            wait_until(lambda: LINK_HINT.search(later.output()) is not None, 10, "login-link hint")
        except TimeoutError:
            raise AssertionError(
                "no login-link hint in the output of a running later start:\n" + later.output()
            ) from None
        hint = LINK_HINT.search(later.output())
        assert hint is not None
        # The hint's command, run as a person would from here, prints a link that signs in.
        printed = _run([*shlex.split(hint.group(1)), "login-link"], env)
        assert printed.returncode == 0, printed.stdout + printed.stderr
        link = LINK.search(printed.stdout)
        assert link is not None and link.group(1) == url, printed.stdout
        assert _signed_in_user(url, link.group(2))["name"] == "admin"
    finally:
        later.stop(signal.SIGINT, timeout_s=30)
    output = later.output()
    assert "Finished server process" in output and "Traceback" not in output, output
    assert LINK.search(output) is None and "created the admin" not in output, output


# A worker's stand-in: it watches its parent (`gapwatch up`'s role) as the worker does, without
# PR_SET_PDEATHSIG, says it is ready, and would then sleep for a minute.
WATCHING_CHILD = """
import os, sys, threading, time
from gapwatch_worker.app import _watch_parent
threading.Thread(target=_watch_parent, args=(os.getppid(), 0.05), daemon=True).start()
print("watching", flush=True)
time.sleep(60)
"""
# Its parent: starts it in a session of its own, as `gapwatch up` does, and ends once it watches.
PARENT = """
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdout=subprocess.PIPE,
                         text=True, start_new_session=True)
assert child.stdout.readline() == "watching\\n"
print(child.pid, flush=True)
"""


def test_the_workers_watchdog_ends_it_when_its_parent_is_gone(tmp_path: Path) -> None:
    env = clean_env(GAPWATCH_DATA_DIR=str(tmp_path))
    parent = _run([sys.executable, "-c", PARENT, WATCHING_CHILD], env)
    assert parent.returncode == 0, parent.stdout + parent.stderr
    child = int(parent.stdout.split()[0])
    wait_until(lambda: _gone(child), 10, "the orphan's exit")


def test_a_worker_whose_parent_died_before_it_watched_exits_at_once(tmp_path: Path) -> None:
    # PID 1 is not this child's parent: the parent it was told of is gone already.
    done = _run(
        [
            sys.executable,
            "-c",
            "from gapwatch_worker.app import die_with_parent; import time\n"
            "die_with_parent(1); time.sleep(60)",
        ],
        clean_env(GAPWATCH_DATA_DIR=str(tmp_path)),
        timeout=30,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "its gapwatch up (pid 1) is gone; stopping" in done.stdout, done.stdout


# Small and offline, long enough to be stopped mid-run (1,000 updates, every task evaluated
# every 5), with a checkpoint every 50 updates to resume from.
RESUMABLE_SPEC = {
    "benchmark": {"name": "split_digits"},
    "model": {"name": "mlp", "hidden_sizes": [32]},
    "strategy": {"name": "er", "buffer_size": 50},
    "optimizer": {"name": "sgd", "lr": 0.05},
    "training": {"iterations_per_task": 200, "batch_size": 16},
    "evaluation": {"every": 5, "subset_size": 200},
    "checkpoint_every": 50,
    "device": "cpu",
    "seed": 3,
}
STEPS = 5 * 200


def _gone(pid: int) -> bool:
    """The process has ended. An orphan's zombie counts as ended: whoever adopted it (PID 1
    in a container) may never reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    except OSError:  # no /proc: ask the kernel
        return not _alive(pid)
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def _up(name: str, env: dict[str, str], url: str) -> tuple[LiveProcess, int]:
    """`gapwatch up` as a terminal's foreground job, serving; returns it and its worker's pid."""
    gapwatch = str(Path(sys.executable).parent / "gapwatch")
    service = LiveProcess(name, [gapwatch, "up"], env, new_group=True)
    try:
        wait_until(lambda: http_ok(url + "/health"), 90, f"{name} serving")
    except TimeoutError:
        service.stop(signal.SIGINT)
        raise AssertionError(f"{name} did not serve:\n" + service.output()) from None
    found = re.search(r"worker pid (\d+)", service.output())
    assert found, service.output()
    return service, int(found.group(1))


def _wait_for_checkpoint(client: GapwatchClient, data_dir: Path, run_id: int) -> None:
    """Until the run has written a checkpoint (it is then mid-run, past step 50)."""
    checkpoint = data_dir / "artifacts" / "runs" / str(run_id) / "checkpoint.pt"
    wait_until(checkpoint.exists, 180, f"run {run_id}'s first checkpoint", interval_s=0.01)
    run = client.get_run(run_id)
    assert run["status"] == "running" and run["progress"]["step"] < STEPS, run


def _curves(client: GapwatchClient, run_id: int) -> dict[str, tuple[list[int], list[float]]]:
    finished = wait_for_run(client, run_id)
    assert finished["status"] == "succeeded", finished["error"]
    series = client.get_metrics(run_id)
    curves = {k: v for k, v in series.items() if k.startswith(("eval/", "train/"))}
    # Every evaluation is there: the comparisons below are of whole curves.
    assert curves["eval/acc/task_0"][0] == list(range(0, STEPS + 1, 5)), run_id
    assert curves["train/loss"][0] == list(range(1, STEPS + 1)), run_id
    return curves


def test_up_locks_its_data_takes_its_worker_along_and_resumes_interrupted_runs(
    tmp_path: Path,
) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    env = clean_env(
        GAPWATCH_DATA_DIR=str(data_dir), GAPWATCH_PORT=str(port), **offline_dataset_env()
    )
    url = f"http://127.0.0.1:{port}"
    gapwatch = str(Path(sys.executable).parent / "gapwatch")
    services: list[LiveProcess] = []
    try:
        first, first_worker = _up("up-crash-1", env, url)
        services.append(first)

        # A second `up` on the same data is refused while the first runs, and changes nothing.
        second = _run([gapwatch, "up"], {**env, "GAPWATCH_PORT": str(free_port())})
        assert second.returncode != 0, second.stdout + second.stderr
        expected = f"gapwatch up is already running here (pid {first.process.pid}); stop it first"
        assert expected in second.stderr, second.stdout + second.stderr
        assert "Uvicorn running" not in second.stdout + second.stderr
        assert (data_dir / "up.lock").read_text().strip() == str(first.process.pid)
        assert http_ok(url + "/health")

        key = _create_key(env, "tests")
        client = GapwatchClient(url, api_key=key)
        crashed = client.create_run(RESUMABLE_SPEC)["id"]
        _wait_for_checkpoint(client, data_dir, crashed)

        # kill -9 of `up` alone (its worker has a session of its own): the worker follows it.
        first.process.kill()
        first.process.wait()
        wait_until(lambda: _gone(first_worker), 10, "the orphaned worker's exit")

        # The lock died with its holder: the next start is accepted, and resumes the run from
        # its checkpoint, as one more attempt, to the curves of a run never interrupted.
        again, again_worker = _up("up-crash-2", env, url)
        services.append(again)
        resumed = _curves(client, crashed)
        assert client.get_run(crashed)["attempts"] == 2
        assert "resuming from checkpoint" in again.output(), again.output()
        assert "recovered: 1 interrupted run(s)" in again.output(), again.output()
        uninterrupted = client.create_run(RESUMABLE_SPEC)["id"]
        reference = _curves(client, uninterrupted)
        assert resumed == reference

        # Ctrl-C while a run trains: the worker stops first, no traceback, nothing failed...
        stopped = client.create_run(RESUMABLE_SPEC)["id"]
        _wait_for_checkpoint(client, data_dir, stopped)
        assert again.stop(signal.SIGINT, timeout_s=60) == 0
        wait_until(lambda: _gone(again_worker), 10, "the worker's exit")
        output = again.output()
        assert "Finished server process" in output, output
        for bad in ("Traceback", "kill_job", "NotImplementedError", " failed"):
            assert bad not in output, (bad, output)
        assert "stopped: 1 run(s) resume from their checkpoints" in output, output

        # ...and the next start resumes it; a stop is not one of its attempts.
        third, _ = _up("up-crash-3", env, url)
        services.append(third)
        assert _curves(client, stopped) == reference
        assert client.get_run(stopped)["attempts"] == 1
        assert "resuming from checkpoint" in third.output(), third.output()
        client.close()
        assert third.stop(signal.SIGINT, timeout_s=60) == 0
        assert "Traceback" not in third.output(), third.output()
    finally:
        for service in reversed(services):
            service.stop(signal.SIGINT, timeout_s=60)
