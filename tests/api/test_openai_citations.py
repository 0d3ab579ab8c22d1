"""/v1 in OpenAI's own shapes: url_citation annotations, max_tokens, system messages (official client)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import openai
import pytest
from openai.types.chat.chat_completion_message import Annotation, AnnotationURLCitation

from rag.answer.generative import EXTRA_SYSTEM_HEADER, SYSTEM_PROMPT
from rag.api.server import BackgroundServer
from tests.api.conftest import LIEGE_DOC, ServerFactory
from tests.llm.conftest import StandIn, sse_chunks

LIEGE_Q = "How large is the warehouse at Liège airport?"
CHESTER_Q = "Which English town did Alibaba recruit in?"


@pytest.fixture()
def oai(server: BackgroundServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=60) as c:
        yield c


def ask(oai: openai.OpenAI, question: str = LIEGE_Q, **options: object):
    return oai.chat.completions.create(
        model="rag-extractive", messages=[{"role": "user", "content": question}], **options
    )


def test_each_marker_is_a_url_citation_opening_the_cited_span(
    oai: openai.OpenAI, server: BackgroundServer, client: httpx.Client
) -> None:
    completion = ask(oai)
    message = completion.choices[0].message
    citations = {c["n"]: c for c in completion.model_dump()["citations"]}
    assert message.annotations and len(message.annotations) == message.content.count("[")
    for annotation in message.annotations:
        assert isinstance(annotation, Annotation) and annotation.type == "url_citation"
        cited = annotation.url_citation
        assert isinstance(cited, AnnotationURLCitation)
        marker = message.content[cited.start_index : cited.end_index]
        citation = citations[int(marker.strip("[]"))]
        assert cited.title == citation["title"]
        url = urlsplit(cited.url)
        assert f"{url.scheme}://{url.netloc}" == server.url
        assert url.path == f"/documents/{citation['doc_id']}"
        span = {k: int(v[0]) for k, v in parse_qs(url.query).items()}
        assert span == {"start": citation["start"], "end": citation["end"]}
        text = client.get(f"/api/documents/{citation['doc_id']}").json()["text"]
        assert text[span["start"] : span["end"]] == citation["quote"]
    assert any(c["doc_id"] == LIEGE_DOC for c in citations.values())


def test_streamed_annotations_parse_into_the_clients_final_message(oai: openai.OpenAI) -> None:
    plain = ask(oai).choices[0].message
    with oai.chat.completions.stream(
        model="rag-extractive", messages=[{"role": "user", "content": LIEGE_Q}]
    ) as stream:
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert message.content == plain.content
    assert message.annotations == plain.annotations and all(
        isinstance(a, Annotation) for a in message.annotations
    )
    chunks = list(
        oai.chat.completions.create(
            model="rag-extractive", stream=True, messages=[{"role": "user", "content": LIEGE_Q}]
        )
    )
    last = chunks[-1].model_dump()["choices"][0]
    assert last["finish_reason"] == "stop"
    assert last["delta"]["annotations"] == [a.model_dump() for a in plain.annotations]
    assert all(not c.model_dump()["choices"][0]["delta"].get("annotations") for c in chunks[:-1])


def test_abstention_has_no_annotations(oai: openai.OpenAI) -> None:
    message = ask(oai, "What is the capital of Australia?").choices[0].message
    assert message.annotations == []


def test_max_tokens_cuts_the_answer_streamed_or_not(oai: openai.OpenAI) -> None:
    full = ask(oai).choices[0]
    words = full.message.content.split()
    assert len(words) > 6 and full.finish_reason == "stop"
    cut = ask(oai, max_tokens=5).choices[0]
    assert cut.message.content == " ".join(words[:5]) and cut.finish_reason == "length"
    assert cut.message.annotations == []  # the marker was cut off with the rest
    newer = ask(oai, max_completion_tokens=4, max_tokens=50).choices[0]
    assert newer.message.content.split() == words[:4]
    chunks = list(
        oai.chat.completions.create(
            model="rag-extractive", stream=True, max_tokens=5, messages=[{"role": "user", "content": LIEGE_Q}]
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == cut.message.content
    assert chunks[-1].choices[0].finish_reason == "length"
    roomy = ask(oai, max_tokens=len(words)).choices[0]
    assert roomy.message.content == full.message.content and roomy.finish_reason == "stop"
    assert roomy.message.annotations == full.message.annotations
    with pytest.raises(openai.UnprocessableEntityError):
        ask(oai, max_tokens=0)


@pytest.fixture()
def stand_in() -> Iterator[StandIn]:
    """A scripted OpenAI-compatible language model server on a loopback port (records what it was sent)."""
    server = StandIn()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def test_generative_mode_appends_system_messages_and_caps_new_tokens(
    start_server: ServerFactory, stand_in: StandIn
) -> None:
    server = start_server(llm_backend="openai", llm_base_url=stand_in.url, llm_model="stand-in")
    reply = {"sse": sse_chunks("Alibaba recruited in the English town ", "of Chester. [1]")}
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=60) as oai:
        stand_in.reply(reply)
        completion = oai.chat.completions.create(
            model="rag-generative",
            max_tokens=40,
            messages=[
                {"role": "system", "content": "Answer like a pirate."},
                {"role": "user", "content": CHESTER_Q},
            ],
        )
        sent = stand_in.script.requests[-1]["body"]
        assert completion.model_dump()["rag"]["mode"] == "generative"
        system = sent["messages"][0]
        assert system["role"] == "system" and system["content"].startswith(SYSTEM_PROMPT)
        assert system["content"].endswith(f"{EXTRA_SYSTEM_HEADER}\nAnswer like a pirate.")
        assert [m["role"] for m in sent["messages"]] == ["system", "user"]
        assert sent["max_tokens"] == 40
        assert "Chester" in completion.choices[0].message.content
        assert [a.url_citation.title for a in completion.choices[0].message.annotations]

        stand_in.reply(reply)  # streamed, no system message, a cap above the server's: the server's cap holds
        list(
            oai.chat.completions.create(
                model="rag-generative",
                stream=True,
                max_tokens=100_000,
                messages=[{"role": "user", "content": CHESTER_Q}],
            )
        )
        sent = stand_in.script.requests[-1]["body"]
        assert sent["messages"][0]["content"] == SYSTEM_PROMPT
        assert sent["max_tokens"] == 256
