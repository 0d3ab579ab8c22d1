"""The page mounted at `/` of the real server: the API beside it keeps working, and an API key guards both."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.ui.browser import UiServer
from ui.page import TITLE


def test_api_routes_resolve_with_the_page_mounted(ui_server: UiServer) -> None:
    with httpx.Client(base_url=ui_server.server.url, timeout=60) as client:
        assert client.get("/api/health").status_code == 200
        spec = client.get("/openapi.json").json()
        assert "/api/ask" in spec["paths"] and "/v1/chat/completions" in spec["paths"]
        assert not any(p.startswith("/gradio_api") for p in spec["paths"]), (
            "the page adds nothing to the API spec"
        )
        assert "swagger" in client.get("/docs").text.lower()
        answer = client.post("/api/ask", json={"question": "How large is the warehouse at Liège airport?"})
        assert answer.status_code == 200 and "citations" in answer.json()
        assert client.get("/api/documents/no-such-doc").status_code == 404
        page = client.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        config = client.get("/config").json()
        assert config["title"] == TITLE


def test_api_key_guards_the_page_too(start_ui_server: Callable[..., UiServer]) -> None:
    server = start_ui_server(api_key="page-secret")
    with httpx.Client(base_url=server.server.url, timeout=60) as client:
        assert client.get("/config").status_code == 401
        wrong = client.post("/login", data={"username": "me", "password": "guess"})
        assert wrong.status_code in (400, 401)
        assert client.get("/config").status_code == 401
        right = client.post("/login", data={"username": "me", "password": "page-secret"})
        assert right.status_code == 200 and right.json() == {"success": True}
        assert client.get("/config").status_code == 200
