"""Micro-batching of concurrent single-question embeddings into few model calls (used by `rag serve`)."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Self

import numpy as np


class QueryBatcher:
    """Micro-batches single-query embeddings from concurrent callers into few model calls.

    `embed_query` enqueues the text and waits on a future. A collector thread waits for one of `workers` embed
    threads to be free, takes the first waiting text and everything else that arrives within `window` seconds
    (up to `max_batch` texts), and hands them to that thread, which embeds them with one call of `embed` and
    resolves each caller's future with its row; an exception from `embed` is raised in every caller of that
    batch. While every embed thread is busy, questions gather in the queue, so batches grow with the load. With
    several workers (and an `embed` that does not serialise its calls, such as `Embedder.embed_queries`), one
    batch is embedded while the next gathers, each pass on its own core. Alone, a query waits at most `window`
    more. `close()` embeds what was queued and stops the threads.
    """

    def __init__(
        self,
        embed: Callable[[list[str]], np.ndarray],
        *,
        window: float = 0.003,
        max_batch: int = 64,
        workers: int = 1,
    ) -> None:
        if window < 0 or max_batch < 1 or workers < 1:
            raise ValueError("window must be >= 0, max_batch and workers >= 1")
        self._embed = embed
        self.window = window
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[str, Future[np.ndarray]] | None] = queue.SimpleQueue()
        self._batches: queue.SimpleQueue[list[tuple[str, Future[np.ndarray]]] | None] = queue.SimpleQueue()
        self._free = threading.Semaphore(workers)  # embed threads not busy with a batch
        self._closed = False
        self._close_lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self.batches = 0  # model calls made
        self.texts = 0  # texts embedded through them
        self.largest = 0  # most texts in one call
        self._embedders = [
            threading.Thread(target=self._embed_batches, name="query-embed", daemon=True)
            for _ in range(workers)
        ]
        self._worker = threading.Thread(target=self._run, name="query-batcher", daemon=True)
        for thread in (*self._embedders, self._worker):
            thread.start()

    @property
    def closed(self) -> bool:
        """True once `close()` was called."""
        return self._closed

    def submit(self, text: str) -> Future[np.ndarray]:
        """Queue one text; the future resolves to its (dimension,) vector. RuntimeError once closed."""
        future: Future[np.ndarray] = Future()
        with self._close_lock:
            if self._closed:
                raise RuntimeError("the query batcher is closed")
            self._queue.put((text, future))
        return future

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one query as a (dimension,) unit vector, batched with whatever else is waiting (embedded
        directly, on its own, once the batcher is closed)."""
        try:
            future = self.submit(text)
        except RuntimeError:
            return self._embed([text])[0]
        return future.result()

    def close(self, timeout: float | None = 10.0) -> None:
        """Stop taking texts, embed those already queued, and wait for the threads to exit (idempotent)."""
        with self._close_lock:
            if not self._closed:
                self._closed = True
                self._queue.put(None)
        if self._worker is not threading.current_thread():
            self._worker.join(timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            self._free.acquire()  # wait for an idle embed thread; meanwhile questions gather in the queue
            item = self._queue.get()
            if item is None:
                self._free.release()
                break
            batch = [item]
            deadline = time.monotonic() + self.window
            while len(batch) < self.max_batch:
                remaining = deadline - time.monotonic()
                try:
                    item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:  # closing: embed this batch, then whatever else is left, then stop
                    stopping = True
                    break
                batch.append(item)
            self._batches.put(batch)
        leftover: list[tuple[str, Future[np.ndarray]]] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                leftover.append(item)
        for start in range(0, len(leftover), self.max_batch):
            self._free.acquire()
            self._batches.put(leftover[start : start + self.max_batch])
        for _ in self._embedders:
            self._batches.put(None)
        for thread in self._embedders:
            thread.join()

    def _embed_batches(self) -> None:
        while (batch := self._batches.get()) is not None:
            try:
                self._process(batch)
            finally:
                self._free.release()

    def _process(self, batch: list[tuple[str, Future[np.ndarray]]]) -> None:
        live = [(text, future) for text, future in batch if future.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            vectors = self._embed([text for text, _ in live])
            if len(vectors) != len(live):
                raise RuntimeError(f"the model returned {len(vectors)} vectors for {len(live)} texts")
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller, who re-raises it
            for _, future in live:
                future.set_exception(exc)
            return
        with self._stats_lock:
            self.batches += 1
            self.texts += len(live)
            self.largest = max(self.largest, len(live))
        for i, (_, future) in enumerate(live):
            future.set_result(vectors[i])
