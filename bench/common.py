"""Plumbing shared by the benchmarks: free ports, throwaway databases, accounts, an API server
process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from gapwatch.server.migrate import upgrade_database

ADMIN_URL = os.environ.get(
    "GAPWATCH_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
WORKER_TOKEN = "bench-worker-token"
# The run the benchmarks create: what it trains does not matter to the server's costs.
RUN_SPEC = {
    "benchmark": {"name": "split_digits"},
    "model": {"name": "mlp"},
    "strategy": {"name": "finetune"},
}

# Debian's Chromium, as the browser tests (tests/e2e) and bench/dashboard.py launch it. This
# machine's network is closed: without the background-networking flags Chromium keeps trying
# Google's hosts. Browser downloads by test tools are impossible here, hence an executable path.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_executable() -> Path:
    """GAPWATCH_CHROMIUM, or Debian's /usr/bin/chromium."""
    return Path(os.environ.get("GAPWATCH_CHROMIUM", "/usr/bin/chromium"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def libpq(url: str) -> str:
    """A SQLAlchemy URL as psycopg's connection string."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_database() -> tuple[str, str]:
    """A new, migrated PostgreSQL database: (name, SQLAlchemy URL)."""
    name = f"gapwatch_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(libpq(ADMIN_URL), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    upgrade_database(url)
    return name, url


def drop_database(name: str) -> None:
    with psycopg.connect(libpq(ADMIN_URL), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def throwaway_database() -> Iterator[tuple[str, str]]:
    """`create_database`'s (name, URL), dropped on the way out whatever happened."""
    name, url = create_database()
    try:
        yield name, url
    finally:
        drop_database(name)


@dataclass(frozen=True)
class Account:
    """A user seeded for a test or a benchmark: name, password (None: one-time links only) and
    one API key of theirs."""

    name: str
    key: str
    password: str | None = None

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def seed_account(
    target: str | sessionmaker[Session],
    name: str,
    *,
    project: str | None = "default",
    role: str = "owner",
    is_admin: bool = False,
    password: str | None = None,
    key_project: str | None = None,
    key_role: str | None = None,
) -> Account:
    """Commit user `name` (created if missing) with `role` in `project` (created if missing)
    and a new API key of theirs, optionally narrowed to `key_project` and `key_role`: what
    `gapwatch users create`, `projects add-member` and `keys create` would give.

    Args:
        target: A database URL, or a session factory (tests' rolled-back one).
    """
    from gapwatch.server.accounts import service as accounts
    from gapwatch.server.db import create_db_engine, create_session_factory
    from gapwatch.server.models import Role

    engine = create_db_engine(target) if isinstance(target, str) else None
    factory = create_session_factory(engine) if engine is not None else target
    try:
        with factory() as session:
            user = accounts.repository.user_by_name(session, name)
            if user is None:
                user = accounts.create_user(session, name, password=password, is_admin=is_admin)
            if project is not None:
                found = accounts.repository.project_by_name(session, project)
                if found is None:
                    found = accounts.create_project(session, user, project)
                accounts.set_member(session, found, user, Role(role))
            scope = accounts.get_project(session, key_project) if key_project else None
            _, key = accounts.create_key(
                session, user, "seeded", project=scope, role=Role(key_role) if key_role else None
            )
            session.commit()
    finally:
        if engine is not None:
            engine.dispose()
    return Account(name=name, key=key, password=password)


def login_tokens(database_url: str, user: str, count: int, ttl_s: float = 3600.0) -> list[str]:
    """`count` one-time sign-in tokens of `user` (what `gapwatch login-link` puts in its URL),
    committed; each is exchanged for a session with POST /api/v1/auth/link."""
    from gapwatch.server.accounts import service as accounts
    from gapwatch.server.db import create_db_engine, create_session_factory

    engine = create_db_engine(database_url)
    try:
        with create_session_factory(engine)() as session:
            person = accounts.get_user(session, user)
            tokens = [
                accounts.create_login_link(session, person, ttl_s=ttl_s)[0] for _ in range(count)
            ]
            session.commit()
            return tokens
    finally:
        engine.dispose()


def default_project_id(database_url: str) -> int:
    """The id of the `default` project that the migrations create (every run has a project)."""
    with psycopg.connect(libpq(database_url)) as connection:
        row = connection.execute("SELECT id FROM projects WHERE name = 'default'").fetchone()
    if row is None:
        raise SystemExit("no `default` project: is the database migrated?")
    return int(row[0])


def claimed_run(
    client: httpx.Client,
    *,
    spec: dict = RUN_SPEC,
    headers: dict[str, str] | None = None,
    worker: str = "bench",
) -> tuple[int, str]:
    """A new run (POST /runs with the client's or `headers`' credentials), claimed with the
    worker token as the engine's worker does: (its id, its run token)."""
    run = client.post("/api/v1/runs", json=spec, headers=headers)
    run.raise_for_status()
    run_id = run.json()["id"]
    claim = client.post(
        f"/api/v1/runs/{run_id}/claim",
        json={"worker": worker},
        headers={"Authorization": f"Bearer {WORKER_TOKEN}"},
    )
    claim.raise_for_status()
    return run_id, claim.json()["token"]


def wait_healthy(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait for /health; exit with the server's log if it does not come up within 60 s."""
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(base_url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit("server did not start:\n" + log.read_text())
        time.sleep(0.2)


@contextmanager
def api_server(database_url: str, *, workers: int = 1) -> Iterator[str]:
    """`gapwatch serve` on `database_url` with `workers` API processes (one unless asked, so
    that figures do not depend on the machine's CPU count); yields its base URL."""
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="gapwatch-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAPWATCH_")}
    env.update(
        GAPWATCH_DATABASE_URL=database_url,
        GAPWATCH_DATA_DIR=data_dir,
        GAPWATCH_WORKER_TOKEN=WORKER_TOKEN,
        GAPWATCH_PORT=str(port),
    )
    log = Path(data_dir) / "server.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "gapwatch.cli", "serve", "--no-migrate", "--workers", str(workers)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base_url, server, log)
        yield base_url
    finally:
        server.terminate()
        server.wait(timeout=30)
