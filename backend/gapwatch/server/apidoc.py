"""What the OpenAPI document says each operation answers besides success, in one place.

Most error answers follow from where an operation sits and what it depends on, so they are
read off the route when the document is built rather than written on each endpoint:

- 400 everywhere: the edge refuses a Host header it does not answer to, before routing.
- 401 everywhere: no credentials on a path that needs them, or a credential that is not one
  (the middleware checks any `Authorization` header, even on the public paths).
- 403 for every write that needs credentials (the CSRF token of a cookie session, a worker's
  or a run's token) and for the role-checked dependencies.
- 404 for every operation with a path parameter (an unknown id, or one the caller may not see).
- 413 and 422 for every operation with a body; 422 for every operation with parameters.
- 429 for the rate-limited dependencies; 503 everywhere (the database, or the broker, is out of
  reach: the answer carries Retry-After during a database outage).

`EXTRA` and `NEVER` name what the route does not show: refusals made inside a service (409s,
an admin check) and the 404 that a run token's writes never give (a wrong token for an unknown
run is a 403, so that it learns nothing). Every answer has the shared `ErrorMessage` body but
422, which is FastAPI's `HTTPValidationError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, Field

from gapwatch.server.access.middleware import MUTATING, needs_credentials
from gapwatch.server.deps import (
    limit_submissions,
    require_run_token,
    require_worker_secret,
    run_for_editor,
)

ERROR_SCHEMA = "ErrorMessage"
VALIDATION_SCHEMA = "HTTPValidationError"


class ErrorMessage(BaseModel):
    """Every error answer but a 422: what went wrong, for people."""

    detail: str = Field(description="What went wrong, and what to do about it where it helps.")


_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 1},
    }
}
_AUTHENTICATE = {
    "WWW-Authenticate": {
        "description": "How to authenticate: Bearer.",
        "schema": {"type": "string"},
    }
}

# Each status's description and response headers.
ANSWERS: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("The Host header names a host this server does not answer to.", {}),
    401: (
        "Authentication required: no credentials, or a key, session or token that is not valid.",
        _AUTHENTICATE,
    ),
    403: (
        "Not allowed: a role the caller lacks, a wrong worker or run token, or a write made "
        "with the session cookie but without its X-CSRF-Token header.",
        {},
    ),
    404: ("Not found, or not visible to the caller.", {}),
    409: ("The current state does not allow this (for example, a run that has ended).", {}),
    413: ("The request body is larger than this operation accepts.", {}),
    429: ("Too many requests: wait the Retry-After header's seconds.", _RETRY_AFTER),
    503: (
        "A service this needs is unreachable (the database, or the broker for a submission); "
        "retry later. During a database outage the answer carries Retry-After.",
        _RETRY_AFTER,
    ),
}

# Answers made inside a service, which no property of the route shows (by operation id).
EXTRA: dict[str, frozenset[int]] = {
    "auth-sign-in": frozenset({429}),  # failed sign-ins, per name and per address
    "auth-link": frozenset({429}),
    "auth-sessions": frozenset({403}),  # a key narrowed to a project or role
    "users-list": frozenset({403}),  # administrators only
    "runs-create": frozenset({404}),  # the spec's project
    "sweeps-create": frozenset({404}),  # the sweep's project
    "runs-init": frozenset({404, 409}),  # the project; a client_key of a cancelled run
    "keys-create": frozenset({404}),  # the key's project
    "runs-compare": frozenset({404}),  # a run or group the caller cannot see
    "runs-live": frozenset({429}),  # live streams per user and per process (live/service.py)
    "runs-live-many": frozenset({404, 429}),  # a run the caller cannot see; the stream caps
    "runs-resume": frozenset({409}),
    "runs-cancel": frozenset({409}),
    "runs-retry": frozenset({409}),  # only a failed or cancelled engine run
    "runs-claim": frozenset({409}),
    "runs-heartbeat": frozenset({409}),
    "runs-finish": frozenset({409}),
    "metrics-ingest": frozenset({409}),
    "events-ingest": frozenset({409}),
    "users-create": frozenset({409}),  # the name is taken
    "users-update": frozenset({409}),  # the last enabled administrator
    "users-login-link": frozenset({409}),  # a disabled user
    "projects-create": frozenset({409}),
    "projects-delete": frozenset({409}),  # runs still queued or running
    "projects-members-set": frozenset({409}),  # the last owner
    "projects-members-remove": frozenset({409}),
    "datasets-create": frozenset({404, 409}),  # the project; a name the project has
    "datasets-file": frozenset({403}),  # a run's token: not the run's, or the run has ended
    "datasets-delete": frozenset({409}),  # queued or running runs use it
}
# Answers the route's properties suggest but the operation never gives: a run token's writes
# answer 403 for an unknown run, as for any run the token does not belong to.
NEVER: dict[str, frozenset[int]] = {
    "runs-heartbeat": frozenset({404}),
    "runs-finish": frozenset({404}),
    "metrics-ingest": frozenset({404}),
    "events-ingest": frozenset({404}),
}
# Dependencies that refuse with 403 (a role, the worker secret, a run's token) or 429.
FORBIDDING: frozenset[Callable[..., Any]] = frozenset(
    {run_for_editor, require_worker_secret, require_run_token}
)
RATE_LIMITING: frozenset[Callable[..., Any]] = frozenset({limit_submissions})


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def error_answers(
    dependant: Dependant, path: str, method: str, operation: dict[str, Any]
) -> set[int]:
    """The error statuses (but 422) that `operation` at `method path` may answer, with the
    dependencies of its route (`dependant`)."""
    calls = set(_calls(dependant))
    operation_id = operation.get("operationId", "")
    answers = {400, 401, 503}
    if (method in MUTATING and needs_credentials(path)) or calls & FORBIDDING:
        answers.add(403)
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        answers.add(404)
    if "requestBody" in operation:
        answers.add(413)
    if calls & RATE_LIMITING:
        answers.add(429)
    answers |= EXTRA.get(operation_id, frozenset())
    return answers - NEVER.get(operation_id, frozenset())


def _validation_answer() -> dict[str, Any]:
    return {
        "description": "Validation Error",
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{VALIDATION_SCHEMA}"}}
        },
    }


def document_error_answers(app: FastAPI, schema: dict[str, Any]) -> dict[str, Any]:
    """Adds to the OpenAPI document `schema` of `app` the error answers of every operation,
    and their schema. Idempotent: a document described once is left as it is."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(
        ERROR_SCHEMA, ErrorMessage.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not context.include_in_schema:
            continue
        path = context.path_format
        for method in sorted(context.methods or ()):
            operation = schema.get("paths", {}).get(path, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            dependant = getattr(context, "dependant", None) or route.dependant
            for status in sorted(error_answers(dependant, path, method, operation)):
                description, headers = ANSWERS[status]
                answer: dict[str, Any] = {
                    "description": description,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}
                        }
                    },
                }
                if headers:
                    answer["headers"] = headers
                responses.setdefault(str(status), answer)
            # Every operation that takes input may refuse it; FastAPI says so only for those
            # with declared parameters (not for a body it reads itself).
            if operation.get("parameters") or "requestBody" in operation:
                responses.setdefault("422", _validation_answer())
            operation["responses"] = dict(sorted(responses.items()))
    return schema


def install_error_answers(app: FastAPI) -> None:
    """Makes `app.openapi()` describe every operation's error answers (see the module)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        return document_error_answers(app, build())

    app.openapi = openapi  # type: ignore[method-assign]
