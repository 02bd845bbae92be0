"""No run is lost to an outage or a crash loop: runs the broker never got are sent by the sweep
(and only those), a run whose workers keep dying is failed at its attempt cap, a failed or
cancelled run is retried, and a repeated finish is answered as the first one was."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import redis
from sqlalchemy import select, update

from gapwatch.config import Settings
from gapwatch.queue import BrokerUnavailable, RunQueue
from gapwatch.server.app import _sweep_once
from gapwatch.server.models import Role, Run
from gapwatch.server.models.base import utcnow
from gapwatch.server.runs.service import exhausted_reason
from tests.conftest import free_port
from tests.server.conftest import (
    SPEC,
    WORKER_AUTH,
    claim,
    client_with_account,
    create_run,
    make_account,
)

EXHAUSTED = "failed after 3 attempts: the worker stopped (out of memory?) each time"


def _go_silent(db_session_factory, run_id: int, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    """The run's worker died: its last heartbeat is older than the timeout."""
    with db_session_factory() as session:
        session.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(heartbeat_at=utcnow() - timedelta(seconds=settings.heartbeat_timeout_s + 5))
        )
        session.commit()


def _age(db_session_factory, run_id: int, seconds: float = 60) -> None:  # type: ignore[no-untyped-def]
    """Make the run `seconds` old."""
    with db_session_factory() as session:
        session.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(created_at=utcnow() - timedelta(seconds=seconds))
        )
        session.commit()


def _messages_for(redis_client: redis.Redis, queue: str, run_id: int) -> int:
    bodies = [json.loads(raw) for raw in redis_client.lrange(queue, 0, -1)]
    return sum(body["headers"]["argsrepr"] == f"[{run_id}]" for body in bodies)


def _enqueued_at(db_session_factory, run_id: int):  # type: ignore[no-untyped-def]
    with db_session_factory() as session:
        return session.scalar(select(Run.enqueued_at).where(Run.id == run_id))


def _sweep(settings: Settings, db_session_factory) -> None:  # type: ignore[no-untyped-def]
    queue = RunQueue(settings)
    try:
        _sweep_once(settings, db_session_factory, queue)
    finally:
        queue.close()


def test_a_run_submitted_while_the_broker_is_down_is_sent_by_the_next_sweep_and_only_it(
    api, settings: Settings, db_session_factory, redis_client: redis.Redis, unconsumed_queue: str
) -> None:
    named = f"{unconsumed_queue}-resend"
    dead = settings.model_copy(update={"broker_url": f"redis://127.0.0.1:{free_port()}/0"})
    try:
        sent = create_run(api, queue=named)
        assert _messages_for(redis_client, named, sent["id"]) == 1
        assert _enqueued_at(db_session_factory, sent["id"]) is not None
        with client_with_account(dead, session_factory=db_session_factory, name="bob") as down:
            response = down.post("/api/v1/runs", json={**SPEC, "queue": named})
            assert response.status_code == 503, response.text
            assert "next sweep" in response.json()["detail"]
            lost = down.get("/api/v1/runs", params={"limit": 1}).json()["items"][0]
        assert lost["status"] == "queued" and lost["id"] != sent["id"]
        assert _messages_for(redis_client, named, lost["id"]) == 0
        assert _enqueued_at(db_session_factory, lost["id"]) is None

        # The sweep on a dead broker sends nothing and keeps the run for the next one.
        _age(db_session_factory, lost["id"])
        with pytest.raises(BrokerUnavailable):
            _sweep(dead, db_session_factory)
        assert _enqueued_at(db_session_factory, lost["id"]) is None
        _age(db_session_factory, lost["id"], seconds=0)

        # Still in its first seconds, it might be on its way: left to its own send.
        _sweep(settings, db_session_factory)
        assert _messages_for(redis_client, named, lost["id"]) == 0
        _age(db_session_factory, lost["id"])
        _sweep(settings, db_session_factory)
        assert _messages_for(redis_client, named, lost["id"]) == 1
        assert _enqueued_at(db_session_factory, lost["id"]) is not None
        # Sent once: the next sweeps leave it (and the run that was sent at submission) alone.
        _sweep(settings, db_session_factory)
        assert _messages_for(redis_client, named, lost["id"]) == 1
        assert _messages_for(redis_client, named, sent["id"]) == 1
        assert api.get(f"/api/v1/runs/{lost['id']}").json()["status"] == "queued"
    finally:
        redis_client.delete(named)


