"""Multi-process encoding for large indexing batches: sentence-transformers' process pool, cores shared out."""

from __future__ import annotations

import logging
import os
import threading
from multiprocessing import resource_tracker
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# Read by torch (OpenMP, MKL) when a worker process starts: each worker gets its share of the cores instead of
# all of them, so `processes` workers do not oversubscribe the machine.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
_environ_lock = threading.Lock()
_TRACKER_FILTER = "ignore:resource_tracker:UserWarning"

# The options every `SentenceTransformer.encode` call of the embedder uses, in this process or in the pool: the
# two paths must give the same vectors (numpy rows, L2-normalised).
UNIT_VECTORS: dict[str, Any] = {"convert_to_numpy": True, "normalize_embeddings": True}


def available_cores() -> int:
    """The number of CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class EncodePool:
    """`processes` worker processes, each with a copy of the model and `threads` torch threads.

    Built on sentence-transformers' `start_multi_process_pool` (spawned processes, one input and one output
    queue) with CPU devices. Started on first use, since each worker imports torch and receives the model (a few
    seconds), and stopped by `close()`. The workers are daemons: they end with this process in any case. A
    worker found dead when a call begins gets the pool started again; one that dies during a call makes
    `encode` raise (sentence-transformers checks for dead workers while it waits) and stops the pool, and the
    caller decides what to do instead.
    """

    def __init__(self, model: Any, processes: int, threads: int | None = None) -> None:
        if processes < 2:
            raise ValueError("an encode pool needs at least 2 processes")
        self._model = model
        self.processes = processes
        self.threads = threads or max(1, available_cores() // processes)
        self._pool: dict[str, Any] | None = None
        self._lock = threading.Lock()  # one batch at a time: the queues carry no caller identity

    @property
    def started(self) -> bool:
        """Whether the worker processes are running."""
        return self._pool is not None

    @property
    def pids(self) -> list[int]:
        """Process ids of the running workers (empty before the first `encode` and after `close`)."""
        return [] if self._pool is None else [p.pid for p in self._pool["processes"]]

    @property
    def healthy(self) -> bool:
        """Whether every worker is alive (True before the first `encode` and after `close`: none is running)."""
        return self._pool is None or all(p.is_alive() for p in self._pool["processes"])

    def encode(self, texts: list[str], batch_size: int, progress: bool = False) -> np.ndarray:
        """Unit vectors of `texts` (rows in order), the texts split into chunks shared by the workers."""
        with self._lock:
            if not self.healthy:
                log.warning("an encoding process has died; starting the pool again")
                self._stop()
            if self._pool is None:
                self._pool = self._start()
            try:
                vectors = self._model.encode(
                    texts, pool=self._pool, batch_size=batch_size, show_progress_bar=progress, **UNIT_VECTORS
                )
            except BaseException:
                self._stop()
                raise
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def close(self) -> None:
        """Stop the worker processes (idempotent); a later `encode` starts new ones."""
        with self._lock:
            self._stop()

    def _start(self) -> dict[str, Any]:
        log.info("starting %d encoding processes, %d threads each", self.processes, self.threads)
        with _environ_lock:  # the workers inherit the environment as it is when they are spawned
            saved = {name: os.environ.get(name) for name in (*_THREAD_VARIABLES, "PYTHONWARNINGS")}
            os.environ.update({name: str(self.threads) for name in _THREAD_VARIABLES})
            # After a pool has encoded and been stopped (its workers get SIGTERM), Python's resource tracker
            # reports "leaked semaphore objects" at exit (it removes them anyway): a UserWarning at the end of
            # every `rag index`. The tracker process, started here if not yet running, inherits a filter for
            # that warning alone; any filters already set are kept.
            os.environ["PYTHONWARNINGS"] = ",".join(filter(None, (saved["PYTHONWARNINGS"], _TRACKER_FILTER)))
            resource_tracker.ensure_running()
            try:
                return self._model.start_multi_process_pool(["cpu"] * self.processes)
            finally:
                for name, value in saved.items():  # thread counts and warning filter as they were
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value

    def _stop(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            self._model.stop_multi_process_pool(pool)
