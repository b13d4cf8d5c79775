"""Swagger UI served from the service's own assets (SPEC §1, §13).

FastAPI's default pages load their JavaScript, CSS and favicon from public CDNs, so on a server
without internet access — where client data lives — `/docs` is a blank page. The assets come from
the `fastapi-offline` package (pinned in pyproject.toml: Swagger UI 5 and the favicon) and are
served under `/docs/assets`; the page is FastAPI's own, pointed at them, as in FastAPI's
"Custom Docs UI Static Assets (Self-Hosting)" guide.

No ReDoc: even from local assets it loads its footer logo from its vendor's CDN (the browser test
caught it), and Swagger UI is the page SCR engineers use."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs/assets"
DOCS_URL = "/docs"


def install_docs(app: FastAPI) -> None:
    """Add /docs, its OAuth2 redirect helper and their assets to an app created with
    `docs_url=None, redoc_url=None`."""
    assets = files("fastapi_offline") / "static"
    app.mount(ASSETS_URL, StaticFiles(directory=str(assets)), name="docs-assets")
    # Swagger UI would show a badge fetched from validator.swagger.io for any non-local host.
    parameters = {**(app.swagger_ui_parameters or {}), "validatorUrl": None}
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url or f"{DOCS_URL}/oauth2-redirect"
    favicon_url = f"{ASSETS_URL}/favicon.png"

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=oauth2_redirect_url,
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=favicon_url,
            swagger_ui_parameters=parameters,
        )

    @app.get(oauth2_redirect_url, include_in_schema=False)
    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
