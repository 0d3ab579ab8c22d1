"""API fixtures: real uvicorn servers on loopback ports, each over its own copy of the seed index."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from rag.api.app import create_app
from rag.api.server import BackgroundServer
from rag.embedding import Embedder
from rag.pipeline import Pipeline
from tests.conftest import make_settings

LIEGE_DOC = "2020-alibaba-europe-expansion"
UPLOAD_LIMIT = 200_000  # bytes; small so the 413 tests send little data

ServerFactory = Callable[..., BackgroundServer]


@pytest.fixture(scope="session")
def start_server(
    tmp_path_factory: pytest.TempPathFactory, seed_index_dir: Path, embedder: Embedder
) -> Iterator[ServerFactory]:
    """Factory: a running server over a private copy of the seed index (or no index with seed=False);
    settings overrides as keyword arguments."""
    servers: list[BackgroundServer] = []

    def start(seed: bool = True, **overrides: object) -> BackgroundServer:
        root = tmp_path_factory.mktemp("api-index")
        if seed:
            shutil.copytree(seed_index_dir / "seed", root / "seed")
        settings = make_settings(root, **{"max_upload_bytes": UPLOAD_LIMIT, **overrides})
        server = BackgroundServer(
            create_app(Pipeline(settings, embedder=embedder), settings, with_ui=False)
        ).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def server(start_server: ServerFactory) -> BackgroundServer:
    """The shared server for read-only tests (no uploads or deletes against it)."""
    return start_server()


@pytest.fixture()
def client(server: BackgroundServer) -> Iterator[httpx.Client]:
    """An httpx client for the shared server."""
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


def quote_in_passage(citation: dict) -> bool:
    """A citation's quote is its passage's text at the cited offsets."""
    offset = citation["start"] - citation["passage_start"]
    return (
        bool(citation["quote"])
        and citation["text"][offset : offset + len(citation["quote"])] == citation["quote"]
        and citation["end"] - citation["start"] == len(citation["quote"])
    )
