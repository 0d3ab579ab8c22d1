"""POST /api/ask and /api/search against a real server: citations, abstention, follow-ups, invalid input."""

from __future__ import annotations

import httpx
import pytest

from rag.types import Answer
from tests.api.conftest import LIEGE_DOC, quote_in_passage

LIEGE_Q = "How large is the warehouse at Liège airport?"
FIRST_TURN = "Where is Alibaba building a warehouse in Europe?"


def _cites_liege_size(answer: dict) -> bool:
    return any(c["doc_id"] == LIEGE_DOC and "220000" in c["quote"] for c in answer["citations"])


def test_ask_cites_the_liege_passage(client: httpx.Client) -> None:
    r = client.post("/api/ask", json={"question": LIEGE_Q})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == set(Answer.model_fields)  # the Answer's own serialisation, nothing else
    assert not body["abstained"]
    assert "[1]" in body["answer"]
    assert _cites_liege_size(body)
    assert all(quote_in_passage(c) for c in body["citations"])
    assert body["question"] == LIEGE_Q and body["latency_ms"] > 0


def test_ask_abstains_when_documents_do_not_say(client: httpx.Client) -> None:
    body = client.post("/api/ask", json={"question": "What is the capital of Australia?"}).json()
    assert body["abstained"] is True
    assert body["citations"] == []
    assert "could not find" in body["answer"]


@pytest.mark.parametrize(
    "history",
    [
        [FIRST_TURN],
        [
            {"role": "user", "content": FIRST_TURN},
            {"role": "assistant", "content": "At Liège airport in Belgium."},
        ],
    ],
)
def test_follow_up_uses_history(client: httpx.Client, history: list) -> None:
    alone = client.post("/api/ask", json={"question": "How big is it?"}).json()
    assert not _cites_liege_size(alone)
    followed = client.post("/api/ask", json={"question": "How big is it?", "history": history}).json()
    assert not followed["abstained"]
    assert _cites_liege_size(followed)
    assert followed["question"] == "How big is it?"


def test_top_k_and_mode_are_accepted(client: httpx.Client) -> None:
    body = client.post("/api/ask", json={"question": LIEGE_Q, "top_k": 2, "mode": "extractive"}).json()
    assert body["mode"] == "extractive"
    assert _cites_liege_size(body)


def test_search_returns_ranked_passages_without_answer(client: httpx.Client) -> None:
    r = client.post("/api/search", json={"query": LIEGE_Q, "top_k": 4})
    assert r.status_code == 200
    body = r.json()
    assert "answer" not in body
    hits = body["passages"]
    assert [h["rank"] for h in hits] == [1, 2, 3, 4]
    assert hits[0]["doc_id"] == LIEGE_DOC and "220000" in hits[0]["text"]
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(h["end"] - h["start"] == len(h["text"]) for h in hits)


def test_search_follow_up_uses_history(client: httpx.Client) -> None:
    hits = client.post(
        "/api/search", json={"query": "How big is it?", "history": [FIRST_TURN], "top_k": 3}
    ).json()["passages"]
    assert any(h["doc_id"] == LIEGE_DOC and "220000" in h["text"] for h in hits)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"question": ""},
        {"question": 42},
        {"question": "ok?", "top_k": 0},
        {"question": "ok?", "top_k": 101},
        {"question": "ok?", "top_k": "many"},
        {"question": "ok?", "mode": "poetic"},
        {"question": "ok?", "history": "not a list"},
        {"question": "ok?", "history": [{"role": "wizard", "content": "x"}]},
        {"question": "ok?", "unknown": 1},
        [],
    ],
)
def test_invalid_ask_bodies_are_422_with_json_detail(client: httpx.Client, body: object) -> None:
    r = client.post("/api/ask", json=body)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["detail"]


def test_malformed_json_and_unicode_are_422(client: httpx.Client) -> None:
    r = client.post("/api/ask", content=b'{"question": ', headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = client.post(
        "/api/ask",
        content=b'{"question": "\\ud800 lone surrogate"}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422 and "surrogate" in r.text


def test_question_over_the_limit_is_422_with_message(client: httpx.Client) -> None:
    r = client.post("/api/ask", json={"question": "why " * 600})
    assert r.status_code == 422
    assert "limit is 2000" in r.json()["detail"]


def test_whitespace_question_is_422(client: httpx.Client) -> None:
    r = client.post("/api/search", json={"query": "   "})
    assert r.status_code == 422
    assert r.json()["detail"] == "the question is empty"


def test_undecodable_body_is_422(client: httpx.Client) -> None:
    r = client.post("/api/ask", content=b"\xff\xfe\x00A", headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "json_invalid"
