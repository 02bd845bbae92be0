"""`gapwatch serve --workers 2`: two real API processes behind one port, each with its own
caches, and none of them answers stale or lets a revoked key in for longer than its TTL.

Which process served a request is read from the kernel, not from the API (no debug header in
production): the server side of each test connection is a socket, and /proc says which of the
server's processes holds it.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import redis
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from gapwatch.cli import MAX_DEFAULT_WORKERS, build_parser, default_workers
from gapwatch.config import Settings
from gapwatch.queue import RunQueue
from gapwatch.server.access.recent import CREDENTIAL_TTL_S
from gapwatch.server.access.tokens import hash_secret
from gapwatch.server.db import create_db_engine, create_session_factory
from gapwatch.server.models import ApiKey, Run
from gapwatch.server.models.base import utcnow
from gapwatch.server.runs.service import requeue_stale_runs
from tests.conftest import (
    REDIS_URL,
    SESSION_TAG,
    UNWORKED_QUEUE,
    WORKER_TOKEN,
    api_process,
    default_project_id,
    seed_account,
    start_api,
    temporary_database,
    wait_until,
)
from tests.server.analytics_helpers import EVENTS

pytestmark = pytest.mark.integration

SPEC = {
    "benchmark": {"name": "split_digits", "n_tasks": 3},
    "model": {"name": "mlp"},
    "strategy": {"name": "finetune"},
    "evaluation": {"every": 1, "subset_size": 50},
    "queue": UNWORKED_QUEUE,  # left running: a sweep must not hand it to a worker
}


# --- which process holds a connection -------------------------------------------------------


LISTEN, ESTABLISHED = "0A", "01"  # states in /proc/net/tcp


def _tcp_sockets() -> list[tuple[int, int, str, str]]:
    """(local port, remote port, state, inode) of this host's IPv4 TCP sockets."""
    out = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        out.append((int(local.split(":")[1], 16), int(remote.split(":")[1], 16), state, inode))
    return out


def _holders(inode: str) -> set[int]:
    """The processes (of this user) with a descriptor of socket `inode`."""
    target = f"socket:[{inode}]"
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) == target:
                    found.add(int(entry.name))
                    break
        except OSError:
            continue  # gone, or not ours
    return found


def _parent(pid: int) -> int:
    # /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, not ')'.
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def api_processes(port: int) -> set[int]:
    """The processes that serve `port`: the holders of its listening socket whose parent holds
    it too (uvicorn's supervisor binds it and hands it to the API processes it starts)."""
    sockets = _tcp_sockets()
    listening = {inode for local, _, state, inode in sockets if (local, state) == (port, LISTEN)}
    holders = set().union(*(_holders(inode) for inode in listening))
    return {pid for pid in holders if _parent(pid) in holders}


