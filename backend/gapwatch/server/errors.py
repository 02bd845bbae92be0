"""Domain errors and their HTTP answers: services raise these, never HTTPException."""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


class GapwatchError(Exception):
    """Base of errors that map to an HTTP status with a `detail` message."""

    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(GapwatchError):
    status_code = 404


class Conflict(GapwatchError):
    status_code = 409


class Unauthorized(GapwatchError):
    status_code = 401


class Forbidden(GapwatchError):
    status_code = 403


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


def install_error_handlers(app: FastAPI) -> None:
    """Answer domain errors as `{"detail": "..."}` with their status."""

    async def _handle(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GapwatchError)
        headers: dict[str, str] | None = None
        if isinstance(exc, Unauthorized):
            headers = {"WWW-Authenticate": "Bearer"}
        elif isinstance(exc, TooManyRequests):
            headers = {"Retry-After": exc.retry_after_header}
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    app.add_exception_handler(GapwatchError, _handle)
    app.add_exception_handler(RequestValidationError, _handle_validation)


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
