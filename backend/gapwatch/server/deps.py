"""FastAPI dependencies as `Annotated` aliases, the only place that defines them: the request's
session, settings, queue and cache; who is calling; and the run a caller may touch.

Endpoints import their aliases from here and from nowhere else; this module imports only the
floors below the domains (access, models, db).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Header, Path, Request
from sqlalchemy.orm import Session, sessionmaker

from gapwatch.config import Settings
from gapwatch.queue import BrokerUnavailable, RunQueue
from gapwatch.server.access import service as access
from gapwatch.server.access.middleware import PRINCIPAL_STATE
from gapwatch.server.access.principal import Principal
from gapwatch.server.access.tokens import AUTHENTICATE_HINT, bearer_value
from gapwatch.server.cache import AnalysisCache
from gapwatch.server.db import pop_after_commit
from gapwatch.server.errors import (
    GapwatchError,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)
from gapwatch.server.models import Role, Run


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits once when the block ends (rolls back if it raises), then runs
    its after-commit work: the unit of work of one request."""
    session = factory()
    try:
        yield session
        session.commit()
    except GapwatchError as error:
        # A refusal that changed the row on purpose (a run failed for its attempts) keeps it.
        if error.keeps_changes:
            session.commit()
        else:
            session.rollback()
        raise
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
            "sent again by the API's next sweep (GAPWATCH_STALE_SWEEP_INTERVAL_S)"
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


def get_analysis_cache(request: Request) -> AnalysisCache:
    """The app's summary cache (one per process, made by create_app)."""
    return request.app.state.analysis_cache  # type: ignore[no-any-return]


# Ids are 64-bit in the database: a larger one is a 422 naming it, not a database error.
MAX_ROW_ID = 2**63 - 1
RunId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="A run's id.")]
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]

SessionDep = Annotated[Session, Depends(get_db_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
RunQueueDep = Annotated[RunQueue, Depends(get_run_queue)]
CacheDep = Annotated[AnalysisCache, Depends(get_analysis_cache)]


def current_principal(request: Request) -> Principal:
    """The caller, as the authentication middleware found them; 401 if anonymous."""
    principal = getattr(request.state, PRINCIPAL_STATE, None)
    if principal is None:
        raise Unauthorized(f"authentication required: {AUTHENTICATE_HINT}")
    return principal  # type: ignore[no-any-return]


Caller = Annotated[Principal, Depends(current_principal)]


def caller_or_run_token(request: Request) -> Principal | None:
    """The caller, or None where the middleware let a run's token through instead (a worker
    reading the dataset its run names, `GET /datasets/{id}/file?run=`): the endpoint then
    checks that token against the run itself."""
    return getattr(request.state, PRINCIPAL_STATE, None)  # type: ignore[no-any-return]


CallerOrRunToken = Annotated[Principal | None, Depends(caller_or_run_token)]


def run_for_viewer(run_id: RunId, session: SessionDep, caller: Caller) -> Run:
    """The run, if the caller may read it (else 404)."""
    return access.authorize_run(session, caller, run_id, Role.viewer)


def run_for_editor(run_id: RunId, session: SessionDep, caller: Caller) -> Run:
    """The run, if the caller may change it (404 if unseen, 403 if only a viewer)."""
    return access.authorize_run(session, caller, run_id, Role.editor)


RunViewer = Annotated[Run, Depends(run_for_viewer)]
RunEditor = Annotated[Run, Depends(run_for_editor)]


def require_worker_secret(
    settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    """Only holders of the worker secret may claim runs."""
    access.check_worker_secret(
        settings.worker_token.get_secret_value(), bearer_value(authorization)
    )


def require_run_token(
    run_id: RunId, session: SessionDep, authorization: Annotated[str | None, Header()] = None
) -> Run:
    """The run, if the bearer token is the one issued when this run was claimed."""
    token = bearer_value(authorization)
    run = session.get(Run, run_id)
    access.check_run_token(run_id, run.token_hash if run else None, token)
    assert run is not None  # checked above
    return run


WorkerAuth = Annotated[None, Depends(require_worker_secret)]
RunWriter = Annotated[Run, Depends(require_run_token)]


def limit_submissions(request: Request, caller: Caller) -> None:
    """429 with Retry-After once a person submits too fast, through any of their keys or
    sessions (a new key must not be a new allowance)."""
    wait = request.app.state.submit_limiter.hit(f"user:{caller.user_id}")
    if wait is not None:
        raise TooManyRequests(
            f"too many runs submitted; try again in {math.ceil(wait)} s", retry_after_s=wait
        )


SubmitRateLimit = Annotated[None, Depends(limit_submissions)]