class Connection:
    """A keep-alive connection to the server, and the API process that accepted it."""

    def __init__(self, base_url: str, servers: set[int]) -> None:
        address = urlsplit(base_url)
        self.http = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        self.http.connect()
        assert self.http.sock is not None
        client_port = self.http.sock.getsockname()[1]
        self.pid = 0

        def accepted() -> bool:
            for local, remote, state, inode in _tcp_sockets():
                if (local, remote, state) == (address.port, client_port, ESTABLISHED):
                    held = _holders(inode) & servers
                    if held:
                        (self.pid,) = held
                        return True
            return False

        wait_until(accepted, 10, "an API process accepting the connection", interval_s=0.01)

    def call(self, method: str, path: str, key: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {key}"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.http.request(method, path, body=payload, headers=headers)
        response = self.http.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else None

    def close(self) -> None:
        self.http.close()


@pytest.fixture(scope="module")
def two_processes(pg_live_url: str, test_queue: str, redis_client: redis.Redis) -> Iterator[str]:
    with api_process("serve-2", pg_live_url, test_queue, workers=2) as url:
        yield url


@pytest.fixture
def by_process(two_processes: str) -> Iterator[dict[int, Connection]]:
    """One open connection to each of the two API processes, {pid: connection}."""
    port = urlsplit(two_processes).port
    assert port is not None
    wait_until(lambda: len(api_processes(port)) == 2, 30, "two API processes")
    servers = api_processes(port)
    found: dict[int, Connection] = {}
    spare = []
    for _ in range(200):  # the kernel hands each connection to one of them
        connection = Connection(two_processes, servers)
        if connection.pid in found:
            spare.append(connection)
        else:
            found[connection.pid] = connection
        if len(found) == 2:
            break
    for connection in spare:
        connection.close()
    assert set(found) == servers, "no connection reached one of the processes"
    yield found
    for connection in found.values():
        connection.close()


def test_requests_are_served_by_both_processes_of_one_port(
    two_processes: str, by_process: dict[int, Connection], live_key: str
) -> None:
    port = urlsplit(two_processes).port
    assert port is not None
    assert len(api_processes(port)) == 2
    for connection in by_process.values():
        status, me = connection.call("GET", "/api/v1/auth/me", live_key)
        assert status == 200 and me["user"]["name"] == "live-owner"


def test_a_key_revoked_through_one_process_is_refused_by_both_within_the_ttl(
    by_process: dict[int, Connection], pg_live_url: str
) -> None:
    holder = seed_account(pg_live_url, "two-procs-revoked")
    manager = seed_account(pg_live_url, "two-procs-revoked")  # another key of the same person
    here, there = by_process.values()
    for connection in (here, there):  # both processes remember the key as valid now
        assert connection.call("GET", "/api/v1/auth/me", holder.key)[0] == 200
    engine = create_engine(pg_live_url)
    with engine.connect() as connection:
        key_id = connection.scalar(
            select(ApiKey.id).where(ApiKey.key_hash == hash_secret(holder.key))
        )
    engine.dispose()

    status, _ = here.call("DELETE", f"/api/v1/keys/{key_id}", manager.key)
    revoked_at = time.monotonic()
    assert status == 200
    # The process that revoked it forgets it at once ...
    assert here.call("GET", "/api/v1/auth/me", holder.key)[0] == 401
    # ... the other within the TTL of what it remembered (plus this machine's scheduling).
    wait_until(
        lambda: there.call("GET", "/api/v1/auth/me", holder.key)[0] == 401,
        CREDENTIAL_TTL_S + 5,
        "the other process refusing the revoked key",
        interval_s=0.05,
    )
    assert time.monotonic() - revoked_at < CREDENTIAL_TTL_S + 5
    assert here.call("GET", "/api/v1/auth/me", holder.key)[0] == 401


def test_summaries_follow_points_ingested_through_either_process(
    by_process: dict[int, Connection], live_key: str
) -> None:
    writer_side, reader_side = by_process.values()
    status, run = writer_side.call("POST", "/api/v1/runs", live_key, SPEC)
    assert status == 201, run
    status, claimed = writer_side.call(
        "POST", f"/api/v1/runs/{run['id']}/claim", WORKER_TOKEN, {"worker": "two-procs"}
    )
    assert status == 200, claimed
    token, base = claimed["token"], f"/api/v1/runs/{run['id']}"

    def ingest(through: Connection, curves: dict[str, tuple[list[int], list[float]]]) -> None:
        body = {"series": [{"key": k, "steps": s, "values": v} for k, (s, v) in curves.items()]}
        assert through.call("POST", f"{base}/metrics", token, body)[0] == 200

    assert writer_side.call("POST", f"{base}/events", token, {"events": EVENTS[:3]})[0] == 200
    ingest(writer_side, {"eval/acc/task_0": ([0, 1, 2], [0.2, 0.6, 0.9])})
    # Both processes compute the summary and the gaps, and cache them.
    for connection in (reader_side, writer_side, reader_side):
        summary = connection.call("GET", f"{base}/summary", live_key)[1]
        assert summary["acc"]["value"] == 0.9 and summary["as_of_step"] == 2
        (boundary,) = connection.call("GET", f"{base}/gaps", live_key)[1]["boundaries"]
        assert boundary["evaluated_until"] == 2

    # Points (no event) through one process: the other's cached gap table is not answered.
    ingest(
        writer_side,
        {"eval/acc/task_0": ([3, 4], [0.4, 0.5]), "eval/acc/task_1": ([2, 3, 4], [0.1, 0.3, 0.6])},
    )
    for connection in (reader_side, writer_side):
        (boundary,) = connection.call("GET", f"{base}/gaps", live_key)[1]["boundaries"]
        assert boundary["evaluated_until"] == 4 and boundary["rows"][0]["trough"] == 0.4

    # Through the other process this time, with the end of task 1: both summaries follow.
    ingest(reader_side, {"eval/acc/task_0": ([5], [0.7]), "eval/acc/task_1": ([5], [0.8])})
    event = {"step": 5, "kind": "task_end", "payload": {"task": 1}}
    assert reader_side.call("POST", f"{base}/events", token, {"events": [event]})[0] == 200
    for connection in (writer_side, reader_side):
        summary = connection.call("GET", f"{base}/summary", live_key)[1]
        assert summary["tasks_completed"] == 2 and summary["as_of_step"] == 5
        assert abs(summary["acc"]["value"] - 0.75) < 1e-9


def test_sweeps_of_several_processes_requeue_a_silent_run_once(
    redis_client: redis.Redis,
) -> None:
    """Each API process sweeps stale runs; two sweeps at once send a run back to the queue
    once: the conditional UPDATE of the second waits for the first's row lock, then finds the
    run no longer running."""
    queue_name = f"gapwatch-test-{SESSION_TAG}-sweeps"
    with temporary_database(f"gapwatch_sweeps_{SESSION_TAG}") as url:
        settings = Settings(broker_url=REDIS_URL, queue=queue_name, database_url=url)
        engine = create_db_engine(url)
        factory = create_session_factory(engine)
        with factory() as session:
            run = Run(
                project_id=default_project_id(session),
                kind="engine",
                spec=SPEC,
                status="running",
                heartbeat_at=utcnow() - timedelta(hours=1),
            )
            session.add(run)
            session.commit()
            run_id = run.id
        queue = RunQueue(settings)
        counts: dict[str, int] = {}

        def sweep(name: str, session: Session) -> None:
            counts[name] = requeue_stale_runs(session, queue, heartbeat_timeout_s=60)

        first, second = factory(), factory()
        try:
            sweep("first", first)  # its transaction holds the run's row
            other = threading.Thread(target=lambda: (sweep("second", second), second.commit()))
            other.start()
            with engine.connect() as probe:

                def waiting_for_the_lock() -> bool:
                    query = text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = :db "
                        "AND wait_event_type = 'Lock' AND query LIKE 'UPDATE runs%'"
                    )
                    found = probe.execute(query, {"db": url.rsplit("/", 1)[1]}).scalar()
                    # The view is a snapshot taken once per transaction: end it each time.
                    probe.rollback()
                    return bool(found)

                wait_until(waiting_for_the_lock, 10, "the second sweep waiting")
            first.commit()
            other.join(10)
            with factory() as session:
                status = session.scalar(select(Run.status).where(Run.id == run_id))
        finally:
            first.close()
            second.close()
            queue.close()
            engine.dispose()
        assert counts == {"first": 1, "second": 0}
        assert status == "queued"
    redis_client.delete(queue_name)


