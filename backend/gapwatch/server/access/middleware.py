"""Authentication before anything else: a pure ASGI middleware that knows the caller (or
refuses the request) before a route is chosen or a byte of the body is read.

- `Authorization: Bearer gw_...` is an API key; the dashboard's session cookie is a person.
- Mutating requests made with the cookie must carry the session's CSRF token.
- Requests without credentials reach only the public paths: `/health`, sign-in, the
  dashboard's static files and the API reference pages.
- The worker's endpoints take their own bearer secrets (the worker secret to claim, a run's
  token to write into it, or to read the dataset it names): checked here too, so that no body
  is read for a wrong one (the endpoints check again, under their own locks).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs

import orjson
from anyio import to_thread
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send

from gapwatch.server.access import service
from gapwatch.server.access.principal import Principal
from gapwatch.server.access.recent import RecentCredentials
from gapwatch.server.access.tokens import (
    AUTHENTICATE_HINT,
    CSRF_HEADER,
    SESSION_COOKIE,
    bearer_value,
    hash_secret,
    is_api_key,
)
from gapwatch.server.errors import (
    DatabaseUnavailable,
    Forbidden,
    GapwatchError,
    Unauthorized,
    database_unavailable,
    first_line,
)
from gapwatch.server.models.base import utcnow

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
PUBLIC_API_PATHS = frozenset({"/api/v1/auth/sign-in", "/api/v1/auth/link"})
# Paths that answer their own bearer secrets: the worker's claim and a run token's writes.
WORKER_PATH = re.compile(r"^/api/v1/runs/([^/]+)/(claim|heartbeat|finish|metrics|events)$")
# A dataset's file, which the worker executing a run that names it reads with the run's token
# (`?run=<run id>`).
DATASET_FILE_PATH = re.compile(r"^/api/v1/datasets/[^/]+/file$")
# A run id the database can hold; anything else is left to the endpoint's 422.
MAX_RUN_ID = 2**63 - 1
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PRINCIPAL_STATE = "principal"


def _row_id(text: str) -> int | None:
    """`text` as a run id the database can hold, else None. ASCII digits only: str.isdigit()
    also takes '²' (which int() refuses), and int() refuses more than 4300 digits."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_RUN_ID)):
        return None
    number = int(text)
    return number if number <= MAX_RUN_ID else None


def needs_credentials(path: str) -> bool:
    """Everything under /api/ and the OpenAPI document, except sign-in itself."""
    if path == "/openapi.json":
        return True
    return path.startswith(API_PREFIX) and path not in PUBLIC_API_PATHS


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def _cookie(scope: Scope, name: str) -> str | None:
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    try:
        jar = SimpleCookie(raw)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None and morsel.value else None


class AuthenticationMiddleware:
    """Sets `request.state.principal` (a Principal, or None on public paths)."""

    def __init__(
        self,
        app: ASGIApp,
        session_factory: Callable[[], sessionmaker[Session]],
        worker_secret: Callable[[], str],
    ):
        self.app = app
        self._session_factory = session_factory
        self._worker_secret = worker_secret
        self._recent = RecentCredentials()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            principal = await self._authenticate(scope)
        except GapwatchError as error:
            await _answer(send, error)
            return
        except Exception as error:
            # Keys and sessions live in the database: while it is down or restarting, the
            # answer is the routes' 503 with Retry-After, not a 500.
            if not database_unavailable(error):
                raise
            log.warning("%s: database unavailable: %s", scope["path"], first_line(error))
            await _answer(send, DatabaseUnavailable())
            return
        scope.setdefault("state", {})[PRINCIPAL_STATE] = principal
        await self.app(scope, receive, send)

    async def _authenticate(self, scope: Scope) -> Principal | None:
        path: str = scope["path"]
        method: str = scope["method"]
        authorization = _header(scope, b"authorization")
        if authorization is not None:
            value = bearer_value(authorization)
            if not is_api_key(value):
                if method == "GET" and DATASET_FILE_PATH.match(path):
                    await self._check_run_reader(scope, value)
                    return None
                worker_call = WORKER_PATH.match(path) if method == "POST" else None
                if worker_call is None:
                    raise Unauthorized(f"not an API key: {AUTHENTICATE_HINT}")
                await self._check_worker_secret(worker_call, value)
                return None
            return await self._remembered(
                ("key", hash_secret(value)), service.principal_from_key, value
            )
        if path in PUBLIC_API_PATHS:
            return None  # signing in again replaces a session; the old cookie is not asked
        cookie = _cookie(scope, SESSION_COOKIE)
        principal = None
        if cookie is not None:
            principal = await self._remembered(
                ("session", hash_secret(cookie)), service.principal_from_session, cookie
            )
        if principal is None:
            if needs_credentials(path):
                what = "your sign-in has expired or was revoked; " if cookie else ""
                raise Unauthorized(f"authentication required: {what}{AUTHENTICATE_HINT}")
            return None
        if method in MUTATING:
            service.check_csrf(principal, _header(scope, CSRF_HEADER.lower().encode()))
        return principal

    async def _check_worker_secret(self, call: re.Match[str], value: str) -> None:
        """The worker secret for a claim, the run's own token for its writes."""
        run_id, action = call.group(1), call.group(2)
        if action == "claim":
            service.check_worker_secret(self._worker_secret(), value)
        elif _row_id(run_id) is not None:
            # Remembered only as a gate before the body: each endpoint checks the token again.
            await self._remembered(
                ("run", int(run_id), hash_secret(value)),
                service.check_run_token_of,
                (int(run_id), value),
            )
        else:  # no run has such an id, so no token is valid for it
            raise Forbidden(f"token is not valid for run {run_id[:40]!r}")

    async def _check_run_reader(self, scope: Scope, value: str) -> None:
        """A run's token on a dataset's file: valid for the run its `run` parameter names (the
        endpoint checks that the run names that dataset)."""
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        run_id = _row_id(query.get("run", [""])[0])
        if run_id is None:
            raise Forbidden("a run's token reads a dataset's file with ?run=<the run's id>")
        await self._remembered(
            ("run", run_id, hash_secret(value)), service.check_run_token_of, (run_id, value)
        )

    async def _remembered(
        self, digest: tuple[object, ...], check: Callable[[Session, Any], Any], value: Any
    ) -> Any:
        """`check(session, value)`'s answer, from the last second's if it was a success."""
        found = self._recent.get(digest)
        if found is None:
            found = await to_thread.run_sync(self._with_session, check, value)
            if found is not None:
                expires = getattr(found, "expires_at", None)
                left = None if expires is None else (expires - utcnow()).total_seconds()
                self._recent.put(digest, found, valid_for_s=left)
        return found

    def _with_session(self, function: Callable[[Session, str], Any], value: str) -> Any:
        with self._session_factory()() as session:
            return function(session, value)


async def _answer(send: Send, error: GapwatchError) -> None:
    headers = [(b"content-type", b"application/json")]
    if isinstance(error, Unauthorized):
        headers.append((b"www-authenticate", b'Bearer realm="gapwatch"'))
    elif isinstance(error, DatabaseUnavailable):
        headers.append((b"retry-after", error.retry_after_header.encode()))
    await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": orjson.dumps({"detail": error.detail})})
