"""/api/documents against a real server over its own index copy: upload, cite, delete, limits, bad files."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator

import httpx
import pytest

from rag.api.server import BackgroundServer
from tests.api.conftest import LIEGE_DOC, UPLOAD_LIMIT, ServerFactory, quote_in_passage

FESTIVAL = (
    b"The Zorblax lantern festival is held every June in the harbour town of Vardoya.\n\n"
    b"The Zorblax lantern festival attracted 48,000 visitors in its latest edition, a record for Vardoya. "
    b"Visitors release paper lanterns over the harbour at midnight."
)
FESTIVAL_Q = "How many visitors did the Zorblax lantern festival attract?"
GLACIER = (
    "The Quellbrunn glacier in the Ostwald range has retreated by 1.8 kilometres since 1950. "
    "Researchers measure the Quellbrunn glacier every autumn with drones and GPS stakes."
)
GLACIER_Q = "How far has the Quellbrunn glacier retreated since 1950?"


@pytest.fixture(scope="module")
def docs_server(start_server: ServerFactory) -> BackgroundServer:
    """A server of its own: these tests add and delete documents."""
    return start_server()


@pytest.fixture()
def api(docs_server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=docs_server.url, timeout=120) as c:
        yield c


def _ids(api: httpx.Client) -> list[str]:
    body = api.get("/api/documents").json()
    assert body["count"] == len(body["documents"])
    return [d["doc_id"] for d in body["documents"]]


def _cited(api: httpx.Client, question: str) -> set[str]:
    body = api.post("/api/ask", json={"question": question}).json()
    return {c["doc_id"] for c in body["citations"]}


def test_list_documents(api: httpx.Client) -> None:
    body = api.get("/api/documents").json()
    assert body["index"] == "seed"
    assert LIEGE_DOC in [d["doc_id"] for d in body["documents"]]
    liege = next(d for d in body["documents"] if d["doc_id"] == LIEGE_DOC)
    assert liege["chunks"] > 0 and liege["chars"] > 0 and "Liège" in liege["title"]


def test_get_document_text_matches_citation_offsets(api: httpx.Client) -> None:
    answer = api.post("/api/ask", json={"question": "How large is the warehouse at Liège airport?"}).json()
    citation = answer["citations"][0]
    doc = api.get(f"/api/documents/{citation['doc_id']}").json()
    assert doc["text"][citation["start"] : citation["end"]] == citation["quote"]


def test_multipart_upload_is_cited_then_delete_is_never_cited(api: httpx.Client) -> None:
    assert "zorblax-festival" not in _cited(api, FESTIVAL_Q)
    r = api.post(
        "/api/documents",
        files={"file": ("zorblax-festival.txt", FESTIVAL, "text/plain")},
        data={"title": "Zorblax lantern festival"},
    )
    assert r.status_code == 201, r.text
    added = r.json()
    assert added["doc_id"] == "zorblax-festival" and added["title"] == "Zorblax lantern festival"
    assert added["chunks"] >= 1 and added["replaced"] is False
    assert r.headers["location"] == "/api/documents/zorblax-festival"
    assert "zorblax-festival" in _ids(api)

    answer = api.post("/api/ask", json={"question": FESTIVAL_Q}).json()
    assert not answer["abstained"]
    assert any(c["doc_id"] == "zorblax-festival" and "48,000" in c["quote"] for c in answer["citations"])

    again = api.post("/api/documents", files={"file": ("zorblax-festival.txt", FESTIVAL, "text/plain")})
    assert again.status_code == 201 and again.json()["replaced"] is True

    assert api.delete("/api/documents/zorblax-festival").status_code == 204
    assert "zorblax-festival" not in _ids(api)
    assert "zorblax-festival" not in _cited(api, FESTIVAL_Q)
    hits = api.post("/api/search", json={"query": FESTIVAL_Q, "top_k": 10}).json()["passages"]
    assert all(h["doc_id"] != "zorblax-festival" for h in hits)
    assert api.delete("/api/documents/zorblax-festival").status_code == 404
    assert api.get("/api/documents/zorblax-festival").status_code == 404


def test_json_text_upload_is_cited(api: httpx.Client) -> None:
    r = api.post("/api/documents", json={"text": GLACIER, "title": "Quellbrunn glacier", "doc_id": "glacier"})
    assert r.status_code == 201, r.text
    assert r.json()["doc_id"] == "glacier"
    answer = api.post("/api/ask", json={"question": GLACIER_Q}).json()
    assert any(c["doc_id"] == "glacier" and "1.8 kilometres" in c["quote"] for c in answer["citations"])
    assert api.delete("/api/documents/glacier").status_code == 204
    assert "glacier" not in _cited(api, GLACIER_Q)


def test_upload_persists_in_the_index_folder(api: httpx.Client, docs_server: BackgroundServer) -> None:
    from rag.stores import EmbeddedStore

    api.post("/api/documents", json={"text": GLACIER, "title": "Persisted glacier", "doc_id": "persisted"})
    pipeline = docs_server.server.config.app.state.pipeline
    assert "persisted" in EmbeddedStore.load(pipeline.path).documents
    api.delete("/api/documents/persisted")
    assert "persisted" not in EmbeddedStore.load(pipeline.path).documents


def test_unknown_document_is_404(api: httpx.Client) -> None:
    for r in (
        api.delete("/api/documents/no-such-doc"),
        api.get("/api/documents/no-such-doc"),
        api.delete("/api/documents/a/b/c"),
    ):
        assert r.status_code == 404
        assert "no-such-doc" in r.json()["detail"] or "a/b/c" in r.json()["detail"]


def test_file_over_the_limit_is_413_and_changes_nothing(api: httpx.Client) -> None:
    before = _ids(api)
    big = b"word " * (UPLOAD_LIMIT // 5 + 1)  # just over the limit, body within the multipart allowance
    r = api.post("/api/documents", files={"file": ("big.txt", big, "text/plain")})
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    r = api.post("/api/documents", json={"text": "x" * (UPLOAD_LIMIT + 1), "title": "big"})
    assert r.status_code == 413
    assert _ids(api) == before


def test_body_over_the_limit_is_413_by_content_length_and_by_counting(api: httpx.Client) -> None:
    huge = b"a" * (UPLOAD_LIMIT + 200_000)
    r = api.post("/api/documents", files={"file": ("huge.txt", huge, "text/plain")})
    assert r.status_code == 413 and r.json()["detail"]

    def chunked() -> Iterator[bytes]:  # no Content-Length: the server must count
        for _ in range(8):
            yield b"b" * 60_000

    r = api.post("/api/documents", content=chunked(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "transfer-encoding" in r.request.headers and "content-length" not in r.request.headers


def test_unsupported_types_are_415(api: httpx.Client) -> None:
    r = api.post(
        "/api/documents", files={"file": ("report.docx", b"PK\x03\x04 not really", "application/zip")}
    )
    assert r.status_code == 415 and ".docx" in r.json()["detail"]
    r = api.post("/api/documents", content=b"just text", headers={"content-type": "text/plain"})
    assert r.status_code == 415


def test_broken_pdf_and_empty_file_are_422_and_leave_the_list_unchanged(api: httpx.Client) -> None:
    before = api.get("/api/documents").json()
    r = api.post(
        "/api/documents",
        files={"file": ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog", "application/pdf")},
    )
    assert r.status_code == 422 and "broken.pdf" in r.json()["detail"]
    r = api.post("/api/documents", files={"file": ("empty.txt", b"", "text/plain")})
    assert r.status_code == 422
    r = api.post("/api/documents", files={"file": ("binary.txt", bytes(range(256)) * 10, "text/plain")})
    assert r.status_code == 422
    assert api.get("/api/documents").json() == before


@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": {"title": "no text"}},
        {"json": {"text": "", "title": "t"}},
        {"json": {"text": "some text", "title": "t", "doc_id": "../../etc/passwd"}},
        {"json": ["not", "an", "object"]},
        {"content": b"{oops", "headers": {"content-type": "application/json"}},
        {"files": {"other": ("a.txt", b"hello", "text/plain")}},
    ],
)
def test_invalid_upload_bodies_are_422(api: httpx.Client, kwargs: dict) -> None:
    r = api.post("/api/documents", **kwargs)
    assert r.status_code == 422, r.text
    assert r.json()["detail"]


def test_readers_never_see_a_half_written_index(api: httpx.Client, docs_server: BackgroundServer) -> None:
    """Readers hammer /api/ask while uploads and deletes run: no errors, every quote is in its passage."""
    questions = [
        "How large is the warehouse at Liège airport?",
        FESTIVAL_Q,
        GLACIER_Q,
        "When did Tmall Global launch?",
        "What did the trade associations say about counterfeits?",
    ]
    stop = threading.Event()
    failures: list[str] = []
    answers = [0]

    def reader(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=docs_server.url, timeout=120) as c:
            while not stop.is_set():
                r = c.post("/api/ask", json={"question": rng.choice(questions)})
                if r.status_code != 200:
                    failures.append(f"{r.status_code}: {r.text[:200]}")
                    continue
                answers[0] += 1
                failures.extend(
                    f"bad citation {c['doc_id']}" for c in r.json()["citations"] if not quote_in_passage(c)
                )

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    try:
        for round_ in range(4):
            r = api.post("/api/documents", files={"file": (f"fest-{round_}.txt", FESTIVAL, "text/plain")})
            assert r.status_code == 201, r.text
            r = api.post("/api/documents", json={"text": GLACIER, "title": f"glacier {round_}"})
            assert r.status_code == 201, r.text
            assert api.delete(f"/api/documents/fest-{round_}").status_code == 204
            assert api.delete(f"/api/documents/{r.json()['doc_id']}").status_code == 204
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    assert answers[0] >= 8
    assert not any(d.startswith(("fest-", "glacier-")) for d in _ids(api))
