"""Runs whose worker went silent are sent back to the queue, by a sweep in the API process."""

from __future__ import annotations

import json
from datetime import timedelta

import redis
from sqlalchemy import update

from gapwatch.config import Settings
from gapwatch.queue import RunQueue
from gapwatch.server.db import pop_after_commit
from gapwatch.server.models import Run
from gapwatch.server.models.base import utcnow
from gapwatch.server.runs.service import requeue_stale_runs
from tests.conftest import wait_until
from tests.server.conftest import SPEC, WORKER_AUTH, claim, client_with_account, create_run


def test_a_silent_run_goes_back_to_the_queue_and_its_old_worker_is_told(
    api, settings: Settings, db_session_factory, redis_client: redis.Redis, unconsumed_queue: str
) -> None:
    silent, alive = create_run(api), create_run(api)
    old_auth = claim(api, silent["id"], worker="w-dead")
    claim(api, alive["id"], worker="w-alive")
    with db_session_factory() as session:
        session.execute(
            update(Run)
            .where(Run.id == silent["id"])
            .values(heartbeat_at=utcnow() - timedelta(seconds=settings.heartbeat_timeout_s + 5))
        )
        session.commit()
    redis_client.delete(unconsumed_queue)

    queue = RunQueue(settings)
    with db_session_factory() as session:
        count = requeue_stale_runs(session, queue, heartbeat_timeout_s=settings.heartbeat_timeout_s)
        session.commit()
        for callback in pop_after_commit(session):
            callback()
    queue.close()

    assert count == 1
    assert api.get(f"/api/v1/runs/{silent['id']}").json()["status"] == "queued"
    assert api.get(f"/api/v1/runs/{alive['id']}").json()["status"] == "running"
    message = json.loads(redis_client.lindex(unconsumed_queue, 0))
    assert message["headers"]["argsrepr"] == f"[{silent['id']}]"
    # The old worker, if it was only slow, is refused and stops; another worker resumes.
    batch = {"series": [{"key": "train/loss", "steps": [9], "values": [0.1]}]}
    late = api.post(f"/api/v1/runs/{silent['id']}/metrics", json=batch, headers=old_auth)
    assert late.status_code == 409
    again = api.post(
        f"/api/v1/runs/{silent['id']}/claim", json={"worker": "w-new"}, headers=WORKER_AUTH
    )
    assert again.status_code == 200 and again.json()["run"]["attempts"] == 2


def test_the_api_process_sweeps_on_its_own(settings: Settings, pg_live_url: str) -> None:
    fast = settings.model_copy(
        update={
            "database_url": pg_live_url,
            "stale_sweep_interval_s": 0.2,
            "heartbeat_timeout_s": 0.5,
        }
    )
    with client_with_account(fast, name="sweeper") as client:
        run = client.post("/api/v1/runs", json=SPEC).json()
        claimed = client.post(
            f"/api/v1/runs/{run['id']}/claim", json={"worker": "w"}, headers=WORKER_AUTH
        )
        assert claimed.status_code == 200
        wait_until(
            lambda: client.get(f"/api/v1/runs/{run['id']}").json()["status"] == "queued",
            10,
            "the sweep to requeue the silent run",
        )
