"""FastAPI dependencies as `Annotated` aliases: the session, settings, queue and tokens."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session, sessionmaker

from gapwatch.config import Settings
from gapwatch.queue import BrokerUnavailable, RunQueue
from gapwatch.server.db import pop_after_commit
from gapwatch.server.errors import Forbidden, NotFound, ServiceUnavailable, Unauthorized
from gapwatch.server.models import Run


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits once when the block ends (rolls back if it raises), then runs
    its after-commit work: the unit of work of one request."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    try:
        for callback in pop_after_commit(session):
            callback()
    except BrokerUnavailable as error:
        # The rows are committed; say so, so the client neither retries blindly nor loses it.
        raise ServiceUnavailable(
            f"stored, but the broker is unreachable ({error}); the run stays queued and is "
            "sent again when the API service starts next"
        ) from error


def get_db_session(request: Request) -> Iterator[Session]:
    """One session per request; it commits once, after the handler, then runs after-commit work.

    Used with `scope="function"` so that the commit happens before the response is sent: a
    failed commit is an error answer, never a 201 for a row that does not exist.
    """
    with transaction(request.app.state.session_factory) as session:
        yield session


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_run_queue(request: Request) -> RunQueue:
    return request.app.state.run_queue


SessionDep = Annotated[Session, Depends(get_db_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
RunQueueDep = Annotated[RunQueue, Depends(get_run_queue)]


def hash_token(token: str) -> str:
    """SHA-256 hex of a token: what the database keeps instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header; 401 without one."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthorized("missing 'Authorization: Bearer <token>' header")
    return authorization[7:].strip()


def check_run_token(run_id: int, found: bool, token_hash: str | None, token: str) -> None:
    """404 if the run does not exist, 403 unless `token` is the one issued at its claim.

    A run token is scoped to its run: a leaked token can write into that run and no other.
    """
    if not found:
        raise NotFound(f"run {run_id} not found")
    if token_hash is None or not hmac.compare_digest(token_hash, hash_token(token)):
        raise Forbidden(f"token is not valid for run {run_id}")


def require_worker_token(
    settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    """Only holders of the worker token may claim runs."""
    expected = settings.worker_token.get_secret_value()
    if not hmac.compare_digest(bearer_token(authorization).encode(), expected.encode()):
        raise Forbidden("invalid worker token")


def require_run_token(
    run_id: int, session: SessionDep, authorization: Annotated[str | None, Header()] = None
) -> Run:
    """The run, if the bearer token is the one issued when this run was claimed."""
    token = bearer_token(authorization)
    run = session.get(Run, run_id)
    check_run_token(run_id, run is not None, run.token_hash if run else None, token)
    assert run is not None  # checked above
    return run


WorkerAuth = Annotated[None, Depends(require_worker_token)]
RunWriter = Annotated[Run, Depends(require_run_token)]
