"""Metric and event ingest (idempotent, token-scoped) and series queries, on PostgreSQL."""

from __future__ import annotations

import httpx
import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gapwatch.client import COLUMNAR_MEDIA_TYPE, encode_columnar
from gapwatch.server.models import MetricChunk, RunEvent
from tests.server.conftest import claim, create_run, python_client

ACC0 = "eval/acc/task_0"


def _batch(key: str, steps: list[int], values: list[float]) -> dict:
    return {"series": [{"key": key, "steps": steps, "values": values}]}


def _point_count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.coalesce(func.sum(MetricChunk.n), 0))) or 0


def test_the_same_batch_twice_stores_each_point_once(api, db_session_factory) -> None:
    run = create_run(api)
    auth = claim(api, run["id"])
    batch = {
        "series": [
            {"key": ACC0, "steps": [0, 1, 2], "values": [0.1, 0.5, 0.9]},
            {"key": "train/loss", "steps": [1, 2], "values": [2.3, 1.7]},
        ]
    }
    path = f"/api/v1/runs/{run['id']}/metrics"
    before = _point_count(db_session_factory)
    assert api.post(path, json=batch, headers=auth).json() == {"received": 5, "stored": 5}
    assert api.post(path, json=batch, headers=auth).json() == {"received": 5, "stored": 0}
    assert _point_count(db_session_factory) == before + 5
    # An overlapping batch stores only its new points; stored values are kept.
    overlap = _batch(ACC0, [2, 3], [0.0, 0.95])
    assert api.post(path, json=overlap, headers=auth).json() == {"received": 2, "stored": 1}
    series = api.get(path, params={"keys": ACC0}).json()["series"]
    assert series == [{"key": ACC0, "steps": [0, 1, 2, 3], "values": [0.1, 0.5, 0.9, 0.95]}]


