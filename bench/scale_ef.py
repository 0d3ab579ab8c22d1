"""Benchmark: HNSW recall@10 against exact search, and dense search time, over efSearch on a synthetic segment.

Run: .venv/bin/python bench/scale_ef.py [--size 1000000] [--ef 64,128,256,512,1024]
(inputs: the bench/scale.py cache, made if missing). Builds one synthetic segment of `--size` chunks as
bench/scale.py does, its HNSW index with the shipped M and efConstruction, then for each efSearch times the
top-10 search of every query (p50/p95, one FAISS thread) and compares it with the exact top 10.
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scale_data import prepare_inputs, synthetic_segment
from rag.stores import hnsw
from rag.stores.segment import one_omp_thread


def main() -> None:
    """Build, sweep, print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--ef", default="64,128,256,512,1024", help="efSearch values, comma-separated")
    # (the store picks efSearch with rag.stores.hnsw.ef_search: 1000 at 1M rows)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/rag-scale-inputs.pkl"))
    args = parser.parse_args()
    if not args.cache.exists():
        prepare_inputs(args.cache, args.queries)
    inputs = pickle.loads(args.cache.read_bytes())
    queries = np.asarray(inputs["queries"][: args.queries], np.float32)
    segment = synthetic_segment(args.size, inputs, 0)
    started = time.perf_counter()
    index = hnsw.build(segment.vectors)
    build_s = time.perf_counter() - started
    with one_omp_thread():
        _, exact = faiss.knn(queries, segment.vectors, 10, metric=faiss.METRIC_INNER_PRODUCT)
    print(
        f"{args.size:,} chunks, M {hnsw.HNSW_M}, efConstruction {hnsw.HNSW_EF_CONSTRUCTION}, HNSW build "
        f"{build_s:.0f} s, {len(queries)} queries, load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| efSearch | recall@10 | dense p50/p95 ms |\n|---:|---:|---:|")
    for ef in (int(x) for x in args.ef.split(",")):
        params = faiss.SearchParametersHNSW(efSearch=ef)
        times, hits = [], []
        with one_omp_thread():
            for q, truth in zip(queries, exact):
                started = time.perf_counter()
                _, rows = index.search(q.reshape(1, -1), 10, params=params)
                times.append((time.perf_counter() - started) * 1000)
                hits.append(len(set(rows[0]) & set(truth)) / 10)
        times.sort()
        p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
        print(
            f"| {ef} | {statistics.mean(hits):.3f} | {statistics.median(times):.1f}/{p95:.1f} |", flush=True
        )


if __name__ == "__main__":
    main()
