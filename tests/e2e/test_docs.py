"""The API reference in Chromium with every other origin unreachable: /docs (Swagger UI)
renders the whole document from this server alone, as on a machine without internet, and
/redoc leads there."""

from __future__ import annotations

from playwright.sync_api import Browser, Route

from tests.e2e.conftest import Account, open_page


def test_the_api_reference_renders_offline(
    browser: Browser, dashboard_url: str, e2e_owner: Account
) -> None:
    context, page, errors = open_page(browser, dashboard_url, e2e_owner)
    elsewhere: list[str] = []

    def only_this_server(route: Route) -> None:
        url = route.request.url
        if url.startswith(f"{dashboard_url}/") or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            elsewhere.append(url)
            route.abort()

    context.route("**/*", only_this_server)
    try:
        page.goto(f"{dashboard_url}/docs")
        # Swagger UI ran (its bundle and styles loaded) and read the OpenAPI document.
        page.locator(".opblock-tag", has_text="figures").first.wait_for()
        page.locator(".opblock-summary-path", has_text="/figures/accuracy.{fmt}").first.wait_for()
        assert page.locator(".opblock").count() > 50
        page.goto(f"{dashboard_url}/redoc")
        page.wait_for_url(f"{dashboard_url}/docs")
        page.locator(".opblock-tag", has_text="figures").first.wait_for()
    finally:
        context.close()
    assert elsewhere == []
    assert errors.messages == []
