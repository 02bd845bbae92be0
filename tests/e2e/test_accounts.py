"""Accounts in a real browser: signing in and out (password and one-time link), what a viewer
and a stranger to a project see, API keys made and revoked on the settings page, sessions,
passwords, project members and, for admins, users.

The runs these tests look at are submitted over the API to a queue no worker consumes, so they
stay queued (and cancellable) for as long as a test needs; the e2e worker keeps to the
dashboard tests' runs. Screenshots go to test-artifacts/e2e/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import redis
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.conftest import SESSION_TAG, one_time_link_token
from tests.e2e.conftest import Account, PageErrors, api_client, open_page, seed_user

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

USED_LINK = (
    "This sign-in link was already used or has expired. Run `gapwatch login-link` for a new one."
)
PARKED_QUEUE = f"gapwatch-e2e-parked-{SESSION_TAG}"

# From inside the page, as the dashboard's own code would: the CSRF token from /auth/me, then a
# cookie-authenticated POST that carries it.
CANCEL_FROM_PAGE = """
async (runId) => {
  const me = await (await fetch("/api/v1/auth/me")).json();
  const answer = await fetch(`/api/v1/runs/${runId}/cancel`, {
    method: "POST",
    headers: { "X-CSRF-Token": me.csrf_token },
  });
  return { status: answer.status, body: await answer.json() };
}
"""


@pytest.fixture(scope="module")
def parked_queue(redis_client: redis.Redis) -> Iterator[str]:
    yield PARKED_QUEUE
    redis_client.delete(PARKED_QUEUE)


def park_run(owner: Account, base_url: str, project: str, queue: str, name: str) -> int:
    """A run in `project`, submitted with the owner's key to a queue no worker consumes."""
    spec = {
        "project": project,
        "name": name,
        "benchmark": {"name": "split_digits"},
        "model": {"name": "mlp"},
        "strategy": {"name": "finetune"},
        "training": {"iterations_per_task": 10},
        "queue": queue,
    }
    with api_client(base_url, owner) as api:
        created = api.post("/runs", json=spec)
    assert created.status_code == 201, created.text
    assert created.json()["project"] == project
    return int(created.json()["id"])


@dataclass(frozen=True)
class Projects:
    """`viewed`: its owner, a viewer and a queued run; `hidden`: its owner and a queued run."""

    viewed_owner: Account
    viewer: Account
    viewed_run: int
    hidden_owner: Account
    hidden_run: int


@pytest.fixture(scope="module")
def projects(e2e_database: str, dashboard_url: str, parked_queue: str) -> Iterator[Projects]:
    # Owners first: seeding creates a missing project with its first member as the owner.
    viewed_owner = seed_user(e2e_database, "viewed-owner", project="viewed")
    viewer = seed_user(e2e_database, "viewed-viewer", project="viewed", role="viewer")
    hidden_owner = seed_user(e2e_database, "hidden-owner", project="hidden")
    seeded = Projects(
        viewed_owner=viewed_owner,
        viewer=viewer,
        viewed_run=park_run(viewed_owner, dashboard_url, "viewed", parked_queue, "viewed run"),
        hidden_owner=hidden_owner,
        hidden_run=park_run(hidden_owner, dashboard_url, "hidden", parked_queue, "hidden run"),
    )
    yield seeded
    for owner, run_id in ((viewed_owner, seeded.viewed_run), (hidden_owner, seeded.hidden_run)):
        with api_client(dashboard_url, owner) as api:
            api.post(f"/runs/{run_id}/cancel")  # 409 once a test cancelled it: fine


@pytest.fixture
def pages(browser: Browser) -> Iterator[Any]:
    """Opens pages in fresh contexts (`pages(base_url, account)`, signed out without one); the
    test fails if any of them threw or logged an error."""
    opened: list[tuple[BrowserContext, PageErrors]] = []

    def open_one(base_url: str | None = None, account: Account | None = None) -> Page:
        context, page, errors = open_page(browser, base_url, account)
        opened.append((context, errors))
        return page

    yield open_one
    messages = [m for _, errors in opened for m in errors.messages]
    for context, _ in opened:
        context.close()
    if messages:
        pytest.fail("the dashboard reported errors:\n" + "\n".join(messages))


def path_of(page: Page) -> str:
    url = urlparse(page.url)
    return url.path + (f"?{url.query}" if url.query else "")


