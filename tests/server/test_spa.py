"""The API serves the built dashboard at / and leaves API paths alone."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from gapwatch.config import Settings
from gapwatch.server.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><div id=root></div>")
    (root / "assets" / "index-abc123.js").write_text("console.log(1)")
    (root / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("outside dist")
    return root


def client(frontend_dir: Path) -> TestClient:
    settings = Settings(database_url="sqlite://", frontend_dir=frontend_dir)
    return TestClient(create_app(settings), base_url="http://localhost")


def test_spa_routes_assets_and_api_paths(dist: Path) -> None:
    c = client(dist)
    for path in ("/", "/runs", "/runs/42", "/compare?runs=1,2", "/runs/new"):
        page = c.get(path)
        assert page.status_code == 200 and "id=root" in page.text, path
        assert page.headers["cache-control"] == "no-cache"
    asset = c.get("/assets/index-abc123.js")
    assert asset.text == "console.log(1)" and "immutable" in asset.headers["cache-control"]
    assert c.get("/favicon.svg").text == "<svg/>"
    assert c.get("/assets/missing.js").status_code == 404
    assert "outside dist" not in c.get("/../secret.txt").text
    assert "outside dist" not in c.get("/%2e%2e/secret.txt").text
    assert "id=root" in c.get("/a%00b").text  # a NUL byte names no file: the SPA (was a 500)
    assert c.get("/api").status_code == 404
    # An API path answers nothing, not even "no such path", without credentials.
    unknown_api = c.get("/api/v1/nothing-here")
    assert unknown_api.status_code == 401 and "Bearer" in unknown_api.json()["detail"]
    assert c.get("/health").json()["status"] == "ok"
    assert c.get("/openapi.json").status_code == 401
    assert c.get("/docs").status_code == 200  # a static page; the schema it loads needs sign-in


def test_without_a_build_the_root_says_how_to_build_it(tmp_path: Path) -> None:
    page = client(tmp_path / "no-dist").get("/runs/3")
    assert page.status_code == 200 and "npm run build" in page.text