def test_series_query_by_keys_and_step_range(api) -> None:
    run = create_run(api)
    auth = claim(api, run["id"])
    path = f"/api/v1/runs/{run['id']}/metrics"
    steps = list(range(100))
    values = [s / 100 for s in steps]
    api.post(path, json=_batch(ACC0, steps[::-1], values[::-1]), headers=auth)
    api.post(path, json=_batch("eval/acc/task_1", steps[50:], values[50:]), headers=auth)

    ranged = api.get(path, params={"keys": ACC0, "start": 10, "end": 13}).json()
    assert ranged["series"] == [{"key": ACC0, "steps": [10, 11, 12], "values": [0.1, 0.11, 0.12]}]
    both = api.get(path, params={"keys": f"{ACC0},eval/acc/task_1,eval/acc/task_9"}).json()
    lengths = {s["key"]: len(s["steps"]) for s in both["series"]}
    assert lengths == {ACC0: 100, "eval/acc/task_1": 50, "eval/acc/task_9": 0}
    everything = api.get(path).json()
    assert [s["key"] for s in everything["series"]] == [ACC0, "eval/acc/task_1"]
    keys = api.get(f"{path}/keys").json()
    assert keys == {"run_id": run["id"], "keys": [ACC0, "eval/acc/task_1"]}
    bad = api.get(path, params={"keys": "eval/acc/task_0,drop table;"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "keys"]


def test_ingest_requires_the_token_of_that_run(api, anonymous) -> None:
    run_a, run_b = create_run(api), create_run(api)
    auth_a = claim(api, run_a["id"])
    claim(api, run_b["id"])
    batch = _batch(ACC0, [0], [0.5])
    assert anonymous.post(f"/api/v1/runs/{run_b['id']}/metrics", json=batch).status_code == 401
    # A user's API key is not the run's token either.
    assert api.post(f"/api/v1/runs/{run_b['id']}/metrics", json=batch).status_code == 403
    wrong = api.post(f"/api/v1/runs/{run_b['id']}/metrics", json=batch, headers=auth_a)
    assert wrong.status_code == 403
    assert api.get(f"/api/v1/runs/{run_b['id']}/metrics/keys").json()["keys"] == []


def test_bad_batches_are_422_naming_the_problem_and_store_nothing(api, db_session_factory) -> None:
    run = create_run(api)
    auth = claim(api, run["id"])
    path = f"/api/v1/runs/{run['id']}/metrics"
    before = _point_count(db_session_factory)
    cases = [
        (_batch(ACC0, [0, 1], [0.5]), "differ in length"),
        (_batch(ACC0, [3, 3], [0.5, 0.6]), "repeat"),
        (_batch(ACC0, [-1], [0.5]), "greater than or equal"),
        (_batch("bad key!", [0], [0.5]), "pattern"),
        ({"series": []}, "at least 1"),
        (
            {
                "series": [
                    {"key": ACC0, "steps": [0], "values": [0.5]},
                    {"key": ACC0, "steps": [1], "values": [0.5]},
                ]
            },
            "appears twice",
        ),
    ]
    for body, needle in cases:
        response = api.post(path, json=body, headers=auth)
        assert response.status_code == 422 and needle in response.text, (body, response.text)
    nan = api.post(
        path,
        content=b'{"series": [{"key": "train/loss", "steps": [1, 2], "values": [0.5, NaN]}]}',
        headers={**auth, "content-type": "application/json"},
    )
    assert nan.status_code == 422 and nan.json()["detail"][0]["loc"][-1] == 1
    assert _point_count(db_session_factory) == before


def test_events_are_idempotent_ordered_and_filterable(api, db_session_factory) -> None:
    run = create_run(api)
    auth = claim(api, run["id"])
    path = f"/api/v1/runs/{run['id']}/events"
    events = {
        "events": [
            {"step": 10, "kind": "task_start", "payload": {"task": 1}},
            {"step": 0, "kind": "task_start", "payload": {"task": 0}},
            {"step": 10, "kind": "task_end", "payload": {"task": 0}},
        ]
    }
    assert api.post(path, json=events, headers=auth).json() == {"received": 3, "stored": 3}
    assert api.post(path, json=events, headers=auth).json() == {"received": 3, "stored": 0}
    starts = api.get(path, params={"kind": "task_start"}).json()["events"]
    assert [(e["step"], e["payload"]["task"]) for e in starts] == [(0, 0), (10, 1)]
    assert len(api.get(path).json()["events"]) == 3
    # A live page asks only for the events from the last step it holds on.
    since = api.get(path, params={"start": 10}).json()["events"]
    assert [(e["step"], e["kind"]) for e in since] == [(10, "task_start"), (10, "task_end")]
    with db_session_factory() as session:
        count = session.scalar(
            select(func.count()).select_from(RunEvent).where(RunEvent.run_id == run["id"])
        )
    assert count == 3
    bad = api.post(path, json={"events": [{"step": 0, "kind": "Task Start"}]}, headers=auth)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "kind"


class RecordingTransport(httpx.BaseTransport):
    """The app's own in-process transport, noting each request's content type."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.content_types: list[str | None] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.content_types.append(request.headers.get("content-type"))
        return self.inner.handle_request(request)


def test_the_client_sends_binary_batches_that_store_like_json(api, db_session_factory) -> None:
    run = create_run(api)
    token = claim(api, run["id"])["Authorization"].removeprefix("Bearer ")
    transport = RecordingTransport(api._transport)
    client = python_client(api, transport)
    series = [
        {"key": ACC0, "steps": np.arange(3), "values": np.array([0.1, 0.5, 0.9])},
        {"key": "train/loss", "steps": [2, 1], "values": [1.7, 2.3]},
    ]
    before = _point_count(db_session_factory)
    assert client.post_metrics(run["id"], token, series) == 5
    assert client.post_metrics(run["id"], token, series) == 0
    # A batch the binary layout cannot hold (a step written 2.0) goes as JSON, and the server
    # reads it as the JSON contract says.
    assert client.post_metrics(run["id"], token, [{"key": ACC0, "steps": [3.0], "values": [1]}])
    assert transport.content_types == [COLUMNAR_MEDIA_TYPE] * 2 + ["application/json"]
    assert _point_count(db_session_factory) == before + 6
    stored = client.get_metrics(run["id"])
    assert stored == {
        ACC0: ([0, 1, 2, 3], [0.1, 0.5, 0.9, 1.0]),
        "train/loss": ([1, 2], [2.3, 1.7]),
    }


def test_binary_batches_keep_the_token_rules_and_their_order(
    api, anonymous, db_session_factory
) -> None:
    run_a, run_b = create_run(api), create_run(api)
    auth_a, auth_b = claim(api, run_a["id"]), claim(api, run_b["id"])
    binary = {"content-type": COLUMNAR_MEDIA_TYPE}
    good = encode_columnar([{"key": ACC0, "steps": [0], "values": [0.5]}])
    bad = encode_columnar([{"key": ACC0, "steps": [0], "values": [float("nan")]}])

    def post(run_id: int, body: bytes, auth: dict) -> httpx.Response:
        client = api if auth else anonymous
        path = f"/api/v1/runs/{run_id}/metrics"
        return client.post(path, content=body, headers={**binary, **auth})

    before = _point_count(db_session_factory)
    assert post(run_b["id"], good, {}).status_code == 401
    assert post(run_b["id"], good, auth_a).status_code == 403
    # A wrong token hears the same for a run that does not exist: it learns nothing.
    assert post(987654, good, auth_a).status_code == 403
    # Who may write is said before anything about the body, to a stranger nothing else.
    assert post(run_b["id"], bad, auth_a).status_code == 403
    assert post(987654, bad, auth_a).status_code == 403
    refused = post(run_b["id"], bad, auth_b)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "series", 0, "values", 0]
    assert _point_count(db_session_factory) == before
    assert post(run_b["id"], good, auth_b).json() == {"received": 1, "stored": 1}
    finished = api.post(
        f"/api/v1/runs/{run_b['id']}/finish", json={"status": "succeeded"}, headers=auth_b
    )
    assert finished.status_code == 200
    late = post(
        run_b["id"], encode_columnar([{"key": ACC0, "steps": [1], "values": [0.5]}]), auth_b
    )
    assert late.status_code == 409 and "succeeded" in late.json()["detail"]
    # A finished run's bad body is still its writer's 422: the body is checked before the state.
    assert post(run_b["id"], bad, auth_b).status_code == 422
    assert _point_count(db_session_factory) == before + 1