def fill_sign_in(page: Page, name: str, password: str) -> None:
    page.get_by_test_id("sign-in-name").fill(name)
    page.get_by_test_id("sign-in-password").fill(password)
    page.get_by_test_id("sign-in-submit").click()


# --- signing in and out -------------------------------------------------------------------------


def test_a_password_signs_in_and_sign_out_signs_out(
    pages: Any, dashboard_url: str, e2e_database: str, screenshots: Path
) -> None:
    user = seed_user(e2e_database, "signer", project="default", role="viewer")
    page = pages()

    # Signed out, a page sends the visitor to sign in, to come back to it afterwards.
    page.goto(f"{dashboard_url}/runs?status=failed")
    page.wait_for_url(re.compile(r"/sign-in\?"))
    assert parse_qs(urlparse(page.url).query)["next"] == ["/runs?status=failed"]
    expect(page.get_by_test_id("current-user")).to_have_count(0)
    expect(page.get_by_test_id("sign-in-submit")).to_be_visible()
    page.screenshot(path=str(screenshots / "sign-in.png"), full_page=True)

    fill_sign_in(page, user.name, "not the password")
    expect(page.get_by_test_id("sign-in-error")).to_have_text("Wrong name or password.")
    assert urlparse(page.url).path == "/sign-in"
    page.screenshot(path=str(screenshots / "sign-in-error.png"), full_page=True)

    fill_sign_in(page, user.name, user.password or "")
    page.wait_for_url(f"{dashboard_url}/runs?status=failed")
    expect(page.get_by_test_id("current-user")).to_have_text(user.name)
    expect(page.get_by_test_id("filter-status")).to_have_value("failed")
    expect(page.get_by_test_id("sign-in-error")).to_have_count(0)

    page.get_by_test_id("sign-out").click()
    page.wait_for_url(f"{dashboard_url}/sign-in")
    expect(page.get_by_test_id("sign-in-submit")).to_be_visible()
    expect(page.get_by_test_id("current-user")).to_have_count(0)
    # The cookie is gone, not only the page: the runs are behind sign-in again.
    page.goto(f"{dashboard_url}/runs")
    page.wait_for_url(f"{dashboard_url}/sign-in?next=%2Fruns")
    expect(page.get_by_test_id("sign-in-submit")).to_be_visible()
    assert page.request.get(f"{dashboard_url}/api/v1/auth/me").status == 401


def test_sign_in_goes_on_to_a_path_of_this_site_only(
    pages: Any, dashboard_url: str, e2e_database: str
) -> None:
    user = seed_user(e2e_database, "redirected", project="default", role="viewer")
    page = pages()
    page.goto(f"{dashboard_url}/sign-in?next=https://evil.example/runs")
    fill_sign_in(page, user.name, user.password or "")
    page.wait_for_url(f"{dashboard_url}/runs")
    expect(page.get_by_test_id("current-user")).to_have_text(user.name)


def test_a_one_time_link_signs_in_once(
    pages: Any, dashboard_url: str, e2e_database: str, screenshots: Path
) -> None:
    user = seed_user(e2e_database, "linked", project="default", role="viewer", with_password=False)
    token = one_time_link_token(e2e_database, user.name)

    page = pages()
    # The token is in the fragment, which no request carries (nor any server log).
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{dashboard_url}/sign-in?next=%2Fsettings#token={token}")
    page.wait_for_url(f"{dashboard_url}/settings")
    expect(page.get_by_test_id("current-user")).to_have_text(user.name)
    assert requested and not any(token in url for url in requested), requested
    # The token left the address bar and the history: Back does not return to it.
    assert token not in page.url
    page.go_back()
    assert token not in page.url, page.url
    # Someone invited by link has no password yet: the settings page offers to set one.
    page.goto(f"{dashboard_url}/settings")
    expect(page.get_by_test_id("password-current")).to_have_count(0)
    expect(page.get_by_test_id("password-new")).to_be_visible()

    # The same link again, in another browser: refused, with what to do.
    again = pages()
    again.goto(f"{dashboard_url}/sign-in#token={token}")
    expect(again.get_by_test_id("sign-in-error")).to_have_text(USED_LINK)
    assert token not in again.url
    expect(again.get_by_test_id("current-user")).to_have_count(0)
    again.screenshot(path=str(screenshots / "sign-in-used-link.png"), full_page=True)


