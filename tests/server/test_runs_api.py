"""Runs API on real PostgreSQL: submission, validation, lifecycle and the claim protocol."""

from __future__ import annotations

import json

import redis

from tests.server.conftest import SPEC, WORKER_AUTH, claim, create_run


def test_create_run_stores_a_queued_run_with_defaults_and_enqueues_it(
    api, redis_client: redis.Redis, unconsumed_queue: str
) -> None:
    before = redis_client.llen(unconsumed_queue)
    run = create_run(api, name="first", tags=["smoke"])
    assert run["status"] == "queued"
    assert run["name"] == "first" and run["tags"] == ["smoke"]
    assert run["spec"]["evaluation"] == {
        "every": 1,
        "subset_size": 1000,
        "include_unseen": False,
        "gap_window": 200,
        "diagnostics": False,
        "dormant_threshold": 0.01,
        "probe_size": 128,
    }
    assert run["spec"]["optimizer"]["name"] == "sgd"
    assert run["progress"] == {"step": 0, "total": None, "fraction": None}
    # The task message reached the real broker, after the commit.
    assert redis_client.llen(unconsumed_queue) == before + 1
    message = json.loads(redis_client.lindex(unconsumed_queue, 0))
    assert message["headers"]["task"] == "gapwatch.execute_run"
    assert api.get(f"/api/v1/runs/{run['id']}").json()["spec"] == run["spec"]


def _error_locations(response) -> list[tuple]:
    assert response.status_code == 422, response.text
    return [tuple(e["loc"]) for e in response.json()["detail"]]


def test_unknown_strategy_is_422_listing_the_valid_ones(api) -> None:
    response = api.post("/api/v1/runs", json={**SPEC, "strategy": {"name": "magic"}})
    assert ("body", "strategy") in _error_locations(response)
    message = response.json()["detail"][0]["msg"]
    assert "'finetune'" in message and "'er'" in message


def test_unknown_benchmark_and_model_are_422(api) -> None:
    response = api.post(
        "/api/v1/runs", json={**SPEC, "benchmark": {"name": "imagenet"}, "model": {"name": "vit"}}
    )
    locations = _error_locations(response)
    assert ("body", "benchmark") in locations and ("body", "model") in locations
    assert "split_digits" in response.text and "mlp" in response.text


def test_out_of_range_numbers_are_422_naming_the_field(api) -> None:
    cases = {
        ("body", "training", "batch_size"): {"training": {"batch_size": 0}},
        ("body", "training", "iterations_per_task"): {"training": {"iterations_per_task": 10**12}},
        ("body", "evaluation", "every"): {"evaluation": {"every": 0}},
        ("body", "optimizer", "lr"): {"optimizer": {"lr": -1}},
        ("body", "seed"): {"seed": -5},
        ("body", "device"): {"device": "tpu"},
        ("body", "strategy", "er", "buffer_size"): {"strategy": {"name": "er", "buffer_size": 0}},
    }
    for location, override in cases.items():
        response = api.post("/api/v1/runs", json={**SPEC, **override})
        assert location in _error_locations(response), (location, response.text)


def test_missing_names_unknown_fields_and_conflicting_lengths_are_422(api) -> None:
    assert ("body", "strategy") in _error_locations(
        api.post("/api/v1/runs", json={k: v for k, v in SPEC.items() if k != "strategy"})
    )
    assert ("body", "optimizer", "learning_rate") in _error_locations(
        api.post("/api/v1/runs", json={**SPEC, "optimizer": {"learning_rate": 0.1}})
    )
    response = api.post(
        "/api/v1/runs",
        json={**SPEC, "training": {"iterations_per_task": 5, "epochs_per_task": 1}},
    )
    assert "not both" in response.text and _error_locations(response)