def test_a_stop_does_not_wait_for_the_open_live_streams(
    pg_live_url: str, test_queue: str, live_key: str
) -> None:
    server, url = start_api("serve-stop", pg_live_url, test_queue, workers=2)
    lines: list[str] = []
    try:
        owner = {"Authorization": f"Bearer {live_key}"}
        run = httpx.post(f"{url}/api/v1/runs", json=SPEC, headers=owner).json()
        httpx.post(
            f"{url}/api/v1/runs/{run['id']}/claim",
            json={"worker": "stop"},
            headers={"Authorization": f"Bearer {WORKER_TOKEN}"},
        ).raise_for_status()

        def follow() -> None:
            with httpx.stream(
                "GET", f"{url}/api/v1/runs/{run['id']}/live", headers=owner, timeout=60
            ) as stream:
                try:
                    lines.extend(stream.iter_lines())
                except httpx.HTTPError:
                    pass  # cut off by the stop

        reader = threading.Thread(target=follow, daemon=True)
        reader.start()
        wait_until(lambda: any(line.startswith("data:") for line in lines), 10, "a first frame")
    finally:
        # SIGTERM; after 20 s it would be killed (-9): the processes must end on their own.
        code = server.stop(timeout_s=20)
    assert code == 0, server.output()[-3000:]
    assert "Traceback" not in server.output(), server.output()[-3000:]
    reader.join(10)
    assert not reader.is_alive()


def test_serve_runs_one_process_per_cpu_at_most_four_and_one_on_sqlite(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    postgres = Settings(database_url="postgresql+psycopg://db/gapwatch", data_dir=tmp_path)
    for cpus, expected in ((1, 1), (2, 2), (16, MAX_DEFAULT_WORKERS)):
        monkeypatch.setattr(os, "sched_getaffinity", lambda _pid, n=cpus: set(range(n)))
        assert default_workers(postgres) == expected
    assert default_workers(Settings(data_dir=tmp_path)) == 1  # SQLite: one writer
    assert build_parser().parse_args(["serve", "--workers", "3"]).workers == 3
    for wrong in ("0", "65", "two"):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["serve", "--workers", wrong])
