"""GET /api/health reports the model, the index and its size."""

from __future__ import annotations

import httpx


def test_health_reports_model_and_index(client: httpx.Client) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["model_loaded"] is True and body["model"] == "all-MiniLM-L6-v2"
    assert body["index"] == "seed" and body["index_loaded"] is True
    assert body["documents"] == 5
    assert body["chunks"] >= body["documents"]
