"""Hostile requests against a real server: cross-site writes, foreign Host headers, deep JSON, unsafe or
colliding derived ids, concurrent uploads of one id, and control characters in JSON text."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import httpx
import pytest

from rag.api.schemas import DOC_ID_PATTERN
from rag.api.server import BackgroundServer
from tests.api.conftest import LIEGE_DOC, ServerFactory

EVIL = "http://evil.example"
NOTE = b"The Vardoya harbour ferry leaves at seven every morning.\n"


@pytest.fixture(scope="module")
def hostile_server(start_server: ServerFactory) -> BackgroundServer:
    """A server of its own: these tests try to add documents."""
    return start_server()


@pytest.fixture()
def api(hostile_server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hostile_server.url, timeout=120) as c:
        yield c


def _ids(api: httpx.Client) -> list[str]:
    return [d["doc_id"] for d in api.get("/api/documents").json()["documents"]]


# ---- cross-site writes and DNS rebinding ----------------------------------------------------------------------
@pytest.mark.parametrize("origin", [EVIL, "null", "http://127.0.0.1.evil.example", "http://localhost:1"])
def test_cross_site_upload_is_refused(api: httpx.Client, origin: str) -> None:
    before = _ids(api)
    r = api.post(
        "/api/documents", files={"file": (f"{LIEGE_DOC}.txt", NOTE, "text/plain")}, headers={"Origin": origin}
    )
    assert r.status_code == 403, r.text
    assert "origin" in r.json()["detail"].lower()
    for r in (
        api.delete(f"/api/documents/{LIEGE_DOC}", headers={"Origin": origin}),
        api.post("/api/ask", json={"question": "Where?"}, headers={"Origin": origin}),
        api.post(
            "/v1/chat/completions",
            headers={"Origin": origin},
            json={"model": "rag", "messages": [{"role": "user", "content": "Where?"}]},
        ),
    ):
        assert r.status_code == 403, r.text
    assert _ids(api) == before
    assert api.get("/api/documents", headers={"Origin": origin}).status_code == 200  # reads are not writes


def test_same_origin_and_no_origin_writes_are_accepted(
    api: httpx.Client, hostile_server: BackgroundServer
) -> None:
    r = api.post(
        "/api/documents",
        files={"file": ("ferry-note.txt", NOTE, "text/plain")},
        headers={"Origin": hostile_server.url},
    )
    assert r.status_code == 201, r.text
    assert api.delete("/api/documents/ferry-note", headers={"Origin": hostile_server.url}).status_code == 204
    port = hostile_server.url.rsplit(":", 1)[1]
    r = api.post(
        "/api/ask",
        json={"question": "When does the ferry leave?"},
        headers={"Host": f"localhost:{port}", "Origin": f"http://localhost:{port}"},
    )
    assert r.status_code == 200, r.text
    assert api.post("/api/ask", json={"question": "When does the ferry leave?"}).status_code == 200


def test_allowed_origins_setting_admits_a_listed_site(start_server: ServerFactory) -> None:
    server = start_server(allowed_origins=["https://notes.example.org"])
    with httpx.Client(base_url=server.url, timeout=120) as c:
        ok = c.post("/api/ask", json={"question": "Where?"}, headers={"Origin": "https://notes.example.org"})
        refused = c.post("/api/ask", json={"question": "Where?"}, headers={"Origin": EVIL})
    assert ok.status_code == 200, ok.text
    assert refused.status_code == 403


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "attacker.localhost.evil.example"])
def test_a_foreign_host_header_is_refused(api: httpx.Client, host: str) -> None:
    for r in (
        api.get("/api/documents", headers={"Host": host}),
        api.post("/api/documents", json={"text": "x y z", "title": "rebind"}, headers={"Host": host}),
        api.get("/api/health", headers={"Host": host}),
    ):
        assert r.status_code == 400, r.text
        assert "host" in r.json()["detail"].lower()
    assert "rebind" not in _ids(api)


def test_allowed_hosts_setting_admits_a_listed_name(start_server: ServerFactory) -> None:
    server = start_server(allowed_hosts=["rag.internal"])
    r = httpx.get(server.url + "/api/health", headers={"Host": "rag.internal:8000"})
    assert r.status_code == 200, r.text
    assert httpx.get(server.url + "/api/health", headers={"Host": "evil.example"}).status_code == 400


# ---- deep JSON ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/ask", "/api/search", "/api/documents", "/v1/chat/completions"])
def test_a_thousand_deep_json_body_is_a_4xx(api: httpx.Client, path: str) -> None:
    deep = "[" * 1000 + "]" * 1000
    bodies = [
        deep,
        '{"question": "x", "query": "x", "text": "x", "title": "t", "history": ' + deep + "}",
        '{"model": "rag", "messages": ' + deep + "}",
    ]
    for body in bodies:
        r = api.post(path, content=body, headers={"content-type": "application/json"})
        assert 400 <= r.status_code < 500, (body[:60], r.status_code, r.text[:300])
        assert r.json()["detail"]


# ---- derived ids ----------------------------------------------------------------------------------------------
def test_derived_ids_satisfy_the_pattern_and_titles_do_not_collide(api: httpx.Client) -> None:
    made: dict[str, str] = {}
    for title in ("../../etc/passwd", ".", "..", "Otters!", "Otters?", "Otters"):
        r = api.post(
            "/api/documents",
            json={"text": f"Sea otters note for {title!r}: they hold hands.", "title": title},
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert re.match(DOC_ID_PATTERN, body["doc_id"]), body["doc_id"]
        assert body["replaced"] is False, title
        made[title] = body["doc_id"]
        got = api.get(f"/api/documents/{body['doc_id']}")
        assert got.status_code == 200 and got.json()["title"] == title.strip()
    assert len(set(made.values())) == len(made)
    assert made["Otters"] == "Otters"
    for name in ("..", ".", "../../secrets.txt"):
        r = api.post("/api/documents", files={"file": (name, NOTE, "text/plain")})
        assert r.status_code == 201, r.text
        assert re.match(DOC_ID_PATTERN, r.json()["doc_id"]), r.json()["doc_id"]
        made[name] = r.json()["doc_id"]
    ids = _ids(api)
    assert all(doc_id in ids for doc_id in made.values())
    again = api.post("/api/documents", json={"text": "Otters again.", "title": "Otters!"})
    assert again.json()["doc_id"] == made["Otters!"] and again.json()["replaced"] is True
    explicit = api.post(
        "/api/documents", json={"text": "Replaced on purpose.", "title": "x", "doc_id": "Otters"}
    )
    assert explicit.status_code == 201 and explicit.json()["replaced"] is True
    for doc_id in made.values():
        assert api.delete(f"/api/documents/{doc_id}").status_code == 204


# ---- the replaced flag under concurrency ----------------------------------------------------------------------
def test_replaced_is_right_when_one_id_is_uploaded_concurrently(hostile_server: BackgroundServer) -> None:
    n = 6
    barrier = threading.Barrier(n)
    results: list[dict] = []

    def upload(i: int) -> None:
        with httpx.Client(base_url=hostile_server.url, timeout=120) as c:
            barrier.wait()
            r = c.post(
                "/api/documents",
                json={
                    "text": f"Version {i} of the tide table: high water at {i} am.",
                    "title": "Tide table",
                    "doc_id": "tide-table",
                },
            )
            results.append({"status": r.status_code, **(r.json() if r.status_code == 201 else {})})

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r["status"] for r in results] == [201] * n, results
    assert sorted(r["replaced"] for r in results) == [False] + [True] * (n - 1), results
    assert httpx.delete(hostile_server.url + "/api/documents/tide-table").status_code == 204


# ---- control characters ---------------------------------------------------------------------------------------
def test_text_with_many_control_characters_is_refused_as_json_as_it_is_as_a_file(api: httpx.Client) -> None:
    text = "Ferry.\x01\x02\x03 " * 800
    assert sum(ord(ch) < 32 for ch in text) / len(text) > 0.2
    as_file = api.post("/api/documents", files={"file": ("controls.txt", text.encode(), "text/plain")})
    as_json = api.post("/api/documents", json={"text": text, "title": "controls"})
    assert as_file.status_code == 422, as_file.text
    assert as_json.status_code == 422, as_json.text
    assert "binary" in as_json.json()["detail"]
    assert not any(d.startswith("controls") for d in _ids(api))
