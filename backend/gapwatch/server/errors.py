"""Domain errors and their HTTP answers: services raise these, never HTTPException."""

from __future__ import annotations

from fastapi import FastAPI, Request
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
