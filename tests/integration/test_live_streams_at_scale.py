"""Live streams at scale: capped per user and per process, and fed by ONE poll a second for all.

The app runs in a real uvicorn server in a thread of this process (so that the test can count
the statements its engine sends), on the live PostgreSQL database; streams are real HTTP
connections read in threads.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, event, text, update

from gapwatch.config import Settings
from gapwatch.server.access.tokens import hash_secret
from gapwatch.server.app import create_app
from gapwatch.server.models import ApiKey
from tests.conftest import (
    UNWORKED_QUEUE,
    WORKER_TOKEN,
    app_settings,
    free_port,
    seed_account,
    wait_until,
)

pytestmark = pytest.mark.integration

SPEC = {
    "benchmark": {"name": "split_digits"},
    "model": {"name": "mlp"},
    "strategy": {"name": "finetune"},
    "queue": UNWORKED_QUEUE,  # left running: a sweep must not hand it to a worker
}


class Stream:
    """One GET /runs/{id}/live, read in a thread; `close` drops the connection as a closed
    browser tab does (http.client, so that the socket can be shut from here)."""

    def __init__(self, base_url: str, run_id: int, key: str) -> None:
        address = urlsplit(base_url)
        self._connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
        self._connection.request(
            "GET", f"/api/v1/runs/{run_id}/live", headers={"Authorization": f"Bearer {key}"}
        )
        self._response = self._connection.getresponse()
        self.status = self._response.status
        self.retry_after = self._response.getheader("Retry-After")
        self.events: list[dict[str, Any]] = []
        self.ended_by_server = False
        self._closing = False
        self.ended = threading.Event()
        self.detail = None
        if self.status != 200:
            self.detail = json.loads(self._response.read())["detail"]
            self.ended.set()
            self._connection.close()
            return
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        data: list[bytes] = []
        try:
            while True:
                line = self._response.readline()
                if not line:
                    self.ended_by_server = not self._closing
                    return
                line = line.rstrip(b"\r\n")
                if line.startswith(b"data:"):
                    data.append(line.removeprefix(b"data:").strip())
                elif not line and data:
                    self.events.append(json.loads(b"\n".join(data)))
                    data = []
        except (OSError, ValueError, http.client.HTTPException):
            pass  # closed from here
        finally:
            self.ended.set()

    def close(self) -> None:
        self._closing = True
        if self._connection.sock is not None:
            try:
                self._connection.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        assert self.ended.wait(10)
        self._response.close()
        self._connection.close()


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """`app` behind a real uvicorn server in a thread; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 30, "in-process server start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture
def live_settings(tmp_path: Path, pg_live_url: str, unconsumed_queue: str) -> Settings:
    return app_settings(tmp_path, pg_live_url, unconsumed_queue)


@pytest.fixture
def admin_engine(pg_live_url: str) -> Iterator[Engine]:
    engine = create_engine(pg_live_url)
    yield engine
    engine.dispose()


def running_run(base_url: str, key: str) -> tuple[int, dict[str, str]]:
    """A new run, claimed (so its streams stay open): its id and its writer's headers."""
    with httpx.Client(base_url=base_url, timeout=30) as api:
        run = api.post("/api/v1/runs", json=SPEC, headers={"Authorization": f"Bearer {key}"})
        assert run.status_code == 201, run.text
        claimed = api.post(
            f"/api/v1/runs/{run.json()['id']}/claim",
            json={"worker": "test"},
            headers={"Authorization": f"Bearer {WORKER_TOKEN}"},
        )
        assert claimed.status_code == 200, claimed.text
    return run.json()["id"], {"Authorization": f"Bearer {claimed.json()['token']}"}


def open_streams(base_url: str, run_id: int, key: str, count: int) -> list[Stream]:
    """`count` streams, each once it has had its first event."""
    streams = [Stream(base_url, run_id, key) for _ in range(count)]
    assert [s.status for s in streams] == [200] * count
    wait_until(lambda: all(s.events for s in streams), 30, "a first event on every stream")
    return streams


def test_streams_are_capped_per_user_and_in_all_and_a_closed_one_frees_its_slot(
    live_settings: Settings, pg_live_url: str
) -> None:
    settings = live_settings.model_copy(update={"max_streams_per_user": 3, "max_streams": 5})
    app = create_app(settings)
    alice = seed_account(pg_live_url, "cap-alice").key
    bob = seed_account(pg_live_url, "cap-bob").key
    with served(app) as url:
        run_id, _ = running_run(url, alice)
        mine = open_streams(url, run_id, alice, 3)

        refused = Stream(url, run_id, alice)
        assert refused.status == 429
        assert int(refused.retry_after) >= 1
        assert "3 live streams open" in refused.detail
        assert "GAPWATCH_MAX_STREAMS_PER_USER" in refused.detail

        # Another user has slots of their own, up to the process's cap.
        theirs = open_streams(url, run_id, bob, 2)
        full = Stream(url, run_id, bob)
        assert full.status == 429 and int(full.retry_after) >= 1
        assert "GAPWATCH_MAX_STREAMS" in full.detail
        poller = app.state.live_poller
        assert poller.streams == 5  # the refusals took no slot

        # A tab closed: its slot is free again once the server has seen the connection go.
        mine[0].close()
        wait_until(lambda: poller.streams == 4, 10, "the closed stream's slot freed")
        again = Stream(url, run_id, alice)
        assert again.status == 200
        assert poller.streams == 5
        for stream in [*mine[1:], *theirs, again]:
            stream.close()
        wait_until(lambda: poller.streams == 0, 10, "every slot freed")


