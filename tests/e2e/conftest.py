"""Fixtures of the browser end-to-end tests: the built dashboard served by a real API process
on its own PostgreSQL database, a real Celery worker on its own Redis queue, and Debian's
Chromium driven by Python playwright.

The database and queue are this module's own, not the integration tests' (`live_api`): the runs
list then shows only the runs these tests submitted, and no other worker of the session can
claim one of them against the wrong API.

Every page but /sign-in needs a signed-in user: `page` is signed in as `e2e_owner` (the owner of
the `default` project, with a password and an API key for the tests' own API calls); tests that
act as someone else seed that account and open their own page with `open_page(..., account)`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from bench.common import CHROMIUM_ARGS, Account, chromium_executable, seed_account
from gapwatch.client import GapwatchClient
from tests.conftest import (
    ARTIFACTS,
    REPO_ROOT,
    SESSION_TAG,
    LiveProcess,
    api_process,
    start_worker,
    temporary_database,
)

DIST = REPO_ROOT / "frontend" / "dist"
SCREENSHOTS = ARTIFACTS / "e2e"
VIEWPORT = {"width": 1280, "height": 900}


@pytest.fixture(scope="session")
def dashboard_dist() -> Path:
    """The built SPA: frontend/dist, or GAPWATCH_FRONTEND_DIR where set. A missing build is a
    failure, not a skip: the tests would prove nothing."""
    dist = Path(os.environ.get("GAPWATCH_FRONTEND_DIR") or DIST)
    if not (dist / "index.html").is_file():
        pytest.fail(f"{dist / 'index.html'} is missing: run `make test` (it builds the dashboard)")
    return dist


@pytest.fixture(scope="session")
def e2e_database() -> Iterator[str]:
    with temporary_database(f"gapwatch_e2e_{SESSION_TAG}") as url:
        yield url


def seed_user(
    database_url: str,
    name: str,
    *,
    project: str | None = "default",
    role: str = "owner",
    is_admin: bool = False,
    with_password: bool = True,
) -> Account:
    """Commits the user (see tests/conftest.py `seed_account`) with a password of their own."""
    password = f"{name}-password" if with_password else None
    return seed_account(
        database_url, name, project=project, role=role, is_admin=is_admin, password=password
    )


@pytest.fixture(scope="session")
def e2e_owner(e2e_database: str) -> Account:
    """The owner of the `default` project, whom `page` signs in."""
    return seed_user(e2e_database, "e2e-owner")


def api_client(base_url: str, account: Account) -> httpx.Client:
    """An httpx client of /api/v1 that authenticates with the account's API key."""
    return httpx.Client(
        base_url=base_url + "/api/v1",
        headers={"Authorization": f"Bearer {account.key}"},
        timeout=30,
    )


def sign_in(context: BrowserContext, base_url: str, account: Account) -> None:
    """Signs the browser context in with the account's password, over the API: the session
    cookie lands in the context's cookie jar, as after the sign-in form (which
    tests/e2e/test_accounts.py drives itself)."""
    assert account.password is not None, f"{account.name} has no password"
    response = context.request.post(
        f"{base_url}/api/v1/auth/sign-in",
        data={"name": account.name, "password": account.password},
    )
    assert response.status == 200, response.text()


@pytest.fixture(scope="session")
def e2e_queue(redis_client: redis.Redis) -> Iterator[str]:
    name = f"gapwatch-e2e-{SESSION_TAG}"
    yield name
    redis_client.delete(name)


@pytest.fixture(scope="session")
def dashboard_url(dashboard_dist: Path, e2e_database: str, e2e_queue: str) -> Iterator[str]:
    """`gapwatch serve` (uvicorn) serving the API and the built SPA; yields its base URL."""
    with api_process(
        "e2e-api", e2e_database, e2e_queue, GAPWATCH_FRONTEND_DIR=str(dashboard_dist)
    ) as url:
        yield url


@pytest.fixture(scope="module")
def api(dashboard_url: str, e2e_owner: Account) -> Iterator[httpx.Client]:
    """/api/v1 as `e2e_owner`, over httpx."""
    with api_client(dashboard_url, e2e_owner) as client:
        yield client


@pytest.fixture(scope="module")
def runs(dashboard_url: str, e2e_owner: Account) -> Iterator[GapwatchClient]:
    """The Python client of the dashboard's API as `e2e_owner`."""
    with GapwatchClient(dashboard_url, api_key=e2e_owner.key) as client:
        yield client


@pytest.fixture(scope="session")
def e2e_worker(
    dashboard_url: str, e2e_queue: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveProcess]:
    worker = start_worker(
        "e2e-worker", dashboard_url, e2e_queue, tmp_path_factory.mktemp("e2e-worker-data")
    )
    yield worker
    worker.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = chromium_executable()
    if not executable.exists():
        pytest.skip(f"no Chromium at {executable} (apt-get install chromium, or GAPWATCH_CHROMIUM)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=list(CHROMIUM_ARGS)
        )
        yield browser
        browser.close()


class PageErrors:
    """Uncaught exceptions and console errors of a page. A failed HTTP request also logs a
    console error ("Failed to load resource"); those are expected (a 404 page, a 422 form) and
    left out: the tests assert on the requests themselves."""

    def __init__(self, page: Page) -> None:
        self.messages: list[str] = []
        page.on("pageerror", lambda error: self.messages.append(f"uncaught: {error}"))
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.messages.append(f"console.error: {message.text}")


def open_page(
    browser: Browser, base_url: str | None = None, account: Account | None = None
) -> tuple[BrowserContext, Page, PageErrors]:
    """A page in a fresh context: empty cache and storage, light colour scheme (the theme
    starts from the system preference, so it is fixed here), signed in as `account` on the
    server at `base_url` if one is given, else signed out."""
    context = browser.new_context(viewport=VIEWPORT, color_scheme="light")
    context.set_default_timeout(15_000)
    if account is not None:
        assert base_url is not None
        sign_in(context, base_url, account)
    page = context.new_page()
    return context, page, PageErrors(page)


@pytest.fixture
def page(browser: Browser, dashboard_url: str, e2e_owner: Account) -> Iterator[Page]:
    """A fresh page signed in as `e2e_owner`; the test fails if the dashboard threw or logged
    an error meanwhile."""
    context, page, errors = open_page(browser, dashboard_url, e2e_owner)
    yield page
    context.close()
    if errors.messages:
        pytest.fail("the dashboard reported errors:\n" + "\n".join(errors.messages))


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """test-artifacts/e2e/, where the tests save what they saw."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
