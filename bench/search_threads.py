"""Benchmark: dense search p50 from the main thread and from a worker thread (as a server searches).

Run: .venv/bin/python bench/search_threads.py [--size 50000] (inputs: the bench/scale.py cache, made if missing)
FAISS's OpenMP thread count is a per-thread setting, so a search from a thread that never set it runs on every
core; this times an exact top-10 search over one synthetic segment of `--size` rows from both kinds of thread.
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scale_data import MODEL_ID, prepare_inputs, synthetic_segment
from rag.stores.embedded import EmbeddedStore
from rag.stores.protocol import ChunkingConfig


def main() -> None:
    """Print the p50 of each kind of thread, twice, with the load average."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=50_000, help="rows of the segment (exact search)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "rag-scale-inputs.pkl")
    args = parser.parse_args()
    if not args.cache.is_file():
        prepare_inputs(args.cache, 100)
    inputs = pickle.loads(args.cache.read_bytes())
    segment = synthetic_segment(args.size, inputs, 0)
    store = EmbeddedStore(
        model_id=MODEL_ID,
        dimension=inputs["dimension"],
        chunking=ChunkingConfig(600, 1),
        roots=[],
        segments=[segment],
        ann_min_chunks=0,
    )

    def run(label: str) -> None:
        store.dense_search(inputs["queries"][0], 10)
        times = []
        for query in inputs["queries"]:
            started = time.perf_counter()
            store.dense_search(query, 10)
            times.append(time.perf_counter() - started)
        p50 = statistics.median(times) * 1000
        print(f"{label}: dense p50 {p50:.2f} ms (load avg {os.getloadavg()[0]:.2f})", flush=True)

    for _ in range(2):
        run("main thread")
        worker = threading.Thread(target=run, args=("worker thread",))
        worker.start()
        worker.join()


if __name__ == "__main__":
    main()
