"""Domain errors and their HTTP answers: services raise these, never HTTPException."""

from __future__ import annotations

import logging
import math
import sqlite3
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from sqlalchemy import exc as sqlalchemy_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import get_route_path

try:  # the PostgreSQL driver, whose errors the ingest path may raise without SQLAlchemy
    import psycopg

    _DRIVER_ERROR: tuple[type[Exception], ...] = (psycopg.Error,)
    _DRIVER_UNAVAILABLE: tuple[type[Exception], ...] = (
        psycopg.OperationalError,
        psycopg.InterfaceError,
    )
except ImportError:  # pragma: no cover - a server without PostgreSQL support
    _DRIVER_ERROR = _DRIVER_UNAVAILABLE = ()

log = logging.getLogger(__name__)


def first_line(error: BaseException) -> str:
    """An error's type and the first line of its message, for a log line without a traceback."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"


class GapwatchError(Exception):
    """Base of errors that map to an HTTP status with a `detail` message."""

    status_code = 400
    # True for a refusal that records why (the request's transaction commits, then answers).
    keeps_changes = False

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(GapwatchError):
    status_code = 404


class Conflict(GapwatchError):
    status_code = 409


class AttemptsExhausted(Conflict):
    """A claim refused because the run had its attempts: the run is failed, and stays so."""

    keeps_changes = True


class Unauthorized(GapwatchError):
    status_code = 401


class Forbidden(GapwatchError):
    status_code = 403


class ContentTooLarge(GapwatchError):
    """A body (or what it unpacks to) over a size the server was configured to accept."""

    status_code = 413


class TooManyRequests(GapwatchError):
    """Over a rate limit; the answer's Retry-After header says when to try again."""

    status_code = 429

    def __init__(self, detail: str, retry_after_s: float) -> None:
        """An error for a caller that must wait.

        Args:
            detail: What was limited, for people.
            retry_after_s: Seconds until the next attempt is allowed (a RateLimiter's answer).

        Raises:
            ValueError: When retry_after_s is negative, NaN or infinite.
        """
        if not math.isfinite(retry_after_s) or retry_after_s < 0:
            raise ValueError(f"retry_after_s must be finite and >= 0, not {retry_after_s}")
        super().__init__(detail)
        self.retry_after_s = retry_after_s

    @property
    def retry_after_header(self) -> str:
        """Whole seconds, rounded up and at least 1: a client that waits that long gets in."""
        return str(max(1, math.ceil(self.retry_after_s)))


class ServiceUnavailable(GapwatchError):
    status_code = 503


# What a client waits after a 503 for the database: a restart or a failover takes seconds.
DATABASE_RETRY_AFTER_S = 5.0
DATABASE_UNAVAILABLE = "the database is unavailable; retry shortly"


class DatabaseUnavailable(ServiceUnavailable):
    """The database could not be reached (down, restarting, locked): 503 with Retry-After,
    never a 500, so that clients wait and try again instead of giving up."""

    def __init__(self, retry_after_s: float = DATABASE_RETRY_AFTER_S) -> None:
        super().__init__(DATABASE_UNAVAILABLE)
        self.retry_after_s = retry_after_s

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after_s)))


