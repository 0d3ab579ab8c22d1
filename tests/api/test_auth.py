"""RAG_API_KEY: /api and /v1 need 'Authorization: Bearer <key>'; health stays open."""

from __future__ import annotations

import httpx
import openai
import pytest

from rag.api.server import BackgroundServer
from tests.api.conftest import ServerFactory

KEY = "s3cret-key"


@pytest.fixture(scope="module")
def locked(start_server: ServerFactory) -> BackgroundServer:
    return start_server(api_key=KEY)


@pytest.mark.parametrize(
    "method,path",
    [
        ("POST", "/api/ask"),
        ("POST", "/api/search"),
        ("GET", "/api/documents"),
        ("DELETE", "/api/documents/x"),
        ("GET", "/v1/models"),
        ("POST", "/v1/chat/completions"),
    ],
)
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"}]
)
def test_without_the_key_is_401(locked: BackgroundServer, method: str, path: str, headers: dict) -> None:
    r = httpx.request(method, locked.url + path, headers=headers, json={"question": "Where?"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert "API key" in r.json()["detail"]


def test_with_the_key_works_and_health_is_open(locked: BackgroundServer) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    r = httpx.post(
        locked.url + "/api/ask",
        json={"question": "How large is the warehouse at Liège airport?"},
        headers=auth,
        timeout=60,
    )
    assert r.status_code == 200 and r.json()["citations"]
    assert httpx.get(locked.url + "/api/health").status_code == 200


def test_openai_client_uses_the_key(locked: BackgroundServer) -> None:
    good = openai.OpenAI(base_url=f"{locked.url}/v1", api_key=KEY, max_retries=0)
    assert next(m.id for m in good.models.list()) == "rag"
    bad = openai.OpenAI(base_url=f"{locked.url}/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_open_server_needs_no_key(client: httpx.Client) -> None:
    assert client.get("/api/documents").status_code == 200
