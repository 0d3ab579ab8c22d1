"""The query micro-batcher: concurrent single-question embeddings share one model call (issue 12, item 7)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from rag.embedding import Embedder
from rag.pipeline import Pipeline
from rag.query_batcher import QueryBatcher

QUESTIONS = [
    "How large is the warehouse at Liège airport?",
    "When did Alibaba expand into Europe?",
    "Who founded the company?",
    "What does the logistics hub handle?",
    "How many people work there?",
    "Which airport is the hub at?",
    "What was announced in 2020?",
    "Is the warehouse open at night?",
    "What is Cainiao?",
    "How much was invested?",
    "What is the capital of France?",
    "a",
]


class Gated:
    """Wraps an embed function: its first call waits until `waiting` more texts sit in the batcher's queue,
    so the texts submitted meanwhile are certain to form one batch (no reliance on timing)."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray], waiting: int) -> None:
        self.embed = embed
        self.waiting = waiting
        self.batcher: QueryBatcher | None = None
        self.calls: list[list[str]] = []
        self.first = threading.Event()

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        if len(self.calls) == 1:
            self.first.set()
            deadline = time.monotonic() + 60
            while self.batcher._queue.qsize() < self.waiting and time.monotonic() < deadline:
                time.sleep(0.001)
        return self.embed(texts)


def gated_batcher(embed: Callable[[list[str]], np.ndarray], waiting: int, **options: object) -> QueryBatcher:
    gate = Gated(embed, waiting)
    batcher = QueryBatcher(gate, **options)
    gate.batcher = batcher
    return batcher


def test_concurrent_queries_get_the_vectors_of_one_by_one_embedding(embedder: Embedder) -> None:
    alone = [embedder.embed_query(q) for q in QUESTIONS]
    with (
        QueryBatcher(embedder.embed, window=0.005, max_batch=64) as batcher,
        ThreadPoolExecutor(len(QUESTIONS)) as pool,
    ):
        batched = list(pool.map(batcher.embed_query, QUESTIONS * 3))
    assert batcher.texts == len(QUESTIONS) * 3
    for vector, expected in zip(batched, alone * 3):
        assert vector.shape == (embedder.dimension,)
        assert vector.dtype == np.float32
        assert np.allclose(vector, expected, atol=1e-5)


def test_batches_of_more_than_one_form_under_concurrency(embedder: Embedder) -> None:
    n = len(QUESTIONS)
    batcher = gated_batcher(embedder.embed, n - 1, window=0.002, max_batch=64)
    gate = batcher._embed
    with batcher, ThreadPoolExecutor(n) as pool:
        first = pool.submit(batcher.embed_query, QUESTIONS[0])
        assert gate.first.wait(30)
        rest = list(pool.map(batcher.embed_query, QUESTIONS[1:]))
        vectors = [first.result(), *rest]
    assert [len(c) for c in gate.calls] == [1, n - 1]  # everyone who waited shared one model call
    assert (batcher.batches, batcher.texts, batcher.largest) == (2, n, n - 1)
    assert np.allclose(np.stack(vectors), embedder.embed(QUESTIONS), atol=1e-5)


def test_max_batch_caps_a_model_call() -> None:
    gate_batcher = gated_batcher(lambda texts: np.zeros((len(texts), 3), np.float32), 10, max_batch=4)
    gate = gate_batcher._embed
    with gate_batcher, ThreadPoolExecutor(11) as pool:
        first = pool.submit(gate_batcher.embed_query, "0")
        assert gate.first.wait(30)
        futures = [gate_batcher.submit(str(i)) for i in range(1, 11)]
        first.result()
        for f in futures:
            f.result(30)
    assert [len(c) for c in gate.calls] == [1, 4, 4, 2]


def test_an_exception_in_the_model_reaches_every_waiting_caller() -> None:
    failing = True

    def embed(texts: list[str]) -> np.ndarray:
        if failing:
            raise ValueError("the model broke")
        return np.ones((len(texts), 3), np.float32)

    batcher = gated_batcher(embed, 5, window=0.002)
    gate = batcher._embed
    with batcher:
        futures = [batcher.submit("first")]
        assert gate.first.wait(30)
        futures += [batcher.submit(f"q{i}") for i in range(5)]
        for future in futures:
            with pytest.raises(ValueError, match="the model broke"):
                future.result(30)
        assert [len(c) for c in gate.calls] == [1, 5]
        failing = False  # the worker survives a failed batch and serves the next ones
        assert np.array_equal(batcher.embed_query("again"), np.ones(3, np.float32))


def test_a_wrong_number_of_vectors_is_an_error_for_the_callers() -> None:
    with (
        QueryBatcher(lambda texts: np.zeros((0, 3), np.float32)) as batcher,
        pytest.raises(RuntimeError, match="0 vectors for 1 texts"),
    ):
        batcher.embed_query("x")