def test_a_requeued_run_whose_message_is_lost_is_sent_again(
    api, settings: Settings, db_session_factory, redis_client: redis.Redis, unconsumed_queue: str
) -> None:
    named = f"{unconsumed_queue}-requeue"
    dead = settings.model_copy(update={"broker_url": f"redis://127.0.0.1:{free_port()}/0"})
    try:
        run = create_run(api, queue=named)
        claim(api, run["id"])
        _go_silent(db_session_factory, run["id"], settings)
        redis_client.delete(named)
        with pytest.raises(BrokerUnavailable):  # requeued while the broker is down
            _sweep(dead, db_session_factory)
        assert api.get(f"/api/v1/runs/{run['id']}").json()["status"] == "queued"
        assert _enqueued_at(db_session_factory, run["id"]) is None
        _age(db_session_factory, run["id"])
        _sweep(settings, db_session_factory)
        assert _messages_for(redis_client, named, run["id"]) == 1
    finally:
        redis_client.delete(named)


def test_a_run_whose_workers_keep_dying_is_failed_at_the_claim_after_max_attempts(
    api, settings: Settings, db_session_factory
) -> None:
    assert settings.max_attempts == 3
    run = create_run(api)
    path = f"/api/v1/runs/{run['id']}"
    for attempt in (1, 2, 3):
        claim(api, run["id"], worker=f"w{attempt}")
        assert api.get(path).json()["attempts"] == attempt
        if attempt < 3:
            _go_silent(db_session_factory, run["id"], settings)
    # A duplicate delivery while the third worker is alive is refused; the run goes on.
    alive = api.post(f"{path}/claim", json={"worker": "w4"}, headers=WORKER_AUTH)
    assert alive.status_code == 409 and "running on worker 'w3'" in alive.json()["detail"]
    assert api.get(path).json()["status"] == "running"

    _go_silent(db_session_factory, run["id"], settings)
    refused = api.post(f"{path}/claim", json={"worker": "w4"}, headers=WORKER_AUTH)
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"] == f"run {run['id']} {EXHAUSTED}"
    failed = api.get(path).json()
    assert failed["status"] == "failed" and failed["error"] == EXHAUSTED
    assert failed["attempts"] == 3 and failed["finished_at"] is not None
    again = api.post(f"{path}/claim", json={"worker": "w5"}, headers=WORKER_AUTH)
    assert again.status_code == 409 and "already failed" in again.json()["detail"]
    assert exhausted_reason(1) == (
        "failed after 1 attempt: the worker stopped (out of memory?) each time"
    )


def test_retry_queues_a_failed_run_again_with_its_attempts_afresh(
    api, settings: Settings, db_session_factory, redis_client: redis.Redis, unconsumed_queue: str
) -> None:
    named = f"{unconsumed_queue}-retry"
    try:
        run = create_run(api, queue=named)
        path = f"/api/v1/runs/{run['id']}"
        for attempt in (1, 2, 3):
            claim(api, run["id"], worker=f"w{attempt}")
            _go_silent(db_session_factory, run["id"], settings)
        assert (
            api.post(f"{path}/claim", json={"worker": "w"}, headers=WORKER_AUTH).status_code == 409
        )
        assert api.get(path).json()["status"] == "failed"
        redis_client.delete(named)

        retried = api.post(f"{path}/retry")
        assert retried.status_code == 200, retried.text
        body = retried.json()
        assert body["status"] == "queued" and body["error"] is None
        assert body["attempts"] == 0 and body["finished_at"] is None
        assert _messages_for(redis_client, named, run["id"]) == 1
        assert _enqueued_at(db_session_factory, run["id"]) is not None
        # The cap applies afresh: three more claims, the fourth fails it again.
        for attempt in (1, 2, 3):
            claim(api, run["id"], worker=f"again-{attempt}")
            assert api.get(path).json()["attempts"] == attempt
            _go_silent(db_session_factory, run["id"], settings)
        final = api.post(f"{path}/claim", json={"worker": "w"}, headers=WORKER_AUTH)
        assert final.status_code == 409 and EXHAUSTED in final.json()["detail"]
    finally:
        redis_client.delete(named)


