"""Multi-process encoding (RAG_ENCODE_PROCESSES): same vectors as in-process, and a dead worker loses nothing."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from rag.embedding import POOL_MIN_BATCHES, Embedder
from rag.encode_pool import EncodePool
from rag.pipeline import Pipeline
from rag.settings import Settings
from tests.conftest import CORPUS, make_settings, run_rag

WORDS = [
    "warehouse",
    "Liège",
    "airport",
    "Alibaba",
    "Cainiao",
    "logistics",
    "Europe",
    "parcels",
    "customers",
    "overseas",
    "expansion",
]


def texts(n: int) -> list[str]:
    """`n` distinct texts of varied length (a few words to a paragraph)."""
    return [
        " ".join(WORDS[(i + j) % len(WORDS)] for j in range(3 + (i * 7) % 60)) + f" #{i}" for i in range(n)
    ]


@pytest.fixture(scope="module")
def pooled() -> Iterator[Embedder]:
    """An embedder that encodes large calls in two worker processes."""
    embedder = Embedder(processes=2)
    yield embedder
    embedder.close()


def test_pool_gives_the_in_process_vectors(pooled: Embedder, embedder: Embedder) -> None:
    batch = texts(2 * pooled.batch_size * POOL_MIN_BATCHES + 5)
    environ = {name: os.environ.get(name) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}

    small = pooled.embed(batch[:10])
    assert pooled.pool is not None and not pooled.pool.started  # small calls stay in this process
    vectors = pooled.embed(batch)

    assert pooled.pool is not None and len(pooled.pool.pids) == 2
    assert all(pid != os.getpid() for pid in pooled.pool.pids)
    assert vectors.shape == (len(batch), embedder.dimension) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, embedder.embed(batch), atol=1e-5)
    np.testing.assert_allclose(small, vectors[:10], atol=1e-5)
    # the workers' thread counts were passed through the environment, which is restored afterwards
    assert {name: os.environ.get(name) for name in environ} == environ


def test_workers_stop_on_the_sentinel_not_a_signal(embedder: Embedder) -> None:
    """Each worker loads the model from its folder and, at close, leaves its loop and exits by itself."""
    pool = EncodePool(embedder.model_path, 2)
    batch = texts(40)
    np.testing.assert_allclose(pool.encode(batch, 8), embedder.embed(batch), atol=1e-5)
    pool.close()
    assert pool.exit_codes == [0, 0] and not pool.started and pool.pids == []


def test_a_model_the_workers_cannot_load_fails_the_call_clearly(tmp_path: Path) -> None:
    pool = EncodePool(str(tmp_path), 2)
    with pytest.raises(RuntimeError, match="could not load the model"):
        pool.encode(texts(10), 8)
    assert not pool.started and pool.pids == []


def test_a_worker_found_dead_is_replaced(pooled: Embedder, embedder: Embedder) -> None:
    batch = texts(2 * pooled.batch_size * POOL_MIN_BATCHES + 9)
    pooled.embed(batch)  # the pool is running
    assert pooled.pool is not None
    before = pooled.pool.pids
    os.kill(before[0], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while pooled.pool.healthy and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pooled.pool.healthy

    vectors = pooled.embed(batch[::-1])

    np.testing.assert_allclose(vectors, embedder.embed(batch[::-1]), atol=1e-5)
    assert pooled.pool is not None and len(pooled.pool.pids) == 2
    assert before[0] not in pooled.pool.pids


def test_workers_dying_mid_call_lose_nothing(pooled: Embedder, embedder: Embedder) -> None:
    batch = texts(2 * pooled.batch_size * POOL_MIN_BATCHES + 50)
    assert pooled.pool is not None
    pool = pooled.pool
    pool.close()  # the next call starts the workers, and they are killed while it waits for them

    def kill_workers() -> None:
        deadline = time.monotonic() + 60
        while not pool.pids and time.monotonic() < deadline:
            time.sleep(0.01)
        for pid in pool.pids:
            os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_workers)
    killer.start()
    vectors = pooled.embed(batch)
    killer.join()

    np.testing.assert_allclose(vectors, embedder.embed(batch), atol=1e-5)
    assert pooled.pool is None  # encoded in this process, and the broken pool is not used again


class Steps:
    """An IndexProgress that keeps the embedding steps it is told."""

    def __init__(self) -> None:
        self.embedded: list[tuple[str, int, int]] = []

    def reading(self, files: int) -> None:
        pass

    def read(self, documents: int, failures: int) -> None:
        pass

    def embedding(self, kind: str, done: int, total: int) -> None:
        self.embedded.append((kind, done, total))


def test_indexing_with_progress_feeds_the_pool(tmp_path: Path, embedder: Embedder) -> None:
    # rag index reports progress, so it embeds in steps: the steps must be big enough for the pool to take them
    pipeline = Pipeline(make_settings(tmp_path, encode_processes=2))
    steps = Steps()
    try:
        pipeline.index([CORPUS], progress=steps)
        pool = pipeline.embedder.pool
        assert pool is not None and pool.started
        sentences = [s for s in steps.embedded if s[0] == "sentences"]
        assert sentences[-1][2] >= pipeline.embedder.bulk_size  # the seed corpus has enough sentences
        in_process = Pipeline(make_settings(tmp_path / "one"), embedder=embedder)
        in_process.index([CORPUS])
        question = "How large is the warehouse at Liège airport?"
        assert [p.chunk.chunk_id for p in pipeline.search(question)] == [
            p.chunk.chunk_id for p in in_process.search(question)
        ]
    finally:
        pipeline.close()
    assert pipeline.embedder.pool is not None and not pipeline.embedder.pool.started


def test_rag_index_with_processes_ends_cleanly(tmp_path: Path) -> None:
    done = run_rag(["index", str(CORPUS)], tmp_path, extra_env={"RAG_ENCODE_PROCESSES": "2"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "5 documents" in done.stdout + done.stderr
    assert "Warning" not in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]


def test_processes_setting_is_bounded() -> None:
    assert Settings(_env_file=None).encode_processes == 1
    with pytest.raises(ValidationError):
        Settings(_env_file=None, encode_processes=0)
