"""/docs (Swagger UI) loads every script, style and icon from this server, so that it works
without internet access; /redoc (whose bundle fetches a logo from its vendor) sends people
there."""

from __future__ import annotations

import re

from gapwatch.server.docs import DOCS_ASSETS, assets_dir

MEDIA = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


def referenced(html: str) -> list[str]:
    """The URLs a page loads: src and href attributes."""
    return re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)


def test_the_reference_page_loads_everything_from_this_server(anonymous) -> None:
    response = anonymous.get("/docs")  # public: the schema it loads needs sign-in
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    # No other host: no absolute URL, no protocol-relative one, no web font.
    assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html, re.I), html
    urls = referenced(html)
    assert {url.rsplit("/", 1)[-1] for url in urls} == {
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "favicon.png",
    }
    for url in urls:
        assert url.startswith(f"{DOCS_ASSETS}/"), url
        asset = anonymous.get(url)
        assert asset.status_code == 200, url
        suffix = url[url.rindex(".") :]
        assert MEDIA[suffix] in asset.headers["content-type"], (url, asset.headers)
        assert len(asset.content) > (1000 if suffix != ".png" else 100), url
    assert "'/openapi.json'" in html or '"/openapi.json"' in html


def test_swagger_ui_is_version_5_and_sends_nothing_to_the_validator(anonymous) -> None:
    # Swagger UI 5 renders the OpenAPI 3.1 document FastAPI writes (4.x does not).
    bundle = (assets_dir() / "swagger-ui-bundle.js").read_text(encoding="utf-8")
    versions = set(re.findall(r'"(5\.\d+\.\d+)"', bundle))
    assert versions, "no Swagger UI 5 version string in the bundle"
    assert anonymous.get("/openapi.json", headers={}).status_code == 401
    html = anonymous.get("/docs").text
    assert '"validatorUrl": null' in html
    redirect = anonymous.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200 and "oauth2" in redirect.text.lower()
    assert anonymous.get(f"{DOCS_ASSETS}/missing.js").status_code == 404
    redoc = anonymous.get("/redoc", follow_redirects=False)
    assert redoc.status_code == 307 and redoc.headers["location"] == "/docs"


def test_the_openapi_document_lists_the_figures(api) -> None:
    document = api.get("/openapi.json").json()
    for path, operation_id in (
        ("/api/v1/runs/{run_id}/figures/accuracy.{fmt}", "runs-figure-accuracy"),
        ("/api/v1/runs/{run_id}/figures/aligned.{fmt}", "runs-figure-aligned"),
        ("/api/v1/compare/figures/accuracy.{fmt}", "compare-figure-accuracy"),
        ("/api/v1/sweeps/{sweep_id}/figures/aligned.{fmt}", "sweeps-figure-aligned"),
    ):
        operation = document["paths"][path]["get"]
        assert operation["operationId"] == operation_id
        content = operation["responses"]["200"]["content"]
        assert set(content) == {"image/svg+xml", "application/pdf"}, path
        assert {"401", "404", "422"} <= set(operation["responses"]), path