def test_close_embeds_what_was_queued_then_stops_cleanly() -> None:
    batcher = gated_batcher(lambda texts: np.full((len(texts), 2), len(texts), np.float32), 6, window=0.0)
    gate = batcher._embed
    futures = [batcher.submit("first")]
    assert gate.first.wait(30)
    futures += [batcher.submit(f"q{i}") for i in range(6)]
    batcher.close()
    assert not batcher._worker.is_alive()
    assert all(f.done() and f.exception() is None for f in futures)
    assert sum(len(c) for c in gate.calls) == 7
    assert batcher.closed
    with pytest.raises(RuntimeError, match="closed"):
        batcher.submit("late")
    # A caller that arrives after close still gets its vector, embedded directly.
    assert np.array_equal(batcher.embed_query("late"), np.full(2, 1, np.float32))
    batcher.close()  # idempotent
    assert not any(t.name == "query-batcher" and t is batcher._worker for t in threading.enumerate())


def test_close_with_nothing_queued_returns_at_once() -> None:
    batcher = QueryBatcher(lambda texts: np.zeros((len(texts), 2), np.float32), window=10.0)
    batcher.close(timeout=30)
    assert not batcher._worker.is_alive()
    assert batcher.batches == 0


def test_invalid_options_are_refused() -> None:
    with pytest.raises(ValueError):
        QueryBatcher(lambda texts: np.zeros((len(texts), 2)), window=-1)
    with pytest.raises(ValueError):
        QueryBatcher(lambda texts: np.zeros((len(texts), 2)), max_batch=0)
    with pytest.raises(ValueError):
        QueryBatcher(lambda texts: np.zeros((len(texts), 2)), workers=0)


def test_the_pipeline_embeds_questions_through_its_batcher(
    writable_pipeline: Pipeline, seed_pipeline: Pipeline
) -> None:
    question = "How large is the warehouse at Liège airport?"
    expected = seed_pipeline.ask(question)
    with QueryBatcher(writable_pipeline.embedder.embed) as batcher:
        writable_pipeline.query_batcher = batcher
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(writable_pipeline.ask, [question] * 4))
        retrieval = writable_pipeline.retrieve(question)
    assert batcher.texts == 5
    assert Pipeline.query_batcher is None  # the CLI's pipelines embed directly
    for answer in answers:
        assert answer.answer == expected.answer
        assert [c.doc_id for c in answer.citations] == [c.doc_id for c in expected.citations]
    assert np.allclose(retrieval.query_vector, seed_pipeline.retrieve(question).query_vector, atol=1e-5)


def test_embed_queries_gives_the_vectors_of_embed(embedder: Embedder) -> None:
    texts = [*QUESTIONS, "warehouse " * 400]  # the last one is truncated to the model's window by both
    assert np.allclose(embedder.embed_queries(texts), embedder.embed(texts), atol=1e-5)
    assert embedder.embed_queries([]).shape == (0, embedder.dimension)


def test_embed_queries_does_not_wait_for_an_indexing_call(embedder: Embedder) -> None:
    # An upload being embedded holds the model lock for its whole (possibly long) call; questions go on meanwhile.
    with embedder._lock, ThreadPoolExecutor(1) as pool:
        vector = pool.submit(embedder.embed_queries, [QUESTIONS[0]]).result(timeout=60)
    assert np.allclose(vector[0], embedder.embed_query(QUESTIONS[0]), atol=1e-5)


def test_workers_embed_batches_at_the_same_time() -> None:
    both_running = threading.Barrier(
        2, timeout=30
    )  # broken (an error for the callers) unless two calls overlap

    def embed(texts: list[str]) -> np.ndarray:
        both_running.wait()
        return np.full((len(texts), 2), len(texts), np.float32)

    with QueryBatcher(embed, window=0.0, workers=2) as batcher:
        first = batcher.submit("a")
        deadline = time.monotonic() + 30
        while both_running.n_waiting == 0 and time.monotonic() < deadline:  # "a" is being embedded
            time.sleep(0.001)
        second = batcher.submit("b")
        assert first.result(30).tolist() == [1, 1] and second.result(30).tolist() == [1, 1]
    assert batcher.batches == 2


def test_while_every_worker_is_busy_questions_gather_into_one_batch() -> None:
    release = threading.Event()
    started = threading.Semaphore(0)
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        started.release()
        assert release.wait(30)
        return np.zeros((len(texts), 2), np.float32)

    with QueryBatcher(embed, window=0.0, workers=2) as batcher:
        futures = [batcher.submit("a")]
        assert started.acquire(timeout=30)
        futures.append(batcher.submit("b"))
        assert started.acquire(timeout=30)  # both workers busy: the collector takes nothing more
        futures += [batcher.submit(f"q{i}") for i in range(5)]
        assert batcher._queue.qsize() == 5
        release.set()
        for future in futures:
            future.result(30)
    assert sorted(map(len, calls)) == [1, 1, 5]
    assert not any(t.is_alive() for t in (batcher._worker, *batcher._embedders))
