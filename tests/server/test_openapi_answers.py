"""The OpenAPI document lists the error answers each operation really gives, with the shared
error schema; a 405 names every method of its path."""

from __future__ import annotations

from typing import Any

import pytest

from gapwatch.server import apidoc
from gapwatch.server.models import Role
from tests.server.conftest import WORKER_AUTH, claim, create_run, make_account

ERROR_REF = {"$ref": "#/components/schemas/ErrorMessage"}
VALIDATION_REF = {"$ref": "#/components/schemas/HTTPValidationError"}


def _operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        operation["operationId"]: operation
        for item in document["paths"].values()
        for operation in item.values()
    }


def _errors(operation: dict[str, Any]) -> set[int]:
    return {int(code) for code in operation["responses"] if int(code) >= 400}


@pytest.fixture
def document(api) -> dict[str, Any]:
    answer = api.get("/openapi.json")
    assert answer.status_code == 200
    return answer.json()


@pytest.mark.parametrize(
    ("operation_id", "errors"),
    [
        ("health", {400, 401, 503}),
        ("spec-describe", {400, 401, 503}),
        ("runs-get", {400, 401, 404, 422, 503}),
        ("runs-list", {400, 401, 422, 503}),
        ("runs-create", {400, 401, 403, 404, 413, 422, 429, 503}),
        ("runs-init", {400, 401, 403, 404, 409, 413, 422, 429, 503}),
        ("runs-cancel", {400, 401, 403, 404, 409, 422, 503}),
        ("runs-claim", {400, 401, 403, 404, 409, 413, 422, 503}),
        # A run token for an unknown run is a 403, like any token of another run.
        ("runs-heartbeat", {400, 401, 403, 409, 413, 422, 503}),
        ("metrics-ingest", {400, 401, 403, 409, 413, 422, 503}),
        ("runs-compare", {400, 401, 404, 422, 503}),
        ("runs-live", {400, 401, 404, 422, 429, 503}),
        ("runs-live-many", {400, 401, 404, 422, 429, 503}),
        ("users-list", {400, 401, 403, 503}),
        ("auth-sign-in", {400, 401, 413, 422, 429, 503}),
        ("auth-sessions", {400, 401, 403, 503}),
        ("projects-members-set", {400, 401, 403, 404, 409, 413, 422, 503}),
    ],
)
def test_an_operation_lists_the_errors_it_answers(document, operation_id, errors) -> None:
    assert _errors(_operations(document)[operation_id]) == errors


def test_every_operation_shares_the_error_schema_and_the_retry_headers(document) -> None:
    assert document["components"]["schemas"]["ErrorMessage"]["required"] == ["detail"]
    operations = _operations(document)
    assert len(operations) >= 40
    for operation_id, operation in operations.items():
        responses = operation["responses"]
        assert {400, 401, 503} <= _errors(operation), operation_id
        takes_input = operation.get("parameters") or "requestBody" in operation
        assert ("422" in responses) == bool(takes_input), operation_id
        if "requestBody" in operation:
            assert "413" in responses, operation_id
        for code, answer in responses.items():
            if int(code) < 400:
                continue
            schema = answer["content"]["application/json"]["schema"]
            assert schema == (VALIDATION_REF if code == "422" else ERROR_REF), (operation_id, code)
        assert "Retry-After" in responses["503"]["headers"]
        assert "WWW-Authenticate" in responses["401"]["headers"]
        if "429" in responses:
            assert "Retry-After" in responses["429"]["headers"]


def test_the_table_names_only_operations_that_exist(document) -> None:
    known = set(_operations(document))
    assert set(apidoc.EXTRA) <= known
    assert set(apidoc.NEVER) <= known


def test_the_answers_are_added_once(app, document) -> None:
    """The document is described when it is built; building it again changes nothing."""
    assert app.openapi() == document
    assert apidoc.document_error_answers(app, app.openapi()) == document


