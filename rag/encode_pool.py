"""Multi-process encoding for large indexing batches: worker processes that each load the model from its folder."""

from __future__ import annotations

import logging
import math
import multiprocessing as mp
import os
import queue
import threading
import time
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# Read by torch (OpenMP, MKL) when a worker process starts: each worker gets its share of the cores instead of
# all of them, so `processes` workers do not oversubscribe the machine.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
_environ_lock = threading.Lock()
START_TIMEOUT = 600.0  # seconds for every worker to import torch and load the model
STOP_TIMEOUT = 10.0  # seconds a worker gets to finish after its stop sentinel before it is terminated
_POLL = 0.2  # seconds between checks that the workers are alive while waiting for them
_CHUNKS_PER_PROCESS = 4  # pieces a call is cut into per worker, so a fast worker takes more of them

# The options every `SentenceTransformer.encode` call of the embedder uses, in this process or in the pool: the
# two paths must give the same vectors (numpy rows, L2-normalised).
UNIT_VECTORS: dict[str, Any] = {"convert_to_numpy": True, "normalize_embeddings": True}


def available_cores() -> int:
    """The number of CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _work(model_path: str, threads: int, inbox: Any, outbox: Any) -> None:
    """A worker process: load the model, then encode (key, texts, batch size) jobs until the None sentinel."""
    try:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # as the embedder does: no loading bars on the user's terminal
        hf_logging.set_verbosity_error()
        torch.set_num_threads(threads)
        model = SentenceTransformer(model_path, device="cpu", local_files_only=True)
        model.eval()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which gives up on the pool
        outbox.put(("failed", os.getpid(), f"{exc.__class__.__name__}: {exc}"))
        return
    outbox.put(("ready", os.getpid(), None))
    while (job := inbox.get()) is not None:
        key, texts, batch_size = job
        vectors = model.encode(texts, batch_size=batch_size, show_progress_bar=False, **UNIT_VECTORS)
        outbox.put((key, os.getpid(), np.ascontiguousarray(vectors, dtype=np.float32)))


class EncodePool:
    """`processes` worker processes, each loading the model from `model_path` with `threads` torch threads.

    Spawned processes sharing one job queue and one result queue. They start together on first use, each
    importing torch and reading the model folder itself (so starting N costs about the time of one), and stop
    on a sentinel at `close()`. The workers are daemons: they end with this process in any case. A worker found
    dead when a call begins gets the pool started again; one that dies during a call (or while starting) makes
    `encode` raise and stops the pool, and the caller decides what to do instead.
    """

    def __init__(self, model_path: str, processes: int, threads: int | None = None) -> None:
        if processes < 2:
            raise ValueError("an encode pool needs at least 2 processes")
        self.model_path = model_path
        self.processes = processes
        self.threads = threads or max(1, available_cores() // processes)
        self._workers: list[Any] = []
        self._inbox: Any = None
        self._outbox: Any = None
        self._started = False
        self.exit_codes: list[int | None] = []  # of the workers the last stop ended (0: left on the sentinel)
        self._lock = (
            threading.Lock()
        )  # one call at a time; a failed call stops the pool, so no result is stale

    @property
    def started(self) -> bool:
        """Whether the worker processes are running."""
        return self._started

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers (from the moment they are spawned; empty after `close`)."""
        return [p.pid for p in self._workers if p.pid is not None]

    @property
    def healthy(self) -> bool:
        """Whether every worker is alive (True before the first `encode` and after `close`: none is running)."""
        return all(p.is_alive() for p in self._workers)

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Unit vectors of `texts` (rows in order), the texts cut into pieces the workers share (callers that
        report progress embed in steps)."""
        with self._lock:
            if not self.healthy:
                log.warning("an encoding process has died; starting the pool again")
                self._stop()
            try:
                if not self._started:
                    self._start()
                return self._run(texts, batch_size)
            except BaseException:
                self._stop()
                raise

    def close(self) -> None:
        """Stop the worker processes (idempotent); a later `encode` starts new ones."""
        with self._lock:
            self._stop()

    def _start(self) -> None:
        log.info("starting %d encoding processes, %d threads each", self.processes, self.threads)
        started = time.monotonic()
        context = mp.get_context("spawn")
        self._inbox, self._outbox = context.Queue(), context.Queue()
        with _environ_lock:  # the workers inherit the environment as it is when they are spawned
            saved = {name: os.environ.get(name) for name in _THREAD_VARIABLES}
            os.environ.update({name: str(self.threads) for name in _THREAD_VARIABLES})
            try:
                for _ in range(self.processes):
                    worker = context.Process(
                        target=_work,
                        args=(self.model_path, self.threads, self._inbox, self._outbox),
                        name="rag-encode",
                        daemon=True,
                    )
                    worker.start()
                    self._workers.append(worker)
            finally:
                for name, value in saved.items():  # thread counts as they were
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value
        ready = 0
        while ready < self.processes:
            status, pid, detail = self._next(started + START_TIMEOUT)
            if status == "failed":
                raise RuntimeError(f"encoding process {pid} could not load the model: {detail}")
            ready += status == "ready"
        self._started = True
        log.info("encoding processes ready in %.1f s", time.monotonic() - started)

    def _run(self, texts: list[str], batch_size: int) -> np.ndarray:
        size = max(batch_size, math.ceil(len(texts) / (self.processes * _CHUNKS_PER_PROCESS)))
        starts = range(0, len(texts), size)
        for start in starts:
            self._inbox.put((start, texts[start : start + size], batch_size))
        pieces: dict[int, np.ndarray] = {}
        while len(pieces) < len(starts):
            start, _, vectors = self._next(None)
            pieces[start] = vectors
        return np.concatenate([pieces[start] for start in starts])

    def _next(self, deadline: float | None) -> tuple:
        """The next message from the workers; raises when a worker has died or the deadline has passed."""
        while True:
            try:
                return self._outbox.get(timeout=_POLL)
            except queue.Empty:
                if not self.healthy:
                    raise RuntimeError("an encoding process died") from None
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError("the encoding processes did not start in time") from None

    def _stop(self) -> None:
        workers, self._workers, self._started = self._workers, [], False
        for worker in workers:
            if worker.is_alive():
                self._inbox.put(None)
        for worker in workers:
            worker.join(STOP_TIMEOUT)
            if worker.is_alive():
                log.warning(
                    "encoding process %s did not stop in %.0f s; terminating it", worker.pid, STOP_TIMEOUT
                )
                worker.terminate()
                worker.join()
        self.exit_codes = [worker.exitcode for worker in workers]
        for channel in (self._inbox, self._outbox):
            if channel is not None:  # jobs nobody will read are dropped, not waited for
                channel.cancel_join_thread()
                channel.close()
        self._inbox = self._outbox = None
