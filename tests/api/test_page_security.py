"""The chat page's Gradio routes on a real server: unknown endpoints are 404 (not 500), cross-site uploads are
refused, and failed logins are rate-limited per client."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from rag.api.app import create_app
from rag.api.server import BackgroundServer
from rag.embedding import Embedder
from rag.pipeline import Pipeline
from tests.conftest import make_settings

KEY = "page-key"


@pytest.fixture(scope="module")
def start_page(
    tmp_path_factory: pytest.TempPathFactory, seed_index_dir: Path, embedder: Embedder
) -> Iterator[Callable[..., BackgroundServer]]:
    """Factory: the whole app, chat page mounted, over a private copy of the seed index."""
    servers: list[BackgroundServer] = []

    def start(**overrides: object) -> BackgroundServer:
        root = tmp_path_factory.mktemp("page-index")
        shutil.copytree(seed_index_dir / "seed", root / "seed")
        settings = make_settings(root, **overrides)
        server = BackgroundServer(create_app(Pipeline(settings, embedder=embedder), settings)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def page(start_page: Callable[..., BackgroundServer]) -> BackgroundServer:
    return start_page()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/gradio_api/run/nonexistent", {"data": []}),
        ("POST", "/gradio_api/api/nonexistent", {"data": []}),
        ("POST", "/gradio_api/call/nonexistent", {"data": []}),
        ("POST", "/gradio_api/call/v2/nonexistent", {"data": []}),
        ("POST", "/gradio_api/run/nonexistent", {"data": [], "session_hash": "abc"}),
        ("GET", "/gradio_api/call/nonexistent/some-event", None),
        ("POST", "/gradio_api/queue/join", {"data": [], "fn_index": 999, "session_hash": "abc"}),
    ],
)
def test_unknown_gradio_endpoints_are_404(
    page: BackgroundServer, method: str, path: str, body: dict | None
) -> None:
    r = httpx.request(method, page.url + path, json=body, timeout=30)
    assert r.status_code == 404, (r.status_code, r.text[:200])
    assert r.json()["detail"]


def test_the_page_still_loads_and_lists_its_config(page: BackgroundServer) -> None:
    assert httpx.get(page.url + "/", timeout=30).status_code == 200
    assert httpx.get(page.url + "/config", timeout=30).status_code == 200


def test_cross_site_gradio_upload_and_queue_are_refused(page: BackgroundServer) -> None:
    files = {"files": ("note.txt", b"The ferry leaves at seven.", "text/plain")}
    evil = {"Origin": "http://evil.example"}
    assert httpx.post(page.url + "/gradio_api/upload", files=files, headers=evil).status_code == 403
    r = httpx.post(
        page.url + "/gradio_api/queue/join",
        headers=evil,
        json={"data": [], "fn_index": 0, "session_hash": "abc"},
    )
    assert r.status_code == 403
    own = httpx.post(page.url + "/gradio_api/upload", files=files, headers={"Origin": page.url})
    assert own.status_code == 200, own.text


def test_failed_logins_are_rate_limited_per_client(start_page: Callable[..., BackgroundServer]) -> None:
    server = start_page(api_key=KEY, login_max_failures=3, login_window_seconds=60)
    with httpx.Client(base_url=server.url, timeout=30) as c:
        for _ in range(3):
            r = c.post("/login", data={"username": "x", "password": "wrong"})
            assert r.status_code == 400, r.text
        blocked = c.post("/login", data={"username": "x", "password": "wrong"})
        assert blocked.status_code == 429, blocked.text
        assert int(blocked.headers["retry-after"]) >= 1 and "try again" in blocked.json()["detail"]
        assert c.post("/login", data={"username": "x", "password": KEY}).status_code == 429  # even the key
    with httpx.Client(
        base_url=server.url, timeout=30, transport=httpx.HTTPTransport(local_address="127.0.0.2")
    ) as other:
        r = other.post("/login", data={"username": "x", "password": KEY})
        assert r.status_code == 200, r.text  # another client is not blocked
