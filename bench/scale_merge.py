"""Benchmark: adding one document whose write cascades into a merge past RAG_ANN_MIN_CHUNKS (HNSW territory).

Run: .venv/bin/python bench/scale_merge.py [--size 100000] (inputs: the bench/scale.py cache, made if missing)
The store holds 7 synthetic segments in each size tier 0-4 (rows < 8, < 64, < 512, < 4096, < 32768), so
one more small segment merges tier 0 into tier 1, which fills it, and so on up to one merged segment of about
`--size` rows. Timed: that add (update + save), a dense search right after it, then (when HNSW is built in the
background) a second add while the build runs, the time until the HNSW index is swapped in and persisted, a
search after the swap and a reload (whose HNSW index must come from disk).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scale_data import MODEL_ID, prepare_inputs, synthetic_segment
from rag.stores.embedded import DEFAULT_ANN_MIN_CHUNKS, EmbeddedStore
from rag.stores.protocol import ChunkingConfig

try:  # background HNSW builds (absent before they existed: then the build is part of the add)
    from rag.stores import hnsw
except ImportError:  # pragma: no cover - the "before" run
    hnsw = None  # type: ignore[assignment]


def tiers(size: int) -> list[int]:
    """Rows of each of the 7 segments per tier, smallest tier first (each a multiple of 3 chunks)."""
    small = [3, 60, 498, 3000]
    cascade = 7 * sum(small)
    top = (size - cascade) // 7 // 3 * 3
    if not 4096 <= top < 32768:
        raise SystemExit(f"--size {size}: the top tier's segments would have {top} rows (need 4096-32767)")
    return [*small, top]


def dense_p50(store: EmbeddedStore, queries: np.ndarray) -> float:
    """Median milliseconds of a top-10 dense search."""
    times = []
    for q in queries:
        started = time.perf_counter()
        store.dense_search(q, 10)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    """Build the tiered store, add the document that triggers the merge, print the timings as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="rows of the merged segment (about)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "rag-scale-inputs.pkl")
    args = parser.parse_args()
    if not args.cache.is_file():
        prepare_inputs(args.cache, 100)
    inputs = pickle.loads(args.cache.read_bytes())
    segments = []
    for t, rows in enumerate(tiers(args.size)):
        segments += [
            synthetic_segment(rows, inputs, 0, seed=10 * t + i, prefix=f"t{t}s{i}-") for i in range(7)
        ]
    store = EmbeddedStore(
        model_id=MODEL_ID,
        dimension=inputs["dimension"],
        chunking=ChunkingConfig(600, 1),
        roots=[],
        segments=segments,
        ann_min_chunks=DEFAULT_ANN_MIN_CHUNKS,
    )
    queries = inputs["queries"][:50]
    out: dict = {"size": args.size, "segments_before": len(store.segments), "background": hnsw is not None}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "index"
        store.save(folder)
        out["load_avg_before"] = os.getloadavg()[0]
        first = time.perf_counter()
        store = store.update(upsert=[inputs["add"][0]], remove=[])
        out["update_s"] = time.perf_counter() - first  # the merge (and, before, the HNSW build)
        store.save(folder)
        out["add_with_merge_s"] = time.perf_counter() - first
        big = max(store.segments, key=lambda s: len(s.chunks))
        out["merged_rows"], out["segments_after"] = len(big.chunks), len(store.segments)
        out["hnsw_at_commit"] = big.ann is not None
        out["dense_p50_after_add_ms"] = dense_p50(store, queries)
        if hnsw is not None:
            started = time.perf_counter()
            store = store.update(upsert=[inputs["add"][1]], remove=[])
            store.save(folder)
            out["second_add_during_build_s"] = time.perf_counter() - started
            out["hnsw_pending_after_second_add"] = big.ann is None
            hnsw.wait([big])
            out["hnsw_ready_after_first_add_s"] = time.perf_counter() - first
            out["dense_p50_after_swap_ms"] = dense_p50(store, queries)
        started = time.perf_counter()
        loaded = EmbeddedStore.load(folder)
        out["reload_s"] = time.perf_counter() - started
        out["reload_has_hnsw"] = any(s.ann is not None for s in loaded.segments)
        out["load_avg_after"] = os.getloadavg()[0]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