class StatementCounter:
    """Counts the statements an engine sends."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        self._lock = threading.Lock()
        event.listen(engine, "before_cursor_execute", self._counted)

    def _counted(self, *_args: Any) -> None:
        with self._lock:
            self.count += 1

    def per_poll(self, poller: Any, polls: int = 3) -> float:
        """Statements per poll over the next `polls` polls (started right after one ended,
        so that no other statement of a poll falls into the count)."""
        first = poller.polls
        wait_until(lambda: poller.polls > first, 10, "a poll", interval_s=0.01)
        start, self.count = poller.polls, 0
        wait_until(lambda: poller.polls >= start + polls, 20, f"{polls} polls", interval_s=0.01)
        return self.count / (poller.polls - start)


def test_one_poll_a_second_feeds_every_stream_whatever_their_number(
    live_settings: Settings, pg_live_url: str
) -> None:
    app = create_app(live_settings)
    engine = app.state.session_factory.kw["bind"]
    alice = seed_account(pg_live_url, "poll-alice").key
    bob = seed_account(pg_live_url, "poll-bob").key
    with served(app) as url:
        run_id, writer = running_run(url, alice)
        other_run, _ = running_run(url, alice)
        first = open_streams(url, run_id, alice, 1)
        poller = app.state.live_poller
        counter = StatementCounter(engine)
        # Access rechecks left out first: what every second costs.
        poller.access_recheck_s = 3600.0
        alone = counter.per_poll(poller)

        crowd = [
            *open_streams(url, run_id, alice, 9),
            *open_streams(url, run_id, bob, 10),
            *open_streams(url, other_run, bob, 5),
        ]
        assert poller.streams == 25
        crowded = counter.per_poll(poller)
        # One statement a poll for one stream and for 25 streams of two runs and two users
        # (each stream polling on its own would be 25 query sets a second).
        assert alone == crowded == 1.0

        # With the access recheck at every poll: two more statements for all of them together.
        poller.access_recheck_s = 0.0
        assert counter.per_poll(poller) == 3.0

        # New points reach every stream of the run, from the one poll.
        batch = {"series": [{"key": "eval/acc/task_0", "steps": [0, 1, 2], "values": [0.1] * 3}]}
        response = httpx.post(f"{url}/api/v1/runs/{run_id}/metrics", json=batch, headers=writer)
        assert response.status_code == 200, response.text
        watching = [*first, *crowd[:19]]
        wait_until(
            lambda: all(s.events[-1]["points"] == 3 for s in watching), 10, "3 points everywhere"
        )
        assert all(s.events[-1]["points"] == 0 for s in crowd[19:])  # the other run's
        for stream in [*first, *crowd]:
            stream.close()


def test_a_stream_ends_when_its_reader_loses_access_or_its_run_is_deleted(
    live_settings: Settings, pg_live_url: str, admin_engine: Engine
) -> None:
    app = create_app(live_settings)
    owner = seed_account(pg_live_url, "gone-owner").key
    revoked = seed_account(pg_live_url, "gone-revoked", role="viewer").key
    removed = seed_account(pg_live_url, "gone-removed", role="viewer").key
    with served(app) as url:
        run_id, _ = running_run(url, owner)
        other_run, _ = running_run(url, owner)
        (owners,) = open_streams(url, run_id, owner, 1)
        (revokeds,) = open_streams(url, run_id, revoked, 1)
        (removeds,) = open_streams(url, run_id, removed, 1)
        (deleteds,) = open_streams(url, other_run, owner, 1)
        app.state.live_poller.access_recheck_s = 0.0

        with admin_engine.begin() as connection:
            connection.execute(
                update(ApiKey)
                .where(ApiKey.key_hash == hash_secret(revoked))
                .values(revoked_at=text("now()"))
            )
            connection.execute(
                text(
                    "DELETE FROM memberships WHERE user_id = "
                    "(SELECT id FROM users WHERE name = 'gone-removed')"
                )
            )
            connection.execute(text("DELETE FROM runs WHERE id = :id"), {"id": other_run})
        for stream in (revokeds, removeds, deleteds):
            assert stream.ended.wait(15), "the stream went on"
            assert stream.ended_by_server
        # The owner's stream of the run that is still there goes on.
        assert not owners.ended.is_set()
        owners.close()
        wait_until(lambda: app.state.live_poller.streams == 0, 10, "every slot freed")
