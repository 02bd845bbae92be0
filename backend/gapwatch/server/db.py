"""Engine and session factory; the one place that knows SQLite and PostgreSQL differ."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

AFTER_COMMIT_KEY = "gapwatch_after_commit"


def create_db_engine(url: str) -> Engine:
    """Create the engine; SQLite gets WAL, foreign keys and a busy timeout.

    The embedded mode has one writer process (the API: workers write through it), so WAL
    lets readers go on while a batch is ingested.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (responses are built from them)."""
    return sessionmaker(engine, expire_on_commit=False)


def call_after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run `callback` once the request's transaction has committed (e.g. enqueue a task).

    Celery work must never be sent before its rows are committed, or a fast worker finds nothing.
    """
    session.info.setdefault(AFTER_COMMIT_KEY, []).append(callback)


def pop_after_commit(session: Session) -> list[Callable[[], None]]:
    """Take the callbacks registered on this session."""
    return session.info.pop(AFTER_COMMIT_KEY, [])