def test_signing_out_other_sessions_sends_them_to_sign_in(
    pages: Any, dashboard_url: str, e2e_database: str
) -> None:
    user = seed_user(e2e_database, "two-browsers", project="default", role="viewer")
    elsewhere = pages(dashboard_url, user)
    elsewhere.goto(f"{dashboard_url}/runs")
    expect(elsewhere.get_by_test_id("current-user")).to_have_text(user.name)

    here = pages(dashboard_url, user)
    here.goto(f"{dashboard_url}/settings")
    rows = here.get_by_test_id("session-row")
    expect(rows).to_have_count(2)
    expect(here.locator('[data-testid="session-row"][data-current="true"]')).to_have_count(1)
    here.get_by_test_id("sessions-sign-out-others").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-current", "true")

    # The other browser's next request answers 401: it lands on sign-in, to come back here.
    elsewhere.get_by_role("link", name="Compare").click()
    elsewhere.wait_for_url(re.compile(r"/sign-in\?"))
    assert parse_qs(urlparse(elsewhere.url).query)["next"] == ["/compare"]
    expect(elsewhere.get_by_test_id("sign-in-submit")).to_be_visible()
    # This one stays signed in.
    here.reload()
    expect(here.get_by_test_id("current-user")).to_have_text(user.name)


# --- who sees what ------------------------------------------------------------------------------


def test_a_viewer_sees_the_run_but_may_not_cancel_it(
    pages: Any, dashboard_url: str, projects: Projects
) -> None:
    run_id = projects.viewed_run
    viewer = pages(dashboard_url, projects.viewer)
    viewer.goto(f"{dashboard_url}/runs")
    expect(viewer.get_by_test_id(f"run-row-{run_id}")).to_be_visible()
    expect(viewer.get_by_test_id(f"run-project-{run_id}")).to_have_text("viewed")
    # Filters render with the list, so the options are there once the row is.
    options = viewer.get_by_test_id("filter-project").locator("option")
    assert options.evaluate_all("os => os.map(o => o.value)") == ["", "viewed"]

    viewer.goto(f"{dashboard_url}/runs/{run_id}")
    expect(viewer.get_by_test_id("run-status")).to_have_attribute("data-status", "queued")
    expect(viewer.get_by_test_id("run-project")).to_have_text("viewed")
    expect(viewer.get_by_test_id("export-csv")).to_be_visible()
    expect(viewer.get_by_test_id("cancel-run")).to_have_count(0)

    # The server refuses it too, for the role and not for a missing CSRF token.
    refused = viewer.evaluate(CANCEL_FROM_PAGE, run_id)
    assert refused["status"] == 403, refused
    assert "editor" in refused["body"]["detail"], refused

    # No project to submit to: the New-run form says so and will not submit.
    viewer.goto(f"{dashboard_url}/runs/new")
    expect(viewer.get_by_test_id("no-editable-project")).to_be_visible()
    expect(viewer.get_by_test_id("submit-run")).to_be_disabled()

    # The owner of the same run has the button, and the same request from the page works.
    owner = pages(dashboard_url, projects.viewed_owner)
    owner.goto(f"{dashboard_url}/runs/{run_id}")
    expect(owner.get_by_test_id("cancel-run")).to_be_visible()
    with api_client(dashboard_url, projects.viewed_owner) as api:
        assert api.get(f"/runs/{run_id}").json()["status"] == "queued"
    cancelled = owner.evaluate(CANCEL_FROM_PAGE, run_id)
    assert cancelled["status"] == 200, cancelled
    assert cancelled["body"]["status"] == "cancelled"


def test_another_projects_runs_are_invisible(
    pages: Any, dashboard_url: str, projects: Projects
) -> None:
    hidden = projects.hidden_run
    stranger = pages(dashboard_url, projects.viewer)  # in `viewed`, not in `hidden`
    stranger.goto(f"{dashboard_url}/runs")
    # The list has loaded (the stranger's own project's run is there) without the other's.
    expect(stranger.get_by_test_id(f"run-row-{projects.viewed_run}")).to_be_visible()
    expect(stranger.get_by_test_id(f"run-row-{hidden}")).to_have_count(0)
    expect(stranger.get_by_text("hidden run")).to_have_count(0)

    stranger.goto(f"{dashboard_url}/runs?project=hidden")
    expect(stranger.get_by_test_id("runs-no-match")).to_be_visible()
    expect(stranger.get_by_test_id(f"run-row-{hidden}")).to_have_count(0)

    stranger.goto(f"{dashboard_url}/runs/{hidden}")
    expect(stranger.get_by_test_id("run-not-found")).to_be_visible()
    expect(stranger.get_by_test_id("run-status")).to_have_count(0)

    # Its owner sees it, in its project.
    owner = pages(dashboard_url, projects.hidden_owner)
    owner.goto(f"{dashboard_url}/runs")
    expect(owner.get_by_test_id(f"run-project-{hidden}")).to_have_text("hidden")
    expect(owner.get_by_test_id(f"run-row-{projects.viewed_run}")).to_have_count(0)


