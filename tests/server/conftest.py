"""The app in-process, on the rolled-back PostgreSQL session and the real Redis broker."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from gapwatch.config import Settings
from gapwatch.server.app import create_app
from tests.conftest import WORKER_TOKEN

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SPEC: dict[str, Any] = {
    "benchmark": {"name": "split_digits"},
    "model": {"name": "mlp", "hidden_sizes": [32]},
    "strategy": {"name": "finetune"},
    "training": {"iterations_per_task": 5},
}
WORKER_AUTH = {"Authorization": f"Bearer {WORKER_TOKEN}"}


@pytest.fixture
def api(settings: Settings, db_session_factory: sessionmaker[Session]) -> Iterator[TestClient]:
    with TestClient(create_app(settings, session_factory=db_session_factory)) as client:
        yield client


def create_run(api: TestClient, **overrides: Any) -> dict[str, Any]:
    response = api.post("/api/v1/runs", json={**SPEC, **overrides})
    assert response.status_code == 201, response.text
    return response.json()


def claim(api: TestClient, run_id: int, worker: str = "w1") -> dict[str, str]:
    """Claim the run; returns the Authorization header of its run token."""
    response = api.post(
        f"/api/v1/runs/{run_id}/claim", json={"worker": worker}, headers=WORKER_AUTH
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}
