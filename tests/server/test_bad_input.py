"""Client mistakes are 4xx answers naming what was wrong, never a 500: each test here was a 500
(a database error or an unhandled exception) before it was fixed, found by hand or by
test_schemathesis.py, and stays as a plain regression test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from gapwatch.config import Settings
from gapwatch.server.migrate import upgrade_database
from gapwatch.spec import RunSpec
from tests.conftest import WORKER_TOKEN
from tests.server.conftest import SPEC, WORKER_AUTH, claim, client_with_account, create_run

TOO_BIG = 2**63  # one past the largest 64-bit id
JSON = {"content-type": "application/json"}


def _locations(response: Any) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    return [error["loc"] for error in response.json()["detail"]]


def _runs_stored(api: Any) -> int:
    return int(api.get("/api/v1/runs").json()["total"])


# --- numbers beyond 64 bits -------------------------------------------------------------------


def test_ids_and_offsets_beyond_64_bits_are_422_naming_them(api) -> None:
    assert _locations(api.get(f"/api/v1/runs/{TOO_BIG}")) == [["path", "run_id"]]
    assert _locations(api.post(f"/api/v1/runs/{TOO_BIG}/cancel")) == [["path", "run_id"]]
    assert _locations(api.get(f"/api/v1/compare?runs=1,{TOO_BIG}")) == [["query", "runs"]]
    assert _locations(api.get("/api/v1/compare?runs=" + "1" * 5000)) == [["query", "runs"]]
    # Was a database error ("bigint out of range").
    assert _locations(api.get(f"/api/v1/runs?offset={TOO_BIG}")) == [["query", "offset"]]
    largest = api.get(f"/api/v1/runs?offset={TOO_BIG - 1}")
    assert largest.status_code == 200 and largest.json()["items"] == []


@pytest.mark.parametrize("run_id", ["%C2%B2", "1" * 5000, str(TOO_BIG)])
@pytest.mark.parametrize("action", ["heartbeat", "finish", "metrics", "events"])
def test_a_run_token_for_an_id_no_run_can_have_is_403(anonymous, run_id, action) -> None:
    """The middleware reads the id before routing: '²' passes str.isdigit() but not int(), and
    int() refuses 5000 digits; both were 500s."""
    answer = anonymous.post(
        f"/api/v1/runs/{run_id}/{action}",
        json={"step": 1},
        headers={"Authorization": "Bearer not-a-run-token"},
    )
    assert answer.status_code == 403, answer.text
    assert answer.json()["detail"].startswith("token is not valid for run")


def test_a_claim_of_an_id_no_run_can_have_is_422(anonymous) -> None:
    for run_id in ("%C2%B2", "1" * 5000, str(TOO_BIG)):
        answer = anonymous.post(
            f"/api/v1/runs/{run_id}/claim", json={"worker": "w"}, headers=WORKER_AUTH
        )
        assert _locations(answer) == [["path", "run_id"]]


# --- text a database column cannot hold ------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "location"),
    [
        ("name", "a\x00b", ["body", "name"]),
        ("group", "seed\x00s", ["body", "group"]),
        ("tags", ["ok", "a\x00"], ["body", "tags", 1]),
    ],
)
def test_nul_in_a_runs_name_group_or_tag_is_422_and_nothing_is_stored(
    api, field, value, location
) -> None:
    before = _runs_stored(api)
    answer = api.post("/api/v1/runs", json={**SPEC, field: value})
    assert _locations(answer) == [location]
    assert "NUL" in answer.json()["detail"][0]["msg"]
    assert _runs_stored(api) == before


def test_a_lone_surrogate_in_a_runs_text_is_422(api) -> None:
    body = '{"benchmark":{"name":"split_digits"},"model":{"name":"mlp"},'
    body += '"strategy":{"name":"finetune"},"tags":["\\ud800"]}'
    assert _locations(api.post("/api/v1/runs", content=body, headers=JSON)) == [["body", "tags", 0]]
    # The same rule where no JSON parser stands before it (the SDK and the worker build specs).
    with pytest.raises(ValidationError, match="(?i)unicode"):
        RunSpec.model_validate({**SPEC, "group": "\udc00"})


def test_nul_in_a_worker_name_or_a_finish_error_is_422(api, anonymous) -> None:
    run = create_run(api)
    refused = anonymous.post(
        f"/api/v1/runs/{run['id']}/claim", json={"worker": "w\x00"}, headers=WORKER_AUTH
    )
    assert _locations(refused) == [["body", "worker"]]
    assert api.get(f"/api/v1/runs/{run['id']}").json()["status"] == "queued"
    token = claim(api, run["id"])
    finish = {"status": "failed", "error": "Traceback\x00"}
    refused = anonymous.post(f"/api/v1/runs/{run['id']}/finish", json=finish, headers=token)
    assert _locations(refused) == [["body", "error"]]
    assert api.get(f"/api/v1/runs/{run['id']}").json()["status"] == "running"


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/api/v1/runs?tag=a%00", ["query", "tag"]),
        ("/api/v1/runs?group=a%00", ["query", "group"]),
        ("/api/v1/runs?project=a%00", ["query", "project"]),
        ("/api/v1/compare?group=a%00", ["query", "group"]),
    ],
)
def test_nul_in_a_text_filter_is_422(api, path, location) -> None:
    assert _locations(api.get(path)) == [location]


# --- bodies that are not JSON text -----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"series": [{"key": "a\xff", "steps": [1], "values": [1]}]}', "not UTF-8 text (byte"),
        (b"[" * 1000 + b"]" * 1000, "nested too deeply"),
    ],
)
def test_a_metric_batch_that_is_not_json_text_is_422_on_the_body(
    api, anonymous, body, message
) -> None:
    run = create_run(api)
    token = claim(api, run["id"])
    path = f"/api/v1/runs/{run['id']}/metrics"
    answer = anonymous.post(path, content=body, headers={**token, **JSON})
    assert _locations(answer) == [["body"]]
    assert message in answer.json()["detail"][0]["msg"]
    # A wrong token hears about its token, never about the body.
    wrong = anonymous.post(path, content=body, headers={"Authorization": "Bearer x", **JSON})
    assert wrong.status_code == 403


@pytest.mark.parametrize(
    "body", [b'{"name": "\xff"}', b"[" * 1000 + b"]" * 1000, b'{"a":' * 1000 + b"1" + b"}" * 1000]
)
def test_any_json_body_that_is_not_json_text_is_422_on_the_body(api, anonymous, body) -> None:
    """FastAPI answered these with a bare 400 "There was an error parsing the body"."""
    before = _runs_stored(api)
    assert _locations(api.post("/api/v1/runs", content=body, headers=JSON)) == [["body"]]
    assert _runs_stored(api) == before
    signing_in = anonymous.post("/api/v1/auth/sign-in", content=body, headers=JSON)
    assert _locations(signing_in) == [["body"]]


# --- event payloads ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ('{"loss": NaN}', "payload.loss is nan"),
        ('{"loss": [1, Infinity]}', "payload.loss[1] is inf"),
        ('{"note": "a\\u0000b"}', "payload.note: text must not hold a NUL"),
        ('{"a\\u0000": 1}', "a key of payload: text must not hold a NUL"),
        ('{"deep": {"note": "\\ud800"}}', "payload.deep.note: text must be valid Unicode"),
    ],
)
def test_an_event_payload_the_json_column_cannot_store_is_422(
    api, anonymous, payload, message
) -> None:
    run = create_run(api)
    token = claim(api, run["id"])
    body = '{"events": [{"step": 1, "kind": "note", "payload": ' + payload + "}]}"
    answer = anonymous.post(
        f"/api/v1/runs/{run['id']}/events", content=body, headers={**token, **JSON}
    )
    assert _locations(answer) == [["body", "events", 0, "payload"]]
    assert message in answer.json()["detail"][0]["msg"]
    assert api.get(f"/api/v1/runs/{run['id']}/events").json()["events"] == []


# --- progress steps are metric steps ----------------------------------------------------------


def _report_progress_beyond_32_bits(api: Any, run_id: int, token: dict[str, str]) -> None:
    beat = {"step": 2**40, "total_steps": 2**41}
    answer = api.post(f"/api/v1/runs/{run_id}/heartbeat", json=beat, headers=token)
    assert answer.status_code == 200, answer.text
    progress = api.get(f"/api/v1/runs/{run_id}").json()["progress"]
    assert progress == {"step": 2**40, "total": 2**41, "fraction": 0.5}
    beyond = api.post(f"/api/v1/runs/{run_id}/heartbeat", json={"step": 2**53 + 1}, headers=token)
    assert _locations(beyond) == [["body", "step"]]


def test_a_heartbeat_step_beyond_32_bits_is_stored_on_postgresql(api) -> None:
    run = create_run(api)
    _report_progress_beyond_32_bits(api, run["id"], claim(api, run["id"]))
    opened = api.post("/api/v1/runs/init", json={"name": "loop"}).json()
    token = {"Authorization": f"Bearer {opened['token']}"}
    _report_progress_beyond_32_bits(api, opened["run"]["id"], token)


def test_a_heartbeat_step_beyond_32_bits_is_stored_on_sqlite(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, worker_token=SecretStr(WORKER_TOKEN))
    upgrade_database(settings.resolved_database_url)
    with client_with_account(settings) as api:
        assert api.get("/health").json()["database"] == "sqlite"
        opened = api.post("/api/v1/runs/init", json={"name": "loop"}).json()
        token = {"Authorization": f"Bearer {opened['token']}"}
        _report_progress_beyond_32_bits(api, opened["run"]["id"], token)


# --- bodies over their limit ------------------------------------------------------------------


def test_a_body_over_its_limit_is_a_json_413_naming_the_limit(api, anonymous) -> None:
    """Starlette's limiter answered in plain text, which the document does not describe."""
    answer = api.post("/api/v1/runs", content=b" " * (64 * 2**10 + 1), headers=JSON)
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {
        "detail": "the request body is larger than the 65536 bytes this operation accepts"
    }
    assert answer.headers["x-frame-options"] == "DENY"  # still inside the security headers
    run = create_run(api)
    token = claim(api, run["id"])
    events = anonymous.post(
        f"/api/v1/runs/{run['id']}/events", content=b" " * (2**20 + 1), headers={**token, **JSON}
    )
    assert events.status_code == 413
    assert "1048576 bytes" in events.json()["detail"]


