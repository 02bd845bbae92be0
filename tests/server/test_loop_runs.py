"""Runs of users' own training loops: opened with an API key, written with their own token,
searchable by config, resumed with a fresh token, crashed when their heartbeats stop."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import update

from gapwatch.config import Settings
from gapwatch.server.migrate import upgrade_database
from gapwatch.server.models import Role, Run
from gapwatch.server.models.base import utcnow
from gapwatch.server.runs.service import mark_crashed_loop_runs
from tests.conftest import WORKER_TOKEN
from tests.server.conftest import (
    WORKER_AUTH,
    client_with_account,
    create_run,
    make_account,
)

INIT = "/api/v1/runs/init"


def open_run(api, **body) -> tuple[dict, dict[str, str]]:  # type: ignore[no-untyped-def]
    response = api.post(INIT, json=body)
    assert response.status_code == 201, response.text
    answer = response.json()
    return answer["run"], {"Authorization": f"Bearer {answer['token']}"}


def test_a_loop_run_is_running_at_once_and_takes_points_events_and_its_finish(api) -> None:
    config = {"lr": 0.01, "memory": 2000, "optimizer": {"name": "sgd", "momentum": 0.9}}
    run, auth = open_run(
        api, name="my-er", group="er-sweep", tags=["mnist"], config=config, host="laptop"
    )
    assert run["kind"] == "loop" and run["status"] == "running" and run["spec"] is None
    assert run["config"] == config and run["worker"] == "laptop" and run["project"] == "default"
    path = f"/api/v1/runs/{run['id']}"

    events = [
        {"step": 0, "kind": "task_start", "payload": {"task": 0}},
        {"step": 3, "kind": "task_end", "payload": {"task": 0}},
        {"step": 3, "kind": "task_start", "payload": {"task": 1}},
    ]
    assert api.post(f"{path}/events", json={"events": events}, headers=auth).status_code == 200
    series = [
        {
            "key": "eval/acc/task_0",
            "steps": [0, 1, 2, 3, 4, 5],
            "values": [0.2, 0.9, 0.95, 0.96, 0.3, 0.9],
        },
        {"key": "eval/acc/task_1", "steps": [3, 4, 5], "values": [0.1, 0.8, 0.9]},
    ]
    stored = api.post(f"{path}/metrics", json={"series": series}, headers=auth)
    assert stored.json()["stored"] == 9
    beat = api.post(f"{path}/heartbeat", json={"step": 5}, headers=auth)  # no total known
    assert beat.json() == {"status": "running"}
    finish = api.post(f"{path}/finish", json={"status": "succeeded"}, headers=auth)
    assert finish.status_code == 200 and finish.json()["status"] == "succeeded"

    gaps = api.get(f"{path}/gaps").json()
    assert gaps["boundaries"], gaps  # the analysis reads a loop run like an engine run
    assert api.get(f"{path}/summary").status_code == 200
    # The API key alone cannot write into the run: writes need the run's token.
    assert api.post(f"{path}/finish", json={"status": "failed"}).status_code in (401, 403)


def test_config_search_compares_json_values_and_kind_filters(api) -> None:
    first, _ = open_run(api, config={"lr": 0.01, "opt": {"name": "adam"}, "norm": True})
    second, _ = open_run(api, config={"lr": 0.1, "opt": {"name": "sgd"}, "norm": False})
    engine = create_run(api)

    def ids(**params: str) -> set[int]:
        response = api.get("/api/v1/runs", params=params)
        assert response.status_code == 200, response.text
        return {r["id"] for r in response.json()["items"]}

    assert ids(**{"config.lr": "0.010"}) == {first["id"]}
    assert ids(**{"config.opt.name": "sgd"}) == {second["id"]}
    assert ids(**{"config.norm": "true"}) == {first["id"]}
    assert ids(**{"config.lr": "0.1", "config.opt.name": "adam"}) == set()
    assert ids(kind="loop") >= {first["id"], second["id"]} and engine["id"] not in ids(kind="loop")
    assert engine["id"] in ids(kind="engine")
    bad = api.get("/api/v1/runs", params={"config.": "1"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "config."]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"config": {"x": float("nan")}}, "config"),
        ({"config": {"x": "a\x00b"}}, "config"),
        ({"config": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}}, "config"),
        ({"config": {"big": "x" * 40_000}}, "config"),
        ({"tags": ["ok", ""]}, "tags"),
        ({"name": "n\x00"}, "name"),
        ({"project": "Not A Slug"}, "project"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_init_bodies_are_422_naming_the_field(api, body: dict, field: str) -> None:
    import json

    content = json.dumps(body, allow_nan=True)
    response = api.post(INIT, content=content, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"][0]["loc"]


def test_roles_decide_who_opens_and_resumes(api, anonymous, db_session_factory) -> None:
    viewer = make_account(db_session_factory, "victor", role=Role.viewer)
    denied = anonymous.post(INIT, json={}, headers=viewer.auth)
    assert denied.status_code == 403
    assert anonymous.post(INIT, json={}).status_code == 401
    assert api.post(INIT, json={"project": "nope"}).status_code == 404
    run, _ = open_run(api)
    resumed = anonymous.post(f"/api/v1/runs/{run['id']}/resume", json={}, headers=viewer.auth)
    assert resumed.status_code == 403


def test_resume_hands_a_fresh_token_and_the_old_one_stops(api) -> None:
    run, old = open_run(api, host="node-1")
    path = f"/api/v1/runs/{run['id']}"
    api.post(f"{path}/finish", json={"status": "failed", "error": "OOM"}, headers=old)
    answer = api.post(f"{path}/resume", json={"host": "node-2"})
    assert answer.status_code == 200, answer.text
    resumed = answer.json()["run"]
    assert resumed["status"] == "running" and resumed["error"] is None
    assert resumed["worker"] == "node-2" and resumed["attempts"] == 2
    new = {"Authorization": f"Bearer {answer.json()['token']}"}
    batch = {"series": [{"key": "train/loss", "steps": [1], "values": [0.5]}]}
    assert api.post(f"{path}/metrics", json=batch, headers=old).status_code == 403
    assert api.post(f"{path}/metrics", json=batch, headers=new).status_code == 200


def test_engine_runs_and_loop_runs_keep_to_their_own_protocol(api) -> None:
    engine = create_run(api)
    assert api.post(f"/api/v1/runs/{engine['id']}/resume", json={}).status_code == 409
    loop, auth = open_run(api)
    claim = api.post(f"/api/v1/runs/{loop['id']}/claim", json={"worker": "w"}, headers=WORKER_AUTH)
    assert claim.status_code == 409
    assert api.post(f"/api/v1/runs/{loop['id']}/cancel").json()["status"] == "cancelled"
    beat = api.post(f"/api/v1/runs/{loop['id']}/heartbeat", json={"step": 1}, headers=auth)
    assert beat.json() == {"status": "cancelled"}  # the loop learns it and stops
    assert api.post(f"/api/v1/runs/{loop['id']}/resume", json={}).status_code == 409


def test_a_silent_loop_run_crashes_and_a_beating_one_does_not(
    api, settings: Settings, db_session_factory
) -> None:
    silent, _ = open_run(api)
    alive, _ = open_run(api)
    engine = create_run(api)
    with db_session_factory() as session:
        session.execute(
            update(Run)
            .where(Run.id.in_([silent["id"], engine["id"]]))
            .values(heartbeat_at=utcnow() - timedelta(seconds=settings.heartbeat_timeout_s + 5))
        )
        session.commit()
    with db_session_factory() as session:
        crashed = mark_crashed_loop_runs(session, heartbeat_timeout_s=settings.heartbeat_timeout_s)
        session.commit()
    assert crashed == [silent["id"]]
    after = api.get(f"/api/v1/runs/{silent['id']}").json()
    assert after["status"] == "crashed" and "heartbeat" in after["error"]
    assert api.get(f"/api/v1/runs/{alive['id']}").json()["status"] == "running"
    assert api.get(f"/api/v1/runs/{engine['id']}").json()["status"] == "queued"
    # A crashed run comes back when its loop resumes it.
    assert api.post(f"/api/v1/runs/{silent['id']}/resume", json={}).status_code == 200


def test_config_search_on_sqlite(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, worker_token=SecretStr(WORKER_TOKEN))
    upgrade_database(settings.resolved_database_url)
    with client_with_account(settings) as api:
        first, _ = open_run(api, config={"lr": 0.01, "opt": {"name": "adam"}, "norm": True})
        second, _ = open_run(
            api, config={"lr": 1, "opt": {"name": "sgd"}, "norm": False, "x": None}
        )

        def ids(**params: str) -> set[int]:
            return {r["id"] for r in api.get("/api/v1/runs", params=params).json()["items"]}

        assert ids(**{"config.lr": "0.01"}) == {first["id"]}
        assert ids(**{"config.lr": "1.0"}) == {second["id"]}
        assert ids(**{"config.opt.name": "adam"}) == {first["id"]}
        assert ids(**{"config.norm": "false"}) == {second["id"]}
        assert ids(**{"config.x": "null"}) == {second["id"]}


def test_a_client_key_opens_one_run_per_project_however_often_it_is_sent(
    api, db_session_factory
) -> None:
    body = {"name": "retried", "client_key": "sdk:0123456789abcdef"}
    first = api.post(INIT, json=body)
    again = api.post(INIT, json={**body, "host": "node-2"})
    assert first.status_code == 201 and again.status_code == 200, again.text
    assert again.json()["run"]["id"] == first.json()["run"]["id"]
    assert again.json()["run"]["attempts"] == 2 and again.json()["run"]["worker"] == "node-2"
    path = f"/api/v1/runs/{first.json()['run']['id']}/heartbeat"
    old = {"Authorization": f"Bearer {first.json()['token']}"}
    new = {"Authorization": f"Bearer {again.json()['token']}"}
    assert api.post(path, json={"step": 1}, headers=old).status_code == 403
    assert api.post(path, json={"step": 1}, headers=new).status_code == 200

    # Another project's run with the same key is another run; a bad key is a 422.
    api.post("/api/v1/projects", json={"name": "other"})
    elsewhere = api.post(INIT, json={**body, "project": "other"})
    assert elsewhere.status_code == 201
    assert elsewhere.json()["run"]["id"] != first.json()["run"]["id"]
    short = api.post(INIT, json={"client_key": "abc"})
    assert short.status_code == 422 and short.json()["detail"][0]["loc"][-1] == "client_key"