def test_retry_takes_a_failed_or_cancelled_engine_run_and_nothing_else(
    api, anonymous, db_session_factory
) -> None:
    queued = create_run(api)
    assert api.post(f"/api/v1/runs/{queued['id']}/retry").status_code == 409

    running = create_run(api)
    token = claim(api, running["id"])
    conflict = api.post(f"/api/v1/runs/{running['id']}/retry")
    assert conflict.status_code == 409 and "is running" in conflict.json()["detail"]

    finished = f"/api/v1/runs/{running['id']}/finish"
    assert api.post(finished, json={"status": "succeeded"}, headers=token).status_code == 200
    assert api.post(f"/api/v1/runs/{running['id']}/retry").status_code == 409

    failed = create_run(api)
    token = claim(api, failed["id"])
    body = {"status": "failed", "error": "RuntimeError: CUDA out of memory"}
    assert (
        api.post(f"/api/v1/runs/{failed['id']}/finish", json=body, headers=token).status_code == 200
    )
    viewer = make_account(db_session_factory, "vic", role=Role.viewer)
    denied = anonymous.post(f"/api/v1/runs/{failed['id']}/retry", headers=viewer.auth)
    assert denied.status_code == 403 and "editor" in denied.json()["detail"]
    stranger = make_account(db_session_factory, "sam", project="elsewhere")
    assert (
        anonymous.post(f"/api/v1/runs/{failed['id']}/retry", headers=stranger.auth).status_code
        == 404
    )
    retried = api.post(f"/api/v1/runs/{failed['id']}/retry")
    assert retried.status_code == 200 and retried.json()["error"] is None
    # The old worker's token can no longer finish it: the next claim hands a new one.
    late = api.post(f"/api/v1/runs/{failed['id']}/finish", json=body, headers=token)
    assert late.status_code == 409

    cancelled = create_run(api)
    assert api.post(f"/api/v1/runs/{cancelled['id']}/cancel").status_code == 200
    assert api.post(f"/api/v1/runs/{cancelled['id']}/retry").json()["status"] == "queued"

    loop = api.post("/api/v1/runs/init", json={}).json()
    loop_token = {"Authorization": f"Bearer {loop['token']}"}
    loop_path = f"/api/v1/runs/{loop['run']['id']}"
    assert api.post(f"{loop_path}/finish", json=body, headers=loop_token).status_code == 200
    refused = api.post(f"{loop_path}/retry")
    assert refused.status_code == 409 and "own loop" in refused.json()["detail"]


def test_a_repeated_finish_is_answered_as_the_first(api) -> None:
    run = create_run(api)
    token = claim(api, run["id"])
    path = f"/api/v1/runs/{run['id']}/finish"
    body = {"status": "failed", "error": "ValueError: bad batch"}
    first = api.post(path, json=body, headers=token)
    assert first.status_code == 200 and first.json()["error"] == "ValueError: bad batch"
    repeated = api.post(path, json=body, headers=token)
    assert repeated.status_code == 200
    # The same run, plus what was written after the first answer's commit: its numbers.
    written_after = ("headline", "duration_s")
    assert first.json()["headline"] is None and repeated.json()["headline"] is not None

    def without(answer: dict) -> dict:
        return {k: v for k, v in answer.items() if k not in written_after}

    assert without(repeated.json()) == without(first.json())
    other = api.post(path, json={"status": "succeeded"}, headers=token)
    assert other.status_code == 409
