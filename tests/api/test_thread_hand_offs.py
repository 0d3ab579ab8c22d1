"""Under load every thread hand-off costs: /api/ask and /api/search use FastAPI's thread pool once per request."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import httpx
import pytest

from rag.api.server import BackgroundServer

QUESTION = "How large is the warehouse at Liège airport?"


@pytest.fixture()
def thread_pool_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the functions run in anyio's thread pool (FastAPI's and Starlette's run_in_threadpool)."""
    calls: list[str] = []
    lock = threading.Lock()
    original = anyio.to_thread.run_sync

    async def counting(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        target = func.func if isinstance(func, functools.partial) else func  # run_in_threadpool's wrapping
        with lock:
            calls.append(getattr(target, "__qualname__", repr(target)))
        return await original(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    return calls


@pytest.mark.parametrize(
    ("path", "body"), [("/api/ask", {"question": QUESTION}), ("/api/search", {"query": QUESTION})]
)
def test_one_thread_pool_hand_off_per_request(
    server: BackgroundServer, thread_pool_calls: list[str], path: str, body: dict
) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        client.post(path, json=body).raise_for_status()  # warm
        thread_pool_calls.clear()
        for _ in range(3):
            response = client.post(path, json=body)
            assert response.status_code == 200
    # Only the pipeline call itself: no dependency and no response validation in the pool.
    assert len(thread_pool_calls) == 3, thread_pool_calls
    assert all(name.startswith("Pipeline.") for name in thread_pool_calls), thread_pool_calls


def test_an_error_raised_in_the_thread_pool_keeps_its_status_and_message(
    server: BackgroundServer, thread_pool_calls: list[str]
) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        response = client.post(
            "/api/ask", json={"question": "   "}
        )  # refused by the pipeline, not the schema
    assert thread_pool_calls == ["Pipeline.ask"]
    assert response.status_code == 422
    assert response.json() == {"detail": "the question is empty"}