# --- settings -----------------------------------------------------------------------------------


def test_an_api_key_made_on_the_settings_page_works_until_revoked(
    pages: Any, dashboard_url: str, e2e_database: str, screenshots: Path
) -> None:
    user = seed_user(e2e_database, "key-maker", project="default", role="editor")
    page = pages(dashboard_url, user)
    page.goto(f"{dashboard_url}/runs")
    page.get_by_test_id("nav-settings").click()
    page.wait_for_url(f"{dashboard_url}/settings")

    page.get_by_test_id("key-name").fill("e2e notebook")
    page.get_by_test_id("key-project").select_option("default")
    page.get_by_test_id("key-role").select_option("viewer")
    page.get_by_test_id("key-expiry").fill("30")
    page.get_by_test_id("key-create").click()
    secret = page.get_by_test_id("key-secret").inner_text().strip()
    assert secret.startswith("gw_"), secret
    expect(page.get_by_test_id("key-secret-box")).to_contain_text("will not be shown again")
    page.screenshot(path=str(screenshots / "settings.png"), full_page=True)

    row = page.locator('[data-testid="key-row"]', has_text="e2e notebook")
    expect(row).to_have_attribute("data-state", "active")
    expect(row.get_by_test_id("key-scope")).to_have_text("default · viewer")
    prefix = row.get_by_test_id("key-prefix").inner_text().rstrip("…")
    assert secret.startswith(prefix) and secret != prefix

    bearer = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=dashboard_url + "/api/v1", headers=bearer, timeout=30) as api:
        me = api.get("/auth/me")
        assert me.status_code == 200, me.text
        assert me.json()["user"]["name"] == user.name
        assert me.json()["key"]["name"] == "e2e notebook"
        assert api.get("/runs").status_code == 200

        # Shown once: after a reload the secret is nowhere on the page.
        page.reload()
        expect(row).to_have_attribute("data-state", "active")
        expect(page.get_by_test_id("key-secret")).to_have_count(0)
        assert secret not in page.content()

        row.get_by_test_id("key-revoke").click()
        row.get_by_test_id("key-revoke-confirm").click()
        expect(row).to_have_attribute("data-state", "revoked")
        expect(row.get_by_test_id("key-state")).to_contain_text("revoked")
        expect(row.get_by_test_id("key-revoke")).to_have_count(0)
        assert api.get("/auth/me").status_code == 401
        assert api.get("/runs").status_code == 401


def test_a_new_password_is_checked_then_works(
    pages: Any, dashboard_url: str, e2e_database: str
) -> None:
    user = seed_user(e2e_database, "changer", project="default", role="viewer")
    page = pages(dashboard_url, user)
    page.goto(f"{dashboard_url}/settings")
    page.get_by_test_id("password-current").fill("wrong current password")
    page.get_by_test_id("password-new").fill("short")
    page.get_by_test_id("password-repeat").fill("short")
    page.get_by_test_id("password-submit").click()
    expect(page.get_by_test_id("password-error")).to_contain_text("at least 8")

    page.get_by_test_id("password-new").fill("a much longer one")
    page.get_by_test_id("password-repeat").fill("a much longer one")
    page.get_by_test_id("password-submit").click()
    expect(page.get_by_test_id("password-error")).to_contain_text("current password is wrong")

    page.get_by_test_id("password-current").fill(user.password or "")
    page.get_by_test_id("password-submit").click()
    expect(page.get_by_test_id("password-saved")).to_be_visible()

    fresh = pages()
    fresh.goto(f"{dashboard_url}/sign-in")
    fill_sign_in(fresh, user.name, "a much longer one")
    fresh.wait_for_url(f"{dashboard_url}/runs")
    expect(fresh.get_by_test_id("current-user")).to_have_text(user.name)


