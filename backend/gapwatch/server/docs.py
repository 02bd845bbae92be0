"""The API reference page, /docs (Swagger UI), that works offline.

FastAPI's own page loads its script and styles from a CDN, so a server without internet access
(a lab cluster, a laptop on a train) shows a blank page. Here the same page
(`fastapi.openapi.docs`) loads them from this server, at DOCS_ASSETS, out of the installed
`fastapi-offline` package's files: Swagger UI 5 (which renders the OpenAPI 3.1 document that
FastAPI writes), with every server install and image, whether or not the dashboard was built.

ReDoc is not served: its bundle fetches its logo from cdn.redoc.ly whatever the options, so
/redoc sends browsers to /docs.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
DOCS_ASSETS = "/docs/assets"
SWAGGER_JS = "swagger-ui-bundle.js"
SWAGGER_CSS = "swagger-ui.css"
FAVICON = "favicon.png"
# No validator badge: Swagger UI would send the document's URL to validator.swagger.io.
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}


def assets_dir() -> Path:
    """The folder of the packaged Swagger UI files."""
    return Path(str(files("fastapi_offline") / "static"))


def install_docs(app: FastAPI) -> None:
    """Serves /docs and its OAuth2 redirect page with their assets from this server, and
    redirects /redoc there. `app` must have been made with docs_url=None and redoc_url=None."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=assets_dir()), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    def asset(request: Request, name: str) -> str:
        return f"{request.scope.get('root_path', '')}{DOCS_ASSETS}/{name}"

    @app.get(DOCS_URL, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} API reference",
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_URL}",
            swagger_js_url=asset(request, SWAGGER_JS),
            swagger_css_url=asset(request, SWAGGER_CSS),
            swagger_favicon_url=asset(request, FAVICON),
            swagger_ui_parameters={**(app.swagger_ui_parameters or {}), **SWAGGER_UI_PARAMETERS},
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False)
    def redoc(request: Request) -> RedirectResponse:
        return RedirectResponse(f"{request.scope.get('root_path', '')}{DOCS_URL}")
