"""/v1 with the official openai client against a real server: completions, streaming, follow-ups, errors."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from rag.api.server import BackgroundServer
from tests.api.conftest import LIEGE_DOC, quote_in_passage

LIEGE_Q = "How large is the warehouse at Liège airport?"


@pytest.fixture()
def oai(server: BackgroundServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=60) as c:
        yield c


def test_models_lists_the_modes(oai: openai.OpenAI) -> None:
    ids = [m.id for m in oai.models.list()]
    assert ids == ["rag", "rag-extractive", "rag-generative"]
    assert oai.models.retrieve("rag-extractive").id == "rag-extractive"
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("gpt-4o")


def test_completion_is_the_answer_with_citations(oai: openai.OpenAI, client: httpx.Client) -> None:
    completion = oai.chat.completions.create(model="rag", messages=[{"role": "user", "content": LIEGE_Q}])
    expected = client.post("/api/ask", json={"question": LIEGE_Q}).json()
    assert completion.object == "chat.completion" and completion.model == "rag"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == expected["answer"]
    assert completion.choices[0].finish_reason == "stop"
    extra = completion.model_dump()
    assert extra["citations"] == expected["citations"]
    assert any(c["doc_id"] == LIEGE_DOC and "220000" in c["quote"] for c in extra["citations"])
    assert extra["rag"]["abstained"] is False and extra["rag"]["answer"] == expected["answer"]


def test_streaming_assembles_to_the_same_answer(oai: openai.OpenAI) -> None:
    plain = oai.chat.completions.create(
        model="rag-extractive", messages=[{"role": "user", "content": LIEGE_Q}]
    )
    chunks = list(
        oai.chat.completions.create(
            model="rag-extractive", stream=True, messages=[{"role": "user", "content": LIEGE_Q}]
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == plain.choices[0].message.content
    assert len([c for c in chunks if c.choices[0].delta.content]) > 3  # really streamed in pieces
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
    last = chunks[-1].model_dump()
    assert last["choices"][0]["finish_reason"] == "stop"
    assert last["citations"] == plain.model_dump()["citations"]
    assert all(quote_in_passage(c) for c in last["citations"])


def test_stream_ends_with_done(client: httpx.Client) -> None:
    with client.stream(
        "POST",
        "/v1/chat/completions",
        json={"model": "rag", "stream": True, "messages": [{"role": "user", "content": LIEGE_Q}]},
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [line for line in r.iter_lines() if line]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    assert '"citations"' in events[-2]


def test_follow_up_uses_earlier_messages(oai: openai.OpenAI) -> None:
    messages = [
        {"role": "system", "content": "You are a helpful assistant for questions about Australia."},
        {"role": "user", "content": "Where is Alibaba building a warehouse in Europe?"},
        {"role": "assistant", "content": "At Liège airport in Belgium."},
        {"role": "user", "content": [{"type": "text", "text": "How big is it?"}]},
    ]
    completion = oai.chat.completions.create(model="rag", messages=messages)
    citations = completion.model_dump()["citations"]
    assert any(c["doc_id"] == LIEGE_DOC and "220000" in c["quote"] for c in citations)
    streamed = oai.chat.completions.create(model="rag", messages=messages, stream=True)
    assert (
        "".join(c.choices[0].delta.content or "" for c in streamed) == completion.choices[0].message.content
    )


def test_abstention_and_extra_fields(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(
        model="rag",
        messages=[{"role": "user", "content": "What is the capital of Australia?"}],
        temperature=0.2,
        max_tokens=100,
        extra_body={"mode": "extractive", "top_k": 3},
    )
    extra = completion.model_dump()
    assert extra["rag"]["abstained"] is True and extra["citations"] == []
    assert extra["rag"]["mode"] == "extractive"


def test_client_errors_map_to_openai_exceptions(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": LIEGE_Q}])
    assert "does not exist" in info.value.message
    with pytest.raises(openai.UnprocessableEntityError):
        oai.chat.completions.create(model="rag", messages=[{"role": "assistant", "content": "Hello"}])
    with pytest.raises(openai.UnprocessableEntityError):
        oai.chat.completions.create(model="rag", messages=[])
    with pytest.raises(openai.UnprocessableEntityError):
        oai.chat.completions.create(model="rag", messages=[{"role": "user", "content": " "}], stream=True)