def test_malformed_json_is_rejected_and_nothing_is_stored(api) -> None:
    total = api.get("/api/v1/runs").json()["total"]
    response = api.post(
        "/api/v1/runs", content=b'{"benchmark": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"
    assert api.get("/api/v1/runs").json()["total"] == total


def test_unknown_run_id_is_404_everywhere(api) -> None:
    for method, path in [
        ("GET", "/api/v1/runs/987654"),
        ("POST", "/api/v1/runs/987654/cancel"),
        ("GET", "/api/v1/runs/987654/metrics"),
        ("GET", "/api/v1/runs/987654/metrics/keys"),
        ("GET", "/api/v1/runs/987654/events"),
    ]:
        response = api.request(method, path)
        assert response.status_code == 404, (path, response.text)
        assert "987654" in response.json()["detail"]
    response = api.post("/api/v1/runs/987654/claim", json={"worker": "w"}, headers=WORKER_AUTH)
    assert response.status_code == 404


def test_list_filters_by_status_and_pages_newest_first(api) -> None:
    first, second, third = (create_run(api, group="g-list") for _ in range(3))
    api.post(f"/api/v1/runs/{second['id']}/cancel")
    page = api.get("/api/v1/runs", params={"group": "g-list"}).json()
    assert [r["id"] for r in page["items"]] == [third["id"], second["id"], first["id"]]
    cancelled = api.get("/api/v1/runs", params={"group": "g-list", "status": "cancelled"}).json()
    assert [r["id"] for r in cancelled["items"]] == [second["id"]]
    paged = api.get("/api/v1/runs", params={"group": "g-list", "limit": 1, "offset": 1}).json()
    assert paged["total"] == 3 and [r["id"] for r in paged["items"]] == [second["id"]]
    assert api.get("/api/v1/runs", params={"limit": 0}).status_code == 422
    assert api.get("/api/v1/runs", params={"status": "sleeping"}).status_code == 422


def test_claim_requires_the_worker_token(api, anonymous) -> None:
    run = create_run(api)
    path = f"/api/v1/runs/{run['id']}/claim"
    assert anonymous.post(path, json={"worker": "w"}).status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert api.post(path, json={"worker": "w"}, headers=wrong).status_code == 403
    # A user's API key is not the worker secret, whatever the user may do in the project.
    assert api.post(path, json={"worker": "w"}).status_code == 403
    # Bearer values are printable ASCII: a Unicode space is refused before any comparison.
    for odd in ("Bearer \u3000", "Bearer \u00a0x", "Bearer a b"):
        header = {"Authorization": odd.encode("utf-8")}
        assert anonymous.post(path, json={"worker": "w"}, headers=header).status_code == 401
    assert api.get(f"/api/v1/runs/{run['id']}").json()["status"] == "queued"


def test_a_live_run_cannot_be_claimed_again_whatever_worker_name_is_given(api) -> None:
    run = create_run(api)
    claim(api, run["id"], worker="w1")
    for name in ("w2", "w1"):  # a worker's name is no credential: not even its own
        response = api.post(
            f"/api/v1/runs/{run['id']}/claim", json={"worker": name}, headers=WORKER_AUTH
        )
        assert response.status_code == 409 and "w1" in response.json()["detail"]
    shown = api.get(f"/api/v1/runs/{run['id']}").json()
    assert shown["status"] == "running" and shown["attempts"] == 1 and shown["worker"] == "w1"


def test_lifecycle_heartbeat_finish_and_no_writes_after_the_end(api) -> None:
    run = create_run(api)
    auth = claim(api, run["id"])
    beat = api.post(
        f"/api/v1/runs/{run['id']}/heartbeat",
        json={"step": 3, "total_steps": 12, "iterations_per_s": 100.0},
        headers=auth,
    )
    assert beat.json() == {"status": "running"}
    shown = api.get(f"/api/v1/runs/{run['id']}").json()
    assert shown["progress"] == {"step": 3, "total": 12, "fraction": 0.25}
    assert shown["started_at"] is not None and shown["heartbeat_at"] is not None

    failed = api.post(
        f"/api/v1/runs/{run['id']}/finish",
        json={"status": "failed", "error": "ValueError: boom"},
        headers=auth,
    ).json()
    assert failed["status"] == "failed" and failed["error"] == "ValueError: boom"
    assert failed["finished_at"] is not None
    again = api.post(f"/api/v1/runs/{run['id']}/finish", json={"status": "succeeded"}, headers=auth)
    assert again.status_code == 409
    batch = {"series": [{"key": "train/loss", "steps": [1], "values": [0.5]}]}
    assert (
        api.post(f"/api/v1/runs/{run['id']}/metrics", json=batch, headers=auth).status_code == 409
    )
    response = api.post(
        f"/api/v1/runs/{run['id']}/claim", json={"worker": "w9"}, headers=WORKER_AUTH
    )
    assert response.status_code == 409 and "failed" in response.json()["detail"]


def test_cancel_tells_the_worker_to_stop(api) -> None:
    run = create_run(api)
    auth = claim(api, run["id"])
    assert api.post(f"/api/v1/runs/{run['id']}/cancel").json()["status"] == "cancelled"
    beat = api.post(
        f"/api/v1/runs/{run['id']}/heartbeat", json={"step": 1, "total_steps": 2}, headers=auth
    )
    assert beat.json() == {"status": "cancelled"}
    assert api.post(f"/api/v1/runs/{run['id']}/cancel").status_code == 409
    finish = api.post(
        f"/api/v1/runs/{run['id']}/finish", json={"status": "succeeded"}, headers=auth
    )
    assert finish.status_code == 409


def test_openapi_lists_every_route_with_a_response_model_and_operation_id(api) -> None:
    schema = api.get("/openapi.json").json()
    assert api.get("/docs").status_code == 200
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("operationId"), (method, path)
            success = [c for c in operation["responses"] if c.startswith("2")]
            assert success, (method, path)
            if success[0] == "204":
                assert not operation["responses"]["204"].get("content"), (method, path)
                continue
            content = operation["responses"][success[0]].get("content", {})
            # JSON, or another media type (CSV, an event stream) that names its schema too.
            assert content and all(c.get("schema") for c in content.values()), (method, path)


def test_a_run_goes_to_the_queue_its_spec_names(
    api, redis_client: redis.Redis, unconsumed_queue: str
) -> None:
    named = f"{unconsumed_queue}-gpu"
    try:
        run = create_run(api, queue=named)
        assert run["spec"]["queue"] == named
        message = json.loads(redis_client.lindex(named, 0))
        assert message["headers"]["argsrepr"] == f"[{run['id']}]"
    finally:
        redis_client.delete(named)
    assert ("body", "queue") in _error_locations(
        api.post("/api/v1/runs", json={**SPEC, "queue": "no spaces allowed"})
    )


def test_an_unreachable_broker_is_a_503_and_the_run_is_kept(settings, db_session_factory) -> None:
    from tests.conftest import free_port
    from tests.server.conftest import client_with_account

    dead = settings.model_copy(update={"broker_url": f"redis://127.0.0.1:{free_port()}/0"})
    with client_with_account(dead, session_factory=db_session_factory) as client:
        response = client.post("/api/v1/runs", json=SPEC)
        assert response.status_code == 503, response.text
        assert "stays queued" in response.json()["detail"]
        newest = client.get("/api/v1/runs", params={"limit": 1}).json()["items"][0]
    assert newest["status"] == "queued" and newest["spec"]["strategy"] == SPEC["strategy"]
