"""Serves the built dashboard (a single-page app) at `/`, beside the API.

Hashed files under `assets/` are cached for a year; `index.html` is never cached, so a new build
is picked up on reload. Every other GET that is not an API path answers `index.html`, because the
SPA's router owns URLs like `/runs/42`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from gapwatch.server.errors import allowed_methods

# Paths the SPA fallback must never answer: an unknown API URL is a JSON 404, not a page.
RESERVED_PREFIXES = ("api", "health", "docs", "redoc", "openapi.json")

NOT_BUILT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gapwatch</title></head>
<body style="font-family: system-ui; max-width: 40em; margin: 4em auto">
<h1>Gapwatch</h1>
<p>The API is running, but the dashboard has not been built. <code>make up</code> builds it;
by hand: <code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>, or set
<code>GAPWATCH_FRONTEND_DIR</code> to a built <code>dist/</code> folder.</p>
<p>The REST API is at <a href="/api/v1/runs">/api/v1</a>;
its reference at <a href="/docs">/docs</a>.</p>
</body></html>
"""


class _ImmutableAssets(StaticFiles):
    """Vite names every asset by its content hash, so a cached copy is never stale."""

    async def get_response(self, path: str, scope) -> Response:  # type: ignore[no-untyped-def]
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def mount_dashboard(app: FastAPI, dist: Path) -> None:
    """Serve `dist` (Vite's output) at `/`, or a page that says how to build it."""
    index = dist / "index.html"
    assets = dist / "assets"
    if assets.is_dir():
        app.mount("/assets", _ImmutableAssets(directory=assets), name="assets")

    @app.get("/{path:path}", include_in_schema=False)
    def dashboard(path: str, request: Request) -> Response:
        if path.startswith(RESERVED_PREFIXES):
            # A GET of a path whose routes take other methods (POST /runs/1/cancel) lands here
            # too: that is a 405 naming them, as for any other method they do not take.
            allowed = allowed_methods(request)
            if "GET" not in allowed:
                return JSONResponse(
                    {"detail": "Method Not Allowed"},
                    status_code=405,
                    headers={"Allow": ", ".join(allowed)},
                )
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        if not index.is_file():
            return HTMLResponse(NOT_BUILT_PAGE, status_code=200)
        # Top-level files of the build (favicon, robots.txt): one path component that names a
        # file, so never a path outside dist (is_file is False for a name with a NUL byte).
        if "/" not in path and path not in ("", ".", "..") and (dist / path).is_file():
            return FileResponse(dist / path)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})