# SQLite's OperationalError also means a missing table or a syntax error (bugs, 500s); only
# these messages say that the file is busy or out of reach for now.
_SQLITE_TRANSIENT = ("database is locked", "database table is locked", "unable to open database")
# PostgreSQL's OperationalError also covers a value too large for an index (54000); these
# SQLSTATE classes are the ones a retry may get past: connection exceptions (08), insufficient
# resources (53: too many connections, disk full), operator intervention (57: shutting down,
# starting up, statement cancelled), system errors (58), and a transaction rolled back for a
# deadlock or a serialization failure (40); 55P03 is a lock that was not available.
_PG_TRANSIENT_CLASSES = frozenset({"08", "40", "53", "57", "58"})


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` says that the database could not be reached or used for now (a dropped
    or refused connection, a server shutting down or starting up, a locked SQLite file, an
    exhausted pool), rather than that a statement is wrong: the request may succeed later."""
    if isinstance(error, sqlalchemy_exc.TimeoutError):  # no pooled connection came free
        return True
    if isinstance(error, sqlalchemy_exc.DBAPIError):
        if error.connection_invalidated:
            return True
        if isinstance(error.orig, (sqlite3.Error, *_DRIVER_ERROR)):
            return database_unavailable(error.orig)
        return isinstance(error, sqlalchemy_exc.OperationalError | sqlalchemy_exc.InterfaceError)
    if isinstance(error, sqlite3.Error):
        return isinstance(error, sqlite3.OperationalError) and any(
            text in str(error) for text in _SQLITE_TRANSIENT
        )
    if isinstance(error, _DRIVER_UNAVAILABLE):
        # No SQLSTATE: the connection itself failed (refused, closed, reset).
        state = getattr(error, "sqlstate", None)
        return state is None or state[:2] in _PG_TRANSIENT_CLASSES or state == "55P03"
    return False


def install_error_handlers(app: FastAPI) -> None:
    """Answer domain errors as `{"detail": "..."}` with their status."""

    async def _handle(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GapwatchError)
        headers: dict[str, str] | None = None
        if isinstance(exc, Unauthorized):
            headers = {"WWW-Authenticate": "Bearer"}
        elif isinstance(exc, TooManyRequests | DatabaseUnavailable):
            headers = {"Retry-After": exc.retry_after_header}
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    async def _handle_database(request: Request, exc: Exception) -> JSONResponse:
        if not database_unavailable(exc):
            raise exc  # a wrong statement is a bug: the 500 and its traceback stay
        log.warning(
            "%s %s: database unavailable: %s", request.method, request.url.path, first_line(exc)
        )
        return await _handle(request, DatabaseUnavailable())

    app.add_exception_handler(GapwatchError, _handle)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    # Connection-level errors of the database, through SQLAlchemy or straight from the driver
    # (the ingest path talks to psycopg directly).
    for error_type in (sqlalchemy_exc.SQLAlchemyError, *_DRIVER_UNAVAILABLE):
        app.add_exception_handler(error_type, _handle_database)
    app.add_exception_handler(StarletteHTTPException, _handle_http)


def body_parse_problem(error: BaseException) -> str:
    """Why a JSON body could not be read, for a 422 on ("body",): bytes that are not UTF-8,
    nesting deeper than the parser's recursion limit, or an integer of more digits than Python
    converts (4300)."""
    if isinstance(error, UnicodeDecodeError):
        return f"JSON decode error: the body is not UTF-8 text (byte {error.start})"
    if isinstance(error, RecursionError):
        return "JSON decode error: the body is nested too deeply"
    if "integer string conversion" in str(error):
        return "JSON decode error: a number has too many digits"
    return f"JSON decode error: {str(error)[:200]}"


async def _handle_http(request: Request, exc: Exception) -> Response:
    """FastAPI's answer, but: a JSON body it could not parse for a reason other than its syntax
    (a bare 400 "There was an error parsing the body") is a 422 on the body saying why, as for
    malformed JSON; and a 405's Allow names every method of the path (`allowed_methods`)."""
    assert isinstance(exc, StarletteHTTPException)
    cause = exc.__cause__
    if exc.status_code == 400 and isinstance(cause, ValueError | RecursionError):
        error = {"type": "json_invalid", "loc": ["body"], "msg": body_parse_problem(cause)}
        return JSONResponse({"detail": [error]}, status_code=422)
    if exc.status_code == 405:
        allowed = allowed_methods(request)
        if allowed:
            exc.headers = {**(exc.headers or {}), "Allow": ", ".join(allowed)}
    return await http_exception_handler(request, exc)


def allowed_methods(request: Request) -> list[str]:
    """Every method of the request's path, for a 405's Allow header. Starlette names the first
    route that matches the path only, and GET and POST /runs are two routes. The dashboard's
    catch-all (outside the OpenAPI document, like the docs pages) counts only where no
    documented route matches."""
    path = get_route_path(request.scope)
    documented: set[str] = set()
    other: set[str] = set()
    for context in iter_route_contexts(request.app.routes):
        regex, methods = getattr(context, "path_regex", None), context.methods
        if regex is not None and methods and regex.match(path):
            in_schema = getattr(context, "include_in_schema", False)
            (documented if in_schema else other).update(methods)
    return sorted(documented or other)


# A 422 shows where and why, and only a glimpse of what was sent: echoing the input would turn a
# 30 MB metric batch with one bad value into a 30 MB answer (and a 1 MB string into a 1 MB one).
MAX_EXCERPT_CHARS = 100
MAX_EXCERPT_KEYS = 10
# Messages are ours or pydantic's, but some quote the input (a discriminator tag, a custom
# validator's f-string), so they are cut too, far above any message written by hand.
MAX_MESSAGE_CHARS = 500
# One error per bad item of a long list would make the answer as large as the body.
MAX_VALIDATION_ERRORS = 50
# Integers this large print as thousands of digits (and Python refuses beyond 4300).
_MAX_INT_BITS = 128


def _cut(text: str, limit: int = MAX_EXCERPT_CHARS) -> str:
    """`text` cut to `limit` characters, with "?" for lone surrogates (a JSON body may hold
    one as \\ud800; the answer must still encode as UTF-8)."""
    text = text if len(text) <= limit else text[:limit] + "…"
    return text.encode("utf-8", "replace").decode("utf-8") if not text.isascii() else text


def _excerpt(value: Any) -> Any:
    """A short, JSON-safe stand-in for a piece of the request's input.

    Scalars stay as they are (strings cut to MAX_EXCERPT_CHARS with '…'; NaN and infinities as
    strings, since JSON has none); a mapping becomes `{"type": "dict", "length": n, "keys":
    [first MAX_EXCERPT_KEYS keys]}` and any other container `{"type": "list", "length": n}`;
    anything else its cut `repr`.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return (
            value if value.bit_length() <= _MAX_INT_BITS else f"<{value.bit_length()}-bit integer>"
        )
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return _cut(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return _cut(bytes(value[: MAX_EXCERPT_CHARS * 4]).decode("utf-8", "replace"))
    if isinstance(value, dict):
        keys = [_cut(str(key)) for _, key in zip(range(MAX_EXCERPT_KEYS), value, strict=False)]
        return {"type": "dict", "length": len(value), "keys": keys}
    if isinstance(value, list | tuple | set | frozenset):
        return {"type": "list", "length": len(value)}
    return _cut(repr(value))


def _short_ctx(ctx: dict[str, Any]) -> dict[str, Any]:
    """The context's scalars (bounds, patterns, an error's message), cut short; no containers."""
    short: dict[str, Any] = {}
    for name, value in ctx.items():
        if isinstance(value, BaseException):
            value = str(value)
        if value is None or isinstance(value, bool | int | float | str):
            short[name] = _excerpt(value)
    return short


def _short_error(error: dict[str, Any]) -> dict[str, Any]:
    short = dict(error)
    # A dict key of the input (an unexpected field's name) may be in the location.
    if "loc" in error:
        short["loc"] = [_cut(item) if isinstance(item, str) else item for item in error["loc"]]
    if "msg" in error:
        short["msg"] = _cut(str(error["msg"]), MAX_MESSAGE_CHARS)
    if "input" in error:
        short["input"] = _excerpt(error["input"])
    if "ctx" in error:
        ctx = _short_ctx(error["ctx"]) if isinstance(error["ctx"], dict) else {}
        if ctx:
            short["ctx"] = ctx
        else:
            del short["ctx"]
    return short


async def _handle_validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    shown = [_short_error(error) for error in errors[:MAX_VALIDATION_ERRORS]]
    if len(errors) > MAX_VALIDATION_ERRORS:
        # Shaped like every other item (loc, msg, type), so clients that list them still work.
        shown.append(
            {
                "type": "too_many_errors",
                "loc": [],
                "msg": f"{len(errors) - MAX_VALIDATION_ERRORS} more errors not shown",
            }
        )
    # Every input and context value is an excerpt already (NaN and infinities as strings).
    detail = jsonable_encoder(shown)
    return JSONResponse({"detail": detail}, status_code=422)
