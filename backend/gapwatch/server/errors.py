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


class ServiceUnavailable(GapwatchError):
    status_code = 503


def install_error_handlers(app: FastAPI) -> None:
    """Answer domain errors as `{"detail": "..."}` with their status."""

    async def _handle(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GapwatchError)
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    app.add_exception_handler(GapwatchError, _handle)
    app.add_exception_handler(RequestValidationError, _handle_validation)


def _json_safe(value: Any) -> Any:
    """Non-finite floats as strings: the 422 echoes the input, and JSON has no NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


async def _handle_validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail = _json_safe(jsonable_encoder(exc.errors()))
    return JSONResponse({"detail": detail}, status_code=422)
