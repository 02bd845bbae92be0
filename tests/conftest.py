"""Shared fixtures: real PostgreSQL and Redis, never mocks.

Each test session creates its own PostgreSQL databases, builds their schema with the Alembic
migrations (never `create_all`), and drops them at the end. API tests run inside a transaction
that is rolled back after each test; tests with live processes use a second database.
"""

from __future__ import annotations

# First of all: installs examples/plugin before the imports below load gapwatch.spec, which
# finds plugins once, at import (see tests/example_plugin.py).
import tests.example_plugin  # noqa: F401  # isort: skip

import os
import socket
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from pydantic import SecretStr
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bench.common import Account, login_tokens, seed_account  # noqa: F401 - re-exported
from gapwatch.client import GapwatchClient
from gapwatch.config import Settings
from gapwatch.server.migrate import upgrade_database

warnings.filterwarnings("ignore", message=".*httpx.*", category=DeprecationWarning)

REPO_ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get(
    "GAPWATCH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("GAPWATCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
WORKER_TOKEN = "test-worker-token"
SESSION_TAG = uuid.uuid4().hex[:8]
ARTIFACTS = REPO_ROOT / "test-artifacts"


def _admin_execute(statement: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()


@contextmanager
def temporary_database(name: str, *, migrated: bool = True) -> Iterator[str]:
    """A new PostgreSQL database (built by the Alembic migrations unless `migrated=False`);
    yields its URL and drops it afterwards, whoever is still connected."""
    _admin_execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        if migrated:
            upgrade_database(url)
        yield url
    finally:
        _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A migrated PostgreSQL database for rolled-back API tests."""
    with temporary_database(f"gapwatch_test_{SESSION_TAG}") as url:
        yield url


@pytest.fixture(scope="session")
def pg_live_url() -> Iterator[str]:
    """A migrated PostgreSQL database that live server processes commit into."""
    with temporary_database(f"gapwatch_live_{SESSION_TAG}") as url:
        yield url


@pytest.fixture(scope="session")
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()  # fail loudly: these tests must not silently skip without Redis
    yield client
    client.close()


@pytest.fixture(scope="session")
def test_queue(redis_client: redis.Redis) -> Iterator[str]:
    """The Celery queue that live workers of this test session consume; deleted at the end."""
    name = f"gapwatch-test-{SESSION_TAG}"
    yield name
    redis_client.delete(name)


# The queue of runs that tests claim by hand and leave running in the shared live database: a
# stale-run sweep of any API process sends them back to their own queue, this one, which no
# worker consumes (otherwise they land on the default queue of whichever test API swept them,
# and its worker trains them).
UNWORKED_QUEUE = f"gapwatch-test-{SESSION_TAG}-unworked"


@pytest.fixture(scope="session")
def unconsumed_queue(redis_client: redis.Redis) -> Iterator[str]:
    """A queue no worker listens to, so in-process API tests can inspect what was sent."""
    name = f"gapwatch-test-{SESSION_TAG}-inspect"
    yield name
    redis_client.delete(name)


@pytest.fixture(scope="session")
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = create_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db_session_factory(pg_engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions inside one outer transaction that is rolled back after the test.

    The app's commits become savepoint releases, so a test sees its own writes and leaves
    nothing behind.
    """
    connection = pg_engine.connect()
    transaction = connection.begin()
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield factory
    transaction.rollback()
    connection.close()


def app_settings(data_dir: Path, database_url: str, queue: str) -> Settings:
    """Settings of an in-process app on `database_url`, the test Redis's `queue` and the test
    worker token, with the stale-run sweep off (tests that want it start it themselves)."""
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        broker_url=REDIS_URL,
        queue=queue,
        worker_token=SecretStr(WORKER_TOKEN),
        stale_sweep_interval_s=0,
    )


@pytest.fixture
def settings(tmp_path: Path, pg_url: str, unconsumed_queue: str) -> Settings:
    # The rolled-back session shares one connection: no second thread may use it (no sweep).
    return app_settings(tmp_path, pg_url, unconsumed_queue)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate, timeout_s: float, what: str, interval_s: float = 0.1) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval_s)
    raise TimeoutError(f"{what} not within {timeout_s} s")


# A run whose status and step stay the same this long is stuck; waits follow progress instead
# of guessing how long a run takes on a loaded machine.
RUN_STALL_S = 120.0


def wait_for_run(client: GapwatchClient, run_id: int) -> dict[str, Any]:
    """The run once it has ended, waited for while it makes progress (no overall clock)."""
    return client.wait_for_run(run_id, timeout_s=None, stall_s=RUN_STALL_S)


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without GAPWATCH_* settings, plus `overrides`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAPWATCH_")}
    env.update(overrides)
    return env


def read_http_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-cased names) and body of an HTTP/1.1 answer read from a raw
    socket, the body as far as its Content-Length says (what came with the head otherwise)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    assert data, "the server closed the connection without an answer"
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    # The body may come in a segment of its own.
    length = int(headers.get("content-length", "0") or 0)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return int(lines[0].split()[1]), headers, rest


