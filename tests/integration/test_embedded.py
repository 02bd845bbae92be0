"""The `make up` path: `gapwatch up` with SQLite and the filesystem broker, no other server."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

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


def _create_key(env: dict[str, str], name: str) -> str:
    """`gapwatch keys create NAME` on the service's data dir: the key is its last line."""
    done = subprocess.run(
        [sys.executable, "-m", "gapwatch.cli", "keys", "create", name],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
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
            finished = client.wait_for_run(run["id"], timeout_s=120)
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
        printed = subprocess.run(
            [*shlex.split(hint.group(1)), "login-link"],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert printed.returncode == 0, printed.stdout + printed.stderr
        link = LINK.search(printed.stdout)
        assert link is not None and link.group(1) == url, printed.stdout
        assert _signed_in_user(url, link.group(2))["name"] == "admin"
    finally:
        later.stop(signal.SIGINT, timeout_s=30)
    output = later.output()
    assert "Finished server process" in output and "Traceback" not in output, output
    assert LINK.search(output) is None and "created the admin" not in output, output
