"""The OpenAI-compatible backend against real HTTP servers: the project's own /v1/chat/completions as upstream
(whole and streamed), and a scripted stand-in for retries, timeouts, refusals and broken streams; a generative
pipeline over it falls back to the extractive answer, saying so, when the server is unavailable."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from rag.api.server import BackgroundServer
from rag.embedding import Embedder
from rag.llm.base import LLMUnavailable
from rag.llm.openai_compat import OpenAICompatLLM, iter_sse_data
from rag.pipeline import Pipeline
from rag.types import Answer
from tests.answer.test_generative import assert_verified
from tests.conftest import make_settings
from tests.llm.conftest import UPSTREAM_KEY, StandIn, completion, sse_chunks

CHESTER_Q = "Which English town did Alibaba recruit in?"
MESSAGES = [
    {"role": "system", "content": "Answer from the passages."},
    {"role": "user", "content": "Which English town did Alibaba recruit in?"},
]


def client(url: str, **options: object) -> OpenAICompatLLM:
    values = {"api_key": UPSTREAM_KEY, "timeout": 30.0, "retries": 0, "backoff": 0.01, **options}
    return OpenAICompatLLM(url, "rag-extractive", **values)


def generative_pipeline(index_dir: Path, embedder: Embedder, url: str, **overrides: object) -> Pipeline:
    values = {
        "answer_mode": "generative",
        "llm_backend": "openai",
        "llm_base_url": url,
        "llm_model": "rag-extractive",
        "llm_api_key": UPSTREAM_KEY,
        "llm_timeout": 30,
        "llm_retries": 0,
        **overrides,
    }
    settings = make_settings(index_dir, **values)
    return Pipeline(settings, embedder=embedder)


# ---- against the project's own OpenAI-compatible endpoint ----------------------------------------------------------
def test_whole_and_streamed_replies_from_a_real_server(upstream: BackgroundServer) -> None:
    llm = client(f"{upstream.url}/v1")
    whole = llm.complete(MESSAGES)
    assert "Chester" in whole and re.search(r"\[\d+\]", whole)
    pieces = list(llm.stream(MESSAGES))
    assert len(pieces) > 3 and "".join(pieces) == whole


def test_generative_pipeline_over_an_openai_compatible_server(
    upstream: BackgroundServer, seed_index_dir: Path, embedder: Embedder
) -> None:
    pipeline = generative_pipeline(seed_index_dir, embedder, f"{upstream.url}/v1/")
    answer = pipeline.ask(CHESTER_Q)
    assert not answer.abstained and answer.mode == "generative"
    assert not (answer.notice or "").startswith("Generative answer unavailable")
    # The upstream quotes corpus sentences, which the generative side then verifies against its own passages.
    assert answer.total_sentences >= 1 and answer.supported_sentences >= 1
    assert_verified(answer, pipeline, CHESTER_Q)
    *pieces, final = list(pipeline.ask_stream(CHESTER_Q))
    assert isinstance(final, Answer) and len(pieces) > 3
    assert "".join(pieces) == final.answer == answer.answer
    assert final.citations == answer.citations


def test_a_wrong_key_is_refused_at_once_and_the_answer_falls_back(
    upstream: BackgroundServer, seed_index_dir: Path, embedder: Embedder
) -> None:
    with pytest.raises(LLMUnavailable, match="refused the request: .*HTTP 401"):
        client(f"{upstream.url}/v1", api_key="wrong", retries=3).complete(MESSAGES)
    pipeline = generative_pipeline(seed_index_dir, embedder, f"{upstream.url}/v1", llm_api_key="wrong")
    answer = pipeline.ask(CHESTER_Q)
    assert answer.mode == "extractive" and "Chester" in answer.answer
    assert answer.notice.startswith("Generative answer unavailable") and "401" in answer.notice


# ---- an endpoint that is down -------------------------------------------------------------------------------------
def test_a_closed_port_falls_back_to_the_extractive_answer_and_says_so(
    closed_port: int, seed_index_dir: Path, embedder: Embedder
) -> None:
    url = f"http://127.0.0.1:{closed_port}/v1"
    pipeline = generative_pipeline(seed_index_dir, embedder, url, llm_retries=1)
    extractive = pipeline.ask(CHESTER_Q, mode="extractive")
    for answer in (pipeline.ask(CHESTER_Q), list(pipeline.ask_stream(CHESTER_Q))[-1]):
        assert answer.mode == "extractive" and not answer.abstained
        assert answer.answer == extractive.answer and answer.citations == extractive.citations
        assert answer.notice.startswith("Generative answer unavailable")
        assert f"cannot reach {url}" in answer.notice and "after 2 attempts" in answer.notice
    *pieces, final = list(pipeline.ask_stream(CHESTER_Q))
    assert "".join(pieces) == final.answer


# ---- scripted failures ----------------------------------------------------------------------------------------------
def test_server_errors_are_retried_then_succeed(stand_in: StandIn) -> None:
    stand_in.reply(
        {"status": 503, "body": {"error": {"message": "loading model"}}, "headers": {"Retry-After": "0"}},
        {"status": 429, "body": {"error": {"message": "slow down"}}},
        {"body": completion("Chester [1].")},
    )
    assert client(stand_in.url, retries=2).complete(MESSAGES) == "Chester [1]."
    assert len(stand_in.script.requests) == 3
    request = stand_in.script.requests[-1]
    assert request["path"] == "/v1/chat/completions" and request["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert request["body"]["model"] == "rag-extractive" and request["body"]["messages"] == MESSAGES
    assert request["body"]["stream"] is False and request["body"]["max_tokens"] == 256


def test_out_of_retries_names_the_last_error(stand_in: StandIn) -> None:
    stand_in.reply({"status": 503, "body": {"error": {"message": "loading model"}}})
    with pytest.raises(LLMUnavailable, match=r"HTTP 503: loading model \(after 3 attempts\)"):
        client(stand_in.url, retries=2).complete(MESSAGES)
    assert len(stand_in.script.requests) == 3


def test_client_errors_are_not_retried(stand_in: StandIn) -> None:
    stand_in.reply({"status": 404, "body": {"error": {"message": "model 'x' not found"}}})
    with pytest.raises(LLMUnavailable, match="refused the request: .*HTTP 404: model 'x' not found"):
        client(stand_in.url, retries=3).complete(MESSAGES)
    assert len(stand_in.script.requests) == 1


def test_a_slow_server_times_out(stand_in: StandIn) -> None:
    stand_in.reply({"delay": 2.0, "body": completion("late")})
    started = time.perf_counter()
    with pytest.raises(LLMUnavailable, match="within the timeout"):
        client(stand_in.url, timeout=0.3).complete(MESSAGES)
    assert time.perf_counter() - started < 1.9


def test_sse_stream_parsing(stand_in: StandIn) -> None:
    events = [
        ": keep-alive comment\n\n",
        'data: {"choices":[{"index":0,"delta":{"role":"assistant"}}]}\n\n',
        *sse_chunks("Ches", "ter", " [1]", ".")[:-1],
        'data: {"choices":[]}\n\n',
        "data: [DONE]\n\n",
        *sse_chunks("never"),
    ]
    stand_in.reply({"sse": events})
    assert list(client(stand_in.url).stream(MESSAGES)) == ["Ches", "ter", " [1]", "."]
    assert stand_in.script.requests[0]["body"]["stream"] is True


def test_an_error_event_in_the_stream_is_reported(stand_in: StandIn) -> None:
    stand_in.reply({"sse": [*sse_chunks("Ches")[:-1], 'data: {"error": {"message": "out of memory"}}\n\n']})
    stream = client(stand_in.url).stream(MESSAGES)
    assert next(stream) == "Ches"
    with pytest.raises(LLMUnavailable, match="out of memory"):
        next(stream)


def test_a_stream_broken_mid_answer_keeps_what_was_verified(
    stand_in: StandIn, seed_index_dir: Path, embedder: Embedder
) -> None:
    stand_in.reply(
        {
            "sse": [
                *sse_chunks("Alibaba recruited in the English town of Chester. ", "It")[:-1],
                'data: {"error": {"message": "server restarting"}}\n\n',
            ]
        }
    )
    pipeline = generative_pipeline(seed_index_dir, embedder, stand_in.url)
    *pieces, answer = list(pipeline.ask_stream(CHESTER_Q))
    assert answer.mode == "generative" and "".join(pieces) == answer.answer
    assert answer.answer.startswith("Alibaba recruited in the English town of Chester. [1]")
    assert "cut short" in answer.notice and "server restarting" in answer.notice


def test_an_empty_reply_falls_back(stand_in: StandIn, seed_index_dir: Path, embedder: Embedder) -> None:
    stand_in.reply({"body": completion("   ")})
    answer = generative_pipeline(seed_index_dir, embedder, stand_in.url).ask(CHESTER_Q)
    assert answer.mode == "extractive" and "returned an empty answer" in answer.notice


def test_sse_data_lines_are_joined_per_event() -> None:
    lines = [": comment", "event: message", "data: a", "data:b", "", "", "data:  c", "id: 1", ""]
    assert list(iter_sse_data(iter(lines))) == ["a\nb", " c"]


def test_settings_require_a_model_name_for_the_openai_backend(seed_index_dir: Path) -> None:
    with pytest.raises(ValueError, match="llm_model"):
        make_settings(seed_index_dir, llm_backend="openai")
    with pytest.raises(ValueError, match="llm_base_url"):
        make_settings(seed_index_dir, llm_backend="openai", llm_model="m", llm_base_url="localhost:11434")