class LiveProcess:
    """A child process whose output goes to a log file kept as a test artifact."""

    def __init__(
        self, name: str, command: list[str], env: dict[str, str], *, new_group: bool = False
    ) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.log_path = ARTIFACTS / f"{name}-{SESSION_TAG}.log"
        self._log = self.log_path.open("wb")
        self._group = new_group
        self.process = subprocess.Popen(
            command,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
            start_new_session=new_group,
        )

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = 15, timeout_s: float = 20.0) -> int:
        if self.process.poll() is None:
            if self._group:  # as a terminal does: the signal reaches every process of the job
                os.killpg(self.process.pid, sig)
            else:
                self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


def start_api(
    name: str, database_url: str, queue: str, *, workers: int = 1, **env: str
) -> tuple[LiveProcess, str]:
    """A real API server process (`gapwatch serve`, uvicorn) on `database_url` and the test
    Redis, once it answers /health; `env` adds or overrides GAPWATCH_* settings. Returns it
    and its base URL: the caller stops it (`api_process` does so itself).

    One API process unless `workers` says otherwise (the default of `serve` depends on the
    machine's CPUs; tests that need several processes ask for them)."""
    port = free_port()
    server = LiveProcess(
        name,
        [sys.executable, "-m", "gapwatch.cli", "serve", "--no-migrate", "--workers", str(workers)],
        clean_env(
            GAPWATCH_DATABASE_URL=database_url,
            GAPWATCH_BROKER_URL=REDIS_URL,
            GAPWATCH_QUEUE=queue,
            GAPWATCH_WORKER_TOKEN=WORKER_TOKEN,
            GAPWATCH_PORT=str(port),
            **env,
        ),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_ok(url + "/health"), 30, f"{name} start")
    except TimeoutError:
        server.stop()
        raise AssertionError(f"{name} did not start:\n" + server.output()) from None
    return server, url


@contextmanager
def api_process(
    name: str, database_url: str, queue: str, *, workers: int = 1, **env: str
) -> Iterator[str]:
    """`start_api`'s server, stopped on the way out; yields its base URL."""
    server, url = start_api(name, database_url, queue, workers=workers, **env)
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def live_api(
    pg_live_url: str,
    test_queue: str,
    redis_client: redis.Redis,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """A real API server process (uvicorn) on PostgreSQL and Redis; yields its base URL. Its
    artifact store (uploaded datasets) is a folder of the test session's."""
    data_dir = str(tmp_path_factory.mktemp("api-data"))
    with api_process("api", pg_live_url, test_queue, GAPWATCH_DATA_DIR=data_dir) as url:
        yield url


def offline_dataset_env() -> dict[str, str]:
    """Downloads only from a mirror where nothing listens: tests never reach the internet."""
    return {
        "GAPWATCH_DATASET_MIRROR": f"http://127.0.0.1:{free_port()}",
        "GAPWATCH_DATASET_OFFLINE": "1",
    }


def start_worker(
    name: str, api_url: str, queue: str, data_dir: Path, **settings: str
) -> LiveProcess:
    """A real Celery worker process consuming `queue` from Redis; `settings` adds or overrides
    GAPWATCH_* variables."""
    env = clean_env(
        GAPWATCH_BROKER_URL=REDIS_URL,
        GAPWATCH_QUEUE=queue,
        GAPWATCH_API_URL=api_url,
        GAPWATCH_WORKER_TOKEN=WORKER_TOKEN,
        GAPWATCH_DATA_DIR=str(data_dir),
        **offline_dataset_env(),
    )
    env.update(settings)
    # The same command that users and containers run.
    worker = LiveProcess(name, [sys.executable, "-m", "gapwatch.cli", "worker"], env)
    try:
        wait_until(lambda: " ready." in worker.output(), 60, f"worker {name} ready")
    except TimeoutError:
        worker.stop()
        raise AssertionError(f"worker {name} did not start:\n" + worker.output()) from None
    return worker


@pytest.fixture(scope="session")
def live_worker(
    live_api: str, test_queue: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveProcess]:
    worker = start_worker("worker", live_api, test_queue, tmp_path_factory.mktemp("worker-data"))
    yield worker
    worker.stop()


def default_project_id(session: Session) -> int:
    """The id of the `default` project that the migrations create."""
    from gapwatch.server.models import Project
    from gapwatch.spec import DEFAULT_PROJECT

    found = session.scalar(select(Project.id).where(Project.name == DEFAULT_PROJECT))
    assert found is not None, "the migrations create the default project"
    return int(found)


def one_time_link_token(database_url: str, name: str) -> str:
    """A one-time sign-in token for user `name` (what `gapwatch login-link` puts in its URL)."""
    return login_tokens(database_url, name, 1)[0]


@pytest.fixture(scope="session")
def live_key(pg_live_url: str) -> str:
    """An API key of the owner of the `default` project in the live database."""
    return seed_account(pg_live_url, "live-owner").key
