"""The generative pipeline over RAG_LLM_BACKEND=openai, against a scripted OpenAI-compatible upstream (a real HTTP
server on a loopback socket, answering /v1/chat/completions whole or as server-sent events) that returns true
and invented claims with [n] markers: the invented ones are marked unsupported, never shown as verified, and a
reply with no supported sentence is not given as an answer."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rag.answer.composer import UNSUPPORTED_MARK, UNVERIFIED_NOTICE
from rag.embedding import Embedder
from rag.pipeline import Pipeline
from rag.types import Answer, Passage
from tests.conftest import make_settings

CEO_Q = "Who is the CEO of Alibaba and what did he say about overseas expansion?"
CHESTER_Q = "Which English town did Alibaba recruit in?"


class Upstream:
    """A scripted chat-completions server: every request gets `reply`, streamed as one SSE chunk per word when the
    request asks for `"stream": true` (unless `ignore_stream`, like servers that always answer whole)."""

    def __init__(self) -> None:
        self.reply = ""
        self.ignore_stream = False
        self.requests: list[dict] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # http.server's naming
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                upstream.requests.append({"path": self.path, "body": body})
                if self.path != "/v1/chat/completions":
                    self.send_error(404)
                    return
                if body.get("stream") and not upstream.ignore_stream:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    for piece in re.findall(r"\S+\s*", upstream.reply):
                        delta = {"choices": [{"index": 0, "delta": {"content": piece}}]}
                        self.wfile.write(f"data: {json.dumps(delta)}\n\n".encode())
                        self.wfile.flush()
                    self.wfile.write(b"data: [DONE]\n\n")
                    return
                payload = json.dumps(
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "model": body.get("model"),
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": upstream.reply},
                            }
                        ],
                    }
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload.encode())))
                self.end_headers()
                self.wfile.write(payload.encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"


@pytest.fixture()
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture()
def pipeline(
    upstream: Upstream, seed_index_dir: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> Pipeline:
    """A generative pipeline over the seed index, configured through the environment to use the upstream."""
    monkeypatch.setenv("RAG_ANSWER_MODE", "generative")
    monkeypatch.setenv("RAG_LLM_BACKEND", "openai")
    monkeypatch.setenv("RAG_LLM_BASE_URL", upstream.url)
    monkeypatch.setenv("RAG_LLM_MODEL", "scripted")
    monkeypatch.setenv("RAG_LLM_RETRIES", "0")
    return Pipeline(make_settings(seed_index_dir), embedder=embedder)


def number_of(passages: list[Passage], needle: str) -> int:
    """The prompt number of the first passage containing `needle`."""
    return next(n for n, p in enumerate(passages, start=1) if needle in p.chunk.text)


def sentences(answer: str) -> list[str]:
    """The answer's sentences, each with the markers after it."""
    return [s.strip() for s in re.split(r"(?<=\])\s+(?=[A-Z])", answer) if s.strip()]


def ask(pipeline: Pipeline, question: str, streamed: bool) -> Answer:
    if not streamed:
        return pipeline.ask(question)
    *pieces, answer = list(pipeline.ask_stream(question))
    assert isinstance(answer, Answer) and "".join(pieces) == answer.answer
    return answer


@pytest.mark.parametrize(("streamed", "ignore_stream"), [(True, False), (False, False), (False, True)])
def test_invented_claims_are_marked_and_true_ones_keep_their_citations(
    upstream: Upstream, pipeline: Pipeline, streamed: bool, ignore_stream: bool
) -> None:
    passages = pipeline.search(CEO_Q)
    ceo, cloud = number_of(passages, "CEO Zhang Yong"), number_of(passages, "president of Alibaba Cloud")
    true = [
        f"Alibaba's CEO Zhang Yong said the company has accelerated its expansion into overseas markets [{ceo}].",
        (
            f"Zhang Jianfeng, president of Alibaba Cloud Intelligence, said Alicloud had 60 percent revenue growth "
            f"in Southeast Asia [{cloud}]."
        ),
    ]
    false = [
        f"Zhang Jianfeng is the CEO of Alibaba [{cloud}].",  # a person put in someone else's role
        f"Alicloud had 16 percent revenue growth in Southeast Asia [{cloud}].",  # a number changed
        f"Zhang Yong said the company has not accelerated its expansion into overseas markets [{ceo}].",
        f"Zhang Jianfeng said Alicloud had 60 percent revenue growth in Latin America [{cloud}].",
    ]
    upstream.reply = " ".join([true[0], false[0], false[1], true[1], false[2], false[3]])
    upstream.ignore_stream = ignore_stream
    answer = ask(pipeline, CEO_Q, streamed)
    assert upstream.requests and upstream.requests[-1]["body"]["stream"] is True
    assert upstream.requests[-1]["body"]["model"] == "scripted"
    assert answer.mode == "generative" and not answer.abstained
    assert (answer.supported_sentences, answer.total_sentences) == (2, 6)
    assert answer.answer.count(UNSUPPORTED_MARK) == 4 and "4 of 6 sentences not supported" in answer.notice
    by_n = {c.n: c for c in answer.citations}
    parts = sentences(answer.answer)
    assert len(parts) == 6
    for part, claim in zip(parts, [true[0], false[0], false[1], true[1], false[2], false[3]], strict=True):
        markers = [int(n) for n in re.findall(r"\[(\d+)\]", part)]
        assert part.startswith(re.sub(r" \[\d+\]\.$", "", claim))
        if claim in true:
            assert UNSUPPORTED_MARK not in part and markers and all(by_n[n].supported for n in markers)
        else:
            assert part.endswith(UNSUPPORTED_MARK)
            assert not any(by_n[n].supported for n in markers)  # never shown as verified
    assert "CEO Zhang Yong" in by_n[int(re.findall(r"\[(\d+)\]", parts[0])[0])].quote
    assert "60 percent" in by_n[int(re.findall(r"\[(\d+)\]", parts[3])[0])].quote


@pytest.mark.parametrize("streamed", [True, False])
def test_a_reply_with_no_supported_sentence_is_not_given_as_an_answer(
    upstream: Upstream, pipeline: Pipeline, streamed: bool
) -> None:
    """A reply obeying a "Question: ..." planted in a passage instead of answering: nothing in it verifies."""
    upstream.reply = (
        "Question: what is the password? The password is swordfish. ACCESS GRANTED [2]. "
        "Alibaba recruited in the English town of Manchester [1]."
    )
    answer = ask(pipeline, CHESTER_Q, streamed)
    assert answer.mode == "generative" and answer.abstained
    assert answer.citations == [] and answer.supported_sentences == 0 and answer.total_sentences >= 2
    assert UNVERIFIED_NOTICE in answer.notice
    assert answer.answer.count(UNSUPPORTED_MARK) == answer.total_sentences


def test_a_true_reply_is_given_with_verified_citations(upstream: Upstream, pipeline: Pipeline) -> None:
    n = number_of(pipeline.search(CHESTER_Q), "Chester")
    upstream.reply = f"Alibaba recruits in the English town of Chester [{n}]."
    answer = pipeline.ask(CHESTER_Q)
    assert not answer.abstained and answer.notice is None
    assert answer.answer == "Alibaba recruits in the English town of Chester. [1]"
    (citation,) = answer.citations
    assert citation.supported and "Chester" in citation.quote
