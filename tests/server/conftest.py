"""The app in-process, on the rolled-back PostgreSQL session and the real Redis broker."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from bench.common import Account, seed_account
from gapwatch.config import Settings
from gapwatch.server.access import middleware
from gapwatch.server.access.recent import RecentCredentials
from gapwatch.server.app import create_app
from gapwatch.server.models import Role
from gapwatch.spec import DEFAULT_PROJECT
from tests.conftest import WORKER_TOKEN, temporary_database

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


# The host name the in-process client uses: one of those the API answers by default.
BASE_URL = "http://localhost"


def make_account(
    factory: sessionmaker[Session],
    name: str,
    *,
    project: str | None = DEFAULT_PROJECT,
    role: Role = Role.owner,
    is_admin: bool = False,
    password: str | None = None,
    key_project: str | None = None,
    key_role: Role | None = None,
) -> Account:
    """`seed_account` in the test's rolled-back database."""
    return seed_account(
        factory,
        name,
        project=project,
        role=role.value,
        is_admin=is_admin,
        password=password,
        key_project=key_project,
        key_role=key_role.value if key_role else None,
    )


@pytest.fixture
def account(db_session_factory: sessionmaker[Session]) -> Account:
    """The default caller of `api`: owner of the `default` project, not an admin."""
    return make_account(db_session_factory, "alice")


@pytest.fixture
def app(
    settings: Settings,
    db_session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> FastAPI:
    # Credentials are remembered for an hour here, not a second: a test of a withdrawal
    # (revoke, disable, new password) then proves that the withdrawal forgets them, not that
    # a second went by.
    monkeypatch.setattr(middleware, "RecentCredentials", partial(RecentCredentials, ttl_s=3600))
    return create_app(settings, session_factory=db_session_factory)


@pytest.fixture
def api(app: FastAPI, account: Account) -> Iterator[TestClient]:
    """The app (started), called with `account`'s API key."""
    with TestClient(app, base_url=BASE_URL, headers=account.auth) as client:
        yield client


@pytest.fixture
def anonymous(app: FastAPI, api: TestClient) -> TestClient:
    """The same app, called without credentials (or with the ones a test gives)."""
    return TestClient(app, base_url=BASE_URL)


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


def python_client(api: TestClient, transport: Any = None) -> Any:
    """`gapwatch.client.GapwatchClient` over the in-process app, with `api`'s credentials."""
    from gapwatch.client import GapwatchClient

    key = api.headers.get("authorization", "").removeprefix("Bearer ") or None
    return GapwatchClient(BASE_URL, transport=transport or api._transport, api_key=key)


def client_with_account(
    settings: Settings,
    *,
    session_factory: sessionmaker[Session] | None = None,
    name: str = "alice",
) -> TestClient:
    """An app of its own on `settings` (or `session_factory`), called with the API key of a
    new owner of the `default` project in that database. Use it as a context manager."""
    key = seed_account(session_factory or settings.resolved_database_url, name).key
    return TestClient(
        create_app(settings, session_factory=session_factory),
        base_url=BASE_URL,
        headers={"Authorization": f"Bearer {key}"},
    )


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind, for a migration test to migrate step by step."""
    if request.param == "sqlite":
        yield Settings(data_dir=tmp_path).resolved_database_url
        return
    name = f"gapwatch_migration_{tmp_path.name[-12:].lower()}".replace("-", "_")
    with temporary_database(name, migrated=False) as url:
        yield url


def insert_old_run(engine: Engine, name: str, spec: dict[str, Any]) -> None:
    """A succeeded run as revisions 0001-0003 stored it (before projects)."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO runs (name, tags, spec, status, created_at, progress_step, attempts)"
                " VALUES (:name, '[]', :spec, 'succeeded', CURRENT_TIMESTAMP, 0, 1)"
            ),
            {"name": name, "spec": json.dumps(spec)},
        )
