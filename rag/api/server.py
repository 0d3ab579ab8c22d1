"""Run the API with uvicorn: `serve(settings)` for `rag serve`, `BackgroundServer` for tests and benchmarks."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from types import TracebackType
from typing import Self

import uvicorn
from fastapi import FastAPI

from rag.query_batcher import QueryBatcher
from rag.settings import Settings

log = logging.getLogger("uvicorn.error")  # shown with uvicorn's own start-up lines


class RagServer(uvicorn.Server):
    """A uvicorn server that says which URL to open once it listens (the real port, also when port 0)."""

    @property
    def port(self) -> int:
        """The bound port (valid after start-up)."""
        return self.servers[0].sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        """Base URL of the running server, e.g. http://127.0.0.1:8000."""
        host = self.config.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    async def startup(self, sockets: list | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            state = getattr(self.config.app, "state", None)
            if getattr(state, "ui", False):
                log.info("Open %s/ for the chat page, %s/docs for the API (OpenAPI).", self.url, self.url)
            else:
                log.info("Open %s/docs for the API (OpenAPI); the chat page is not installed.", self.url)


def _one_thread_per_request() -> None:
    """Give torch one intra-op thread unless OMP_NUM_THREADS says otherwise.

    The server gets its parallelism from concurrent requests (their question embeddings batched into one model
    call by the QueryBatcher). Several intra-op threads fight over the cores with the request threads and with
    other processes: on the 2-core benchmark machine under load a query embedding took ~370 ms with 2 threads
    and ~8 ms with 1.
    """
    if os.environ.get("OMP_NUM_THREADS"):
        return
    import torch

    torch.set_num_threads(1)


def serve(settings: Settings) -> None:
    """Load the model and index once, then serve the API (and the chat page) until interrupted."""
    from rag.api.app import create_app
    from rag.pipeline import Pipeline

    _one_thread_per_request()
    print(f"loading the embedding model and index {settings.index_name!r}...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    pipeline = Pipeline(settings)
    if pipeline.loaded:
        docs = len(pipeline.documents())
        print(
            f"index {pipeline.index_name!r}: {docs} documents, {pipeline.data.chunk_count} chunks "
            f"(loaded in {time.perf_counter() - started:.1f}s)",
            file=sys.stderr,
            flush=True,
        )
    else:
        print(
            f"warning: no usable index {pipeline.index_name!r} in {settings.index_dir}/; questions get 503 until "
            f"documents are uploaded (POST /api/documents) or `rag index` is run",
            file=sys.stderr,
            flush=True,
        )
    if settings.api_key is not None:
        print("API key required on /api and /v1 (RAG_API_KEY is set)", file=sys.stderr, flush=True)
    app = create_app(pipeline, settings)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level="info", timeout_graceful_shutdown=5
    )
    server = RagServer(config)
    # Concurrent questions share one model call for their embeddings (rag.embedding.QueryBatcher).
    pipeline.query_batcher = QueryBatcher(
        pipeline.embedder.embed_queries,
        window=settings.query_batch_window_ms / 1000,
        max_batch=settings.query_batch_max,
        # One embed thread: on the shared 2-core machine a second one (workers=2) made smaller batches and more
        # embedding CPU per question (69 model calls instead of 52 for 425 questions) and no more answers/s.
    )
    try:
        server.run()
    except SystemExit:
        if not server.started:
            print(
                f"error: cannot serve on {settings.host}:{settings.port} (see above); choose another address with "
                "--host/--port or RAG_HOST/RAG_PORT",
                file=sys.stderr,
                flush=True,
            )
            raise SystemExit(2) from None
        raise
    finally:
        pipeline.query_batcher.close()
        pipeline.close()


class BackgroundServer:
    """A real uvicorn server on a loopback port in a background thread: `with BackgroundServer(app) as s: s.url`."""

    def __init__(
        self,
        app: FastAPI,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log_level: str = "warning",
        access_log: bool = False,
        startup_timeout: float = 60.0,
    ) -> None:
        self.server = RagServer(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                log_level=log_level,
                access_log=access_log,
                timeout_graceful_shutdown=2,
            )
        )
        self.startup_timeout = startup_timeout
        self._thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return self.server.url

    def start(self) -> Self:
        """Start and wait until the server listens; raises RuntimeError if it does not."""
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the uvicorn server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Ask the server to exit and wait for the thread."""
        self.server.should_exit = True
        self._thread.join(timeout=15)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
