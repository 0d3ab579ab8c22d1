"""LLM-server fixtures: the project's own OpenAI-compatible endpoint as a real upstream, and a scripted stand-in
server (a real HTTP server on a loopback socket) for failures a healthy upstream never shows."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rag.api.app import create_app
from rag.api.server import BackgroundServer
from rag.embedding import Embedder
from rag.pipeline import Pipeline
from tests.conftest import make_settings

UPSTREAM_KEY = "upstream-secret"


@pytest.fixture(scope="session")
def upstream(
    tmp_path_factory: pytest.TempPathFactory, seed_index_dir: Path, embedder: Embedder
) -> Iterator[BackgroundServer]:
    """The project's API (extractive answers, API key required) on a loopback port: an OpenAI-compatible server.

    Its question limit is raised because a generative prompt (passages + question) arrives as one user message.
    """
    root = tmp_path_factory.mktemp("upstream-index")
    shutil.copytree(seed_index_dir / "seed", root / "seed")
    settings = make_settings(root, max_question_chars=100_000, api_key=UPSTREAM_KEY)
    server = BackgroundServer(
        create_app(Pipeline(settings, embedder=embedder), settings, with_ui=False)
    ).start()
    yield server
    server.stop()


@dataclass
class Script:
    """What the stand-in server does: for request i, `replies[min(i, len - 1)]`."""

    replies: list[dict] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)


class StandIn:
    """A scripted OpenAI-compatible server. Each reply is a dict: status, headers, body (JSON), sse (list of raw
    event strings), delay (seconds before answering)."""

    def __init__(self) -> None:
        self.script = Script()
        script = self.script

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                script.requests.append(
                    {"path": self.path, "body": body, "authorization": self.headers.get("Authorization")}
                )
                reply = script.replies[min(len(script.requests) - 1, len(script.replies) - 1)]
                time.sleep(reply.get("delay", 0))
                if "sse" in reply:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    for event in reply["sse"]:
                        self.wfile.write(event.encode())
                        self.wfile.flush()
                    return
                payload = json.dumps(reply.get("body", {})).encode()
                self.send_response(reply.get("status", 200))
                for name, value in reply.get("headers", {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Base URL including /v1."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def reply(self, *replies: dict) -> StandIn:
        """Script the next requests (resets the request log)."""
        self.script.replies = list(replies)
        self.script.requests.clear()
        return self


@pytest.fixture()
def stand_in() -> Iterator[StandIn]:
    """A fresh scripted server on a loopback port."""
    server = StandIn()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def completion(text: str) -> dict:
    """A non-streamed chat.completion body."""
    return {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
    }


def sse_chunks(*pieces: str) -> list[str]:
    """A streamed reply: one chat.completion.chunk event per piece, then [DONE]."""
    events = [f"data: {json.dumps({'choices': [{'index': 0, 'delta': {'content': p}}]})}\n\n" for p in pieces]
    return events + ["data: [DONE]\n\n"]


@pytest.fixture()
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
