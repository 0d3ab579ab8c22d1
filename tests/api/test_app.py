"""The app as a whole: OpenAPI docs, the root page, and no tracebacks for unexpected errors."""

from __future__ import annotations

import httpx
import pytest

from rag.api.app import create_app
from rag.api.server import BackgroundServer
from rag.pipeline import Pipeline


def test_openapi_documents_every_endpoint(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path, method in [
        ("/api/ask", "post"),
        ("/api/search", "post"),
        ("/api/documents", "get"),
        ("/api/documents", "post"),
        ("/api/documents/{doc_id}", "delete"),
        ("/v1/chat/completions", "post"),
        ("/v1/models", "get"),
        ("/api/health", "get"),
    ]:
        assert method in paths[path], (path, method)
    upload = paths["/api/documents"]["post"]["requestBody"]["content"]
    assert set(upload) == {"multipart/form-data", "application/json"}
    assert client.get("/docs").status_code == 200


def test_root_leads_to_the_docs_without_ui(client: httpx.Client) -> None:
    r = client.get("/", follow_redirects=True)
    assert r.status_code == 200 and r.url.path == "/docs"


def test_unexpected_error_is_500_without_traceback(
    seed_pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(seed_pipeline, with_ui=False)

    @app.get("/api/explode")
    def explode() -> None:
        raise RuntimeError("secret internal detail")

    with BackgroundServer(app) as server:
        r = httpx.get(server.url + "/api/explode")
        ok = httpx.get(server.url + "/api/health")
    assert r.status_code == 500
    assert r.json() == {"detail": "internal server error; the details are in the server log"}
    assert "secret" not in r.text and "Traceback" not in r.text
    assert any("secret internal detail" in (rec.exc_text or str(rec.exc_info)) for rec in caplog.records)
    assert ok.status_code == 200