def test_an_owner_creates_a_project_and_manages_its_members(
    pages: Any, dashboard_url: str, e2e_database: str
) -> None:
    owner = seed_user(e2e_database, "founder", project="default", role="editor")
    member = seed_user(e2e_database, "newcomer", project=None)
    page = pages(dashboard_url, owner)
    page.goto(f"{dashboard_url}/settings")

    page.get_by_test_id("project-name").fill("Bad Name")
    page.get_by_test_id("project-create").click()
    expect(page.get_by_test_id("project-error")).to_be_visible()
    page.get_by_test_id("project-name").fill("founded")
    page.get_by_test_id("project-create").click()
    project = page.locator('[data-testid="project-row"][data-project="founded"]')
    expect(project.get_by_test_id("project-role")).to_have_text("owner")

    project.get_by_test_id("project-members-toggle").click()
    members = page.locator('[data-testid="project-members"][data-project="founded"]')
    expect(members.get_by_test_id("member-row")).to_have_count(1)  # the founder
    members.get_by_test_id("member-add-name").fill("nobody-by-this-name")
    members.get_by_test_id("member-add").click()
    expect(members.get_by_test_id("member-error")).to_contain_text("not found")

    members.get_by_test_id("member-add-name").fill(member.name)
    members.get_by_test_id("member-add-role").select_option("viewer")
    members.get_by_test_id("member-add").click()
    added = members.locator(f'[data-testid="member-row"][data-user="{member.name}"]')
    expect(added.get_by_test_id("member-role")).to_have_value("viewer")
    with api_client(dashboard_url, member) as api:
        roles = {p["name"]: p["role"] for p in api.get("/auth/me").json()["projects"]}
        assert roles == {"founded": "viewer"}

        # The select shows the server's answer: it turns `editor` once the change is saved.
        added.get_by_test_id("member-role").select_option("editor")
        expect(added.get_by_test_id("member-role")).to_have_value("editor")
        expect(page.get_by_test_id("member-error")).to_have_count(0)
        roles = {p["name"]: p["role"] for p in api.get("/auth/me").json()["projects"]}
        assert roles == {"founded": "editor"}

        added.get_by_test_id("member-remove").click()
        added.get_by_test_id("member-remove-confirm").click()
        expect(added).to_have_count(0)
        assert api.get("/auth/me").json()["projects"] == []

    # The founder's own roles changed: the runs filter and the New-run form offer the project.
    page.goto(f"{dashboard_url}/runs/new")
    expect(page.get_by_test_id("field-project")).to_have_value("default")
    options = page.get_by_test_id("field-project").locator("option")
    assert options.evaluate_all("os => os.map(o => o.value)") == ["default", "founded"]


def test_an_admin_invites_a_user_who_signs_in_with_the_link(
    pages: Any, dashboard_url: str, e2e_database: str, screenshots: Path
) -> None:
    admin = seed_user(e2e_database, "e2e-admin", project="default", role="owner", is_admin=True)
    page = pages(dashboard_url, admin)
    page.goto(f"{dashboard_url}/settings")
    expect(page.get_by_test_id("settings-users")).to_be_visible()

    page.get_by_test_id("user-name").fill("invitee")
    page.get_by_test_id("user-create").click()
    row = page.locator('[data-testid="user-row"][data-user="invitee"]')
    expect(row.get_by_test_id("user-status")).to_have_text("active")
    row.get_by_test_id("user-login-link").click()
    url = page.get_by_test_id("user-link-url").inner_text().strip()
    assert url.startswith(f"{dashboard_url}/sign-in#token="), url
    page.screenshot(path=str(screenshots / "settings-admin.png"), full_page=True)

    invitee = pages()
    invitee.goto(url)
    invitee.wait_for_url(f"{dashboard_url}/runs")
    expect(invitee.get_by_test_id("current-user")).to_have_text("invitee")

    # Disabled: the invitee's session stops at once, and the next call sends them to sign in.
    row.get_by_test_id("user-toggle-disabled").click()
    expect(row.get_by_test_id("user-status")).to_have_text("disabled")
    # (Opened by URL, not by the nav link: bringing the page to the front refetches its stale
    # queries, whose 401 may reach the sign-in page before a click lands.)
    invitee.goto(f"{dashboard_url}/settings")
    invitee.wait_for_url(re.compile(r"/sign-in\?next=%2Fsettings"))
    expect(invitee.get_by_test_id("sign-in-submit")).to_be_visible()