def test_the_documented_errors_are_the_ones_answered(
    api, anonymous, document, db_session_factory
) -> None:
    """One real answer of each kind, checked against its operation's list."""
    operations = _operations(document)
    viewer = make_account(db_session_factory, "victor", role=Role.viewer)
    run = create_run(api)
    answers: list[tuple[str, int]] = []

    def answered(operation_id: str, response: Any) -> None:
        answers.append((operation_id, response.status_code))
        assert response.headers["content-type"] == "application/json", response.text

    answered("runs-get", anonymous.get(f"/api/v1/runs/{run['id']}"))  # 401
    answered("runs-get", api.get("/api/v1/runs/987654321"))  # 404
    answered("runs-get", api.get("/api/v1/runs/x"))  # 422
    answered("runs-get", api.get(f"/api/v1/runs/{run['id']}", headers={"host": "evil.example"}))
    answered("runs-cancel", anonymous.post(f"/api/v1/runs/{run['id']}/cancel", headers=viewer.auth))
    answered("runs-cancel", api.post(f"/api/v1/runs/{run['id']}/cancel"))  # 200
    answered("runs-cancel", api.post(f"/api/v1/runs/{run['id']}/cancel"))  # 409
    answered("runs-create", api.post("/api/v1/runs", content=b" " * 70_000))  # 413
    answered("runs-claim", anonymous.post("/api/v1/runs/1/claim", json={"worker": "w"}))
    other = create_run(api)
    token = claim(api, other["id"])
    answered(
        "runs-heartbeat",
        anonymous.post(f"/api/v1/runs/{run['id']}/heartbeat", json={"step": 1}, headers=token),
    )
    answered(
        "runs-claim",
        anonymous.post(
            f"/api/v1/runs/{other['id']}/claim", json={"worker": "w"}, headers=WORKER_AUTH
        ),
    )
    assert answers == [
        ("runs-get", 401),
        ("runs-get", 404),
        ("runs-get", 422),
        ("runs-get", 400),
        ("runs-cancel", 403),
        ("runs-cancel", 200),
        ("runs-cancel", 409),
        ("runs-create", 413),
        ("runs-claim", 401),
        ("runs-heartbeat", 403),
        ("runs-claim", 409),
    ]
    for operation_id, status in answers:
        assert str(status) in operations[operation_id]["responses"], (operation_id, status)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        # GET and POST /runs are two routes; Starlette named the first one's method only.
        ("DELETE", "/api/v1/runs", "GET, POST"),
        ("PUT", "/api/v1/runs", "GET, POST"),
        ("DELETE", "/api/v1/runs/1/metrics", "GET, POST"),
        ("PATCH", "/api/v1/projects/default", "DELETE, GET"),
        ("GET", "/api/v1/projects/default/members/bob", "DELETE, PUT"),
        ("PUT", "/api/v1/runs/1", "GET"),
        ("GET", "/api/v1/runs/1/cancel", "POST"),
    ],
)
def test_a_405_allows_every_method_of_its_path(api, method, path, allowed) -> None:
    answer = api.request(method, path)
    assert answer.status_code == 405
    assert answer.headers["allow"] == allowed
    assert answer.json() == {"detail": "Method Not Allowed"}


def test_the_live_streams_errors_are_documented_json(api, anonymous, document) -> None:
    """The stream is left out of the schemathesis run (a real run's stream does not end)."""
    documented = _operations(document)["runs-live"]["responses"]
    for response, status in [
        (anonymous.get("/api/v1/runs/1/live"), 401),
        (api.get("/api/v1/runs/987654321/live"), 404),
        (api.get(f"/api/v1/runs/{2**63}/live"), 422),
    ]:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/json"
        assert str(status) in documented
    # The compare page's one stream of several runs answers its errors the same way.
    documented = _operations(document)["runs-live-many"]["responses"]
    for response, status in [
        (anonymous.get("/api/v1/live", params={"runs": "1"}), 401),
        (api.get("/api/v1/live", params={"runs": "987654321"}), 404),
        (api.get("/api/v1/live", params={"runs": "1,x"}), 422),
    ]:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/json"
        assert str(status) in documented
