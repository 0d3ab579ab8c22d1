"""HNSW indexes of large segments, and the background thread that builds them off the write path.

A write whose merge produces a segment of `ann_min_chunks` rows or more commits at once, with that segment
searched exactly (FAISS knn over its vectors); its HNSW index is built here on one background thread, swapped
in (searches use it from then on) and written into each saved copy of the segment as `hnsw.faiss` (a temporary
file, fsync, `os.replace`, under the index's write lock), so a reload reads it instead of building it again.
A crash during the build or the write leaves the committed segment as it was, searched exactly, and whichever
process next loads it builds the index again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import faiss
import numpy as np

from rag.stores.locking import fsync_dir, write_lock

if TYPE_CHECKING:
    from rag.stores.segment import Segment

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
# efSearch grows with the segment: at a fixed efSearch, recall falls as the graph grows (bench/scale_ef.py on
# synthetic SciFact-like vectors: recall@10 0.963 at 100k rows with 128, but 0.747 at 1M, where 1024 gives 0.959
# in 3.2 ms p50). One candidate per this many rows keeps 1M at about 1000 and 100k at the floor of 128.
ROWS_PER_EF = 1000
ANN_FILE = "hnsw.faiss"

log = logging.getLogger(__name__)
_jobs: queue.SimpleQueue[weakref.ref[Segment]] = queue.SimpleQueue()
_lock = threading.Lock()
_released = threading.Event()  # cleared while `held`
_released.set()
_holds = 0
_worker: threading.Thread | None = None


def ef_search(rows: int, k: int) -> int:
    """efSearch for a top-`k` search of a segment of `rows` rows: at least `k`, and more as the segment grows."""
    return max(HNSW_EF_SEARCH, k, rows // ROWS_PER_EF)


def build(vectors: np.ndarray) -> faiss.Index:
    """An HNSW inner-product index of `vectors` (a bulk build: it uses every core while it runs)."""
    index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    try:
        index.add(vectors)
    finally:
        faiss.omp_set_num_threads(previous)  # the thread's own setting back (torch may share it)
    return index


def schedule(segment: Segment) -> None:
    """Queue a background build of the segment's HNSW index (nothing if it has one or one is queued)."""
    global _worker
    with _lock:
        if segment.ann is not None or segment.ann_pending is not None:
            return
        segment.ann_pending = threading.Event()
        _jobs.put(weakref.ref(segment))
        if _worker is None or not _worker.is_alive():
            # A daemon: a process that exits mid-build loses only the build; the next loader redoes it.
            _worker = threading.Thread(target=_work, name="rag-hnsw-build", daemon=True)
            _worker.start()


def wait(segments: Iterable[Segment], timeout: float | None = None) -> bool:
    """Wait until no build of these segments is queued or running; False if `timeout` seconds passed first.
    (Never call it inside `held`: the builds it waits for would not start.)"""
    for segment in segments:
        pending = segment.ann_pending
        if pending is not None and not pending.wait(timeout):
            return False
    return True


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Builds queued while the block runs start when it ends (a build already running goes on): for a batch
    of writes whose merges would otherwise build indexes of segments merged again soon after."""
    global _holds
    with _lock:
        _holds += 1
        _released.clear()
    try:
        yield
    finally:
        with _lock:
            _holds -= 1
            if not _holds:
                _released.set()


def _work() -> None:
    while True:
        ref = _jobs.get()
        _released.wait()
        segment = ref()
        if segment is None:  # merged away or dropped before its turn: nobody searches it
            continue
        try:
            index = _saved_index(segment) or build(segment.vectors)
            segment.ann = index  # the swap: searches from now on are approximate
            for folder in list(segment.folders):
                _persist(folder, index)
        except Exception:  # the segment stays exact and correct; the next load retries
            log.exception("HNSW build of segment %s failed; it is searched exactly", segment.name)
        finally:
            pending, segment.ann_pending = segment.ann_pending, None
            if pending is not None:
                pending.set()
            del segment


def _saved_index(segment: Segment) -> faiss.Index | None:
    """The segment's index as another process saved it since this one loaded the segment, if any."""
    for folder in list(segment.folders):
        if (folder / ANN_FILE).is_file():
            return faiss.read_index(str(folder / ANN_FILE))
    return None


def _persist(folder: Path, index: faiss.Index) -> None:
    """Add `hnsw.faiss` to a committed segment folder, atomically; nothing if it is gone or has one."""
    # Only the whole index gone skips the lock (no lock file to create). The segment folder itself is checked
    # under the lock: a save in progress renames it into place only after the build may have finished.
    if not folder.parents[1].is_dir():
        return
    with write_lock(folder.parents[1]):  # no save or prune of this index runs meanwhile
        if not (folder / "segment.json").is_file() or (folder / ANN_FILE).is_file():
            return
        staging = folder / f".{ANN_FILE}.tmp"
        faiss.write_index(index, str(staging))
        with open(staging, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(staging, folder / ANN_FILE)
        fsync_dir(folder)
