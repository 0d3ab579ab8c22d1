"""ReDoc at /redoc from fastapi-offline's bundled copy, the one image it fetched from a CDN made local."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse, Response

STATIC = Path(fastapi_offline.__file__).parent / "static"
STATIC_URL = "/static-offline-docs"  # where fastapi_offline.FastAPIOffline mounts STATIC
REDOC_JS_URL = "/docs-assets/redoc.standalone.js"
# ReDoc's side menu always shows the Redocly logo from its CDN; the bundle is served pointing at the favicon.
CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@cache
def redoc_bundle() -> bytes:
    """ReDoc's standalone bundle as fastapi-offline ships it, the CDN logo replaced by the local favicon."""
    text = (STATIC / "redoc.standalone.js").read_text(encoding="utf-8")
    return text.replace(CDN_LOGO, f"{STATIC_URL}/favicon.png").encode("utf-8")


def install_redoc(app: FastAPI, path: str = "/redoc") -> None:
    """Serve ReDoc at `path` (create the app with `redoc_url=None`); nothing it loads leaves the server."""

    @app.get(REDOC_JS_URL, include_in_schema=False)
    def redoc_js() -> Response:
        return Response(
            redoc_bundle(),
            media_type="application/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.get(path, include_in_schema=False)
    def redoc_html(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{REDOC_JS_URL}",
            with_google_fonts=False,
            redoc_favicon_url=f"{root}{STATIC_URL}/favicon.png",
        )
