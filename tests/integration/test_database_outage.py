"""The database goes away under a running API and comes back: every request in between is a
503 with Retry-After (never a 500), whichever floor meets the outage first (the authentication
middleware's key lookup, a route, a run token's check), an open live stream survives it, and the
same API process answers 200 again once the database is back. Real PostgreSQL, made unavailable
the way a restart does it: new connections refused, open ones terminated."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from gapwatch.server.errors import DATABASE_UNAVAILABLE
from tests.conftest import (
    SESSION_TAG,
    WORKER_TOKEN,
    _admin_execute,
    api_process,
    seed_account,
    temporary_database,
    wait_until,
)

pytestmark = pytest.mark.integration

SPEC: dict[str, Any] = {
    "benchmark": {"name": "split_digits"},
    "model": {"name": "mlp", "hidden_sizes": [32]},
    "strategy": {"name": "finetune"},
    "training": {"iterations_per_task": 5},
}


def _allow_connections(database: str, allowed: bool) -> None:
    _admin_execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}')
    if not allowed:
        _admin_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{database}' AND pid <> pg_backend_pid()"
        )


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, (response.request.url, response.text)
    assert response.json() == {"detail": DATABASE_UNAVAILABLE}
    assert int(response.headers["Retry-After"]) >= 1


def test_a_database_outage_is_a_503_with_retry_after_and_the_api_recovers_alone(
    redis_client,
) -> None:
    database = f"gapwatch_outage_{SESSION_TAG}"
    queue = f"gapwatch-test-{SESSION_TAG}-db-outage"  # no worker: the run stays queued
    frames: list[str] = []
    try:
        with temporary_database(database) as url, api_process("outage-api", url, queue) as api:
            owner = seed_account(url, "outage-owner")
            client = httpx.Client(base_url=api, headers=owner.auth, timeout=30)
            run = client.post("/api/v1/runs", json=SPEC)
            assert run.status_code == 201, run.text
            run_id = run.json()["id"]

            def follow() -> None:
                with httpx.stream(
                    "GET", f"{api}/api/v1/runs/{run_id}/live", headers=owner.auth, timeout=60
                ) as stream:
                    frames.extend(stream.iter_lines())

            reader = threading.Thread(target=follow, daemon=True)
            reader.start()
            wait_until(lambda: any(f.startswith("data:") for f in frames), 10, "first frame")

            _allow_connections(database, False)
            try:
                time.sleep(1.2)  # past the middleware's one-second memory of the key
                # The middleware meets it first: it looks the key up before routing.
                _assert_unavailable(client.get("/api/v1/runs"))
                _assert_unavailable(client.get(f"/api/v1/runs/{run_id}"))
                # A run token is checked there too, before the body is read.
                token = {"Authorization": "Bearer not-the-token"}
                _assert_unavailable(
                    httpx.post(f"{api}/api/v1/runs/{run_id}/heartbeat", headers=token, json={})
                )
                # Routes: the health check, and the worker's claim (whose secret the
                # middleware checks without the database).
                _assert_unavailable(httpx.get(f"{api}/health"))
                worker = {"Authorization": f"Bearer {WORKER_TOKEN}"}
                _assert_unavailable(
                    httpx.post(
                        f"{api}/api/v1/runs/{run_id}/claim", headers=worker, json={"worker": "w"}
                    )
                )
                time.sleep(2.5)  # the open stream polls through the outage
                assert reader.is_alive(), frames
            finally:
                _allow_connections(database, True)

            # The same process, no restart: the pool reconnects at the next request.
            assert client.get("/api/v1/runs").status_code == 200
            assert httpx.get(f"{api}/health").status_code == 200
            cancelled = client.post(f"/api/v1/runs/{run_id}/cancel")
            assert cancelled.status_code == 200, cancelled.text
            # The stream opened before the outage delivers the change and ends.
            reader.join(timeout=15)
            assert not reader.is_alive(), frames
            data = [f for f in frames if f.startswith("data:")]
            assert '"status":"queued"' in data[0] and '"status":"cancelled"' in data[-1], frames
    finally:
        redis_client.delete(queue)