# --- found by hand after the first fixes -----------------------------------------------------


@pytest.mark.parametrize("value", ["NaN", "-Infinity", "1e400", "[1, NaN]"])
def test_a_config_filter_that_is_not_a_finite_json_value_is_compared_as_text(api, value) -> None:
    """Python's parser reads NaN, Infinity and 1e400 (as inf), which the database refused."""
    opened = api.post("/api/v1/runs/init", json={"config": {"lr": value}})
    assert opened.status_code == 201, opened.text
    api.post("/api/v1/runs/init", json={"config": {"lr": 0.1}})
    found = api.get("/api/v1/runs", params={"config.lr": value})
    assert found.status_code == 200, found.text
    assert [run["id"] for run in found.json()["items"]] == [opened.json()["run"]["id"]]


def test_a_number_of_more_digits_than_python_converts_is_422_on_the_body(api, anonymous) -> None:
    huge = "9" * 5000
    body = '{"config": {"n": ' + huge + "}}"
    answer = api.post("/api/v1/runs/init", content=body, headers=JSON)
    assert _locations(answer) == [["body"]]
    assert answer.json()["detail"][0]["msg"] == "JSON decode error: a number has too many digits"
    run = create_run(api)
    token = claim(api, run["id"])
    batch = '{"series": [{"key": "k", "steps": [' + huge + '], "values": [1]}]}'
    ingest = anonymous.post(
        f"/api/v1/runs/{run['id']}/metrics", content=batch, headers={**token, **JSON}
    )
    assert _locations(ingest) == [["body"]]


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_a_config_filter_on_an_integer_beyond_64_bits_finds_its_run(
    api, tmp_path: Path, database
) -> None:
    """SQLite refused to bind the filter's integer (a 500); it keeps such a value as a REAL."""

    def check(client: Any) -> None:
        opened = client.post("/api/v1/runs/init", json={"config": {"n": 2**70}})
        client.post("/api/v1/runs/init", json={"config": {"n": 2**70 + 2**20}})
        assert opened.status_code == 201, opened.text
        found = client.get("/api/v1/runs", params={"config.n": str(2**70)})
        assert found.status_code == 200, found.text
        assert opened.json()["run"]["id"] in [run["id"] for run in found.json()["items"]]

    if database == "postgresql":
        check(api)
        return
    settings = Settings(data_dir=tmp_path, worker_token=SecretStr(WORKER_TOKEN))
    upgrade_database(settings.resolved_database_url)
    with client_with_account(settings) as client:
        check(client)
