"""Which database errors mean "unavailable, retry" (503 with Retry-After) and which are bugs
(500): told apart on real errors of real PostgreSQL and SQLite, and a locked SQLite file is a 503
through the whole app."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from gapwatch.config import Settings
from gapwatch.server.errors import DATABASE_UNAVAILABLE, database_unavailable
from gapwatch.server.migrate import upgrade_database
from tests.conftest import free_port
from tests.server.conftest import SPEC, client_with_account


def _error_of(url: str, statement: str, **connect_args: object) -> SQLAlchemyError:
    engine = create_engine(url, connect_args=connect_args)
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    except SQLAlchemyError as error:
        return error
    finally:
        engine.dispose()
    raise AssertionError(f"{statement!r} did not fail")


def test_postgresql_connection_errors_are_unavailable_and_statement_errors_are_not(
    pg_url: str,
) -> None:
    nowhere = make_url(pg_url).set(port=free_port()).render_as_string(hide_password=False)
    refused = _error_of(nowhere, "SELECT 1", connect_timeout=2)
    assert database_unavailable(refused)
    assert database_unavailable(refused.orig)  # psycopg's own, as the ingest path raises it
    cancelled = _error_of(pg_url, "SET statement_timeout = 50; SELECT pg_sleep(2)")
    assert database_unavailable(cancelled)  # 57014: cancelled under load, may pass later
    for statement in ("SELECT * FROM no_such_table", "SELECT 1/0", "SELEKT 1"):
        error = _error_of(pg_url, statement)
        assert isinstance(error, DBAPIError) and not database_unavailable(error), statement


def test_a_locked_sqlite_file_is_unavailable_and_a_missing_table_is_not(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        locked = _error_of(f"sqlite:///{path}", "INSERT INTO t VALUES (1)", timeout=0.05)
        assert database_unavailable(locked)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    missing = _error_of(f"sqlite:///{path}", "SELECT * FROM no_such_table")
    assert not database_unavailable(missing)


def test_the_app_answers_a_locked_sqlite_file_with_503_and_retry_after(
    settings: Settings, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'gapwatch.db'}"
    upgrade_database(url)
    # The app's own engine waits 30 s for a lock; this one gives up at once.
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 0.05})
    factory = sessionmaker(engine, expire_on_commit=False)
    sqlite_settings = settings.model_copy(update={"database_url": url})
    with client_with_account(sqlite_settings, session_factory=factory) as client:
        assert client.get("/api/v1/runs").status_code == 200
        holder = sqlite3.connect(tmp_path / "gapwatch.db", isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            response = client.post("/api/v1/runs", json=SPEC)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert response.status_code == 503, response.text
        assert response.json() == {"detail": DATABASE_UNAVAILABLE}
        assert response.headers["Retry-After"] == "5"
        # Nothing was stored, and the same app takes the run once the lock is gone.
        assert client.get("/api/v1/runs").json()["total"] == 0
        assert client.post("/api/v1/runs", json=SPEC).status_code == 201
    engine.dispose()
