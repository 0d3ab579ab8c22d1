"""A server started without an index: 503 for questions until the first upload creates one."""

from __future__ import annotations

import httpx

from tests.api.conftest import ServerFactory


def test_first_upload_creates_the_index(start_server: ServerFactory) -> None:
    server = start_server(seed=False)
    with httpx.Client(base_url=server.url, timeout=120) as api:
        health = api.get("/api/health").json()
        assert health["status"] == "no_index" and health["documents"] == 0
        r = api.post("/api/ask", json={"question": "What is in the documents?"})
        assert r.status_code == 503 and "rag index" in r.json()["detail"]
        assert api.get("/api/documents").json()["documents"] == []

        # A document of stop words only gives BM25 no vocabulary: still indexed, still answerable.
        r = api.post(
            "/api/documents", json={"text": "It is what it is.", "title": "the", "doc_id": "stop-words"}
        )
        assert r.status_code == 201, r.text
        assert api.post("/api/ask", json={"question": "What is it?"}).status_code == 200

        r = api.post(
            "/api/documents",
            files={
                "file": (
                    "otters.md",
                    b"# Otters\n\nSea otters hold hands while sleeping so they do not drift apart.",
                )
            },
        )
        assert r.status_code == 201, r.text
        assert r.json()["title"] == "Otters"
        answer = api.post(
            "/api/ask", json={"question": "Why do sea otters hold hands while sleeping?"}
        ).json()
        assert [c["doc_id"] for c in answer["citations"]][:1] == ["otters"]
        assert api.get("/api/health").json()["documents"] == 2
