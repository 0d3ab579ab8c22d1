"""Benchmark: the embedded store at 10k, 100k and 1M chunks, exact and approximate (HNSW), and Milvus Lite.

Run: .venv/bin/python bench/scale.py [--sizes 10000,100000] [--modes exact,hnsw,milvus] [--queries 100]
For each size and mode: time to build the synthetic store (and its HNSW index), save it, load it, resident memory
of the loaded store, add one document (store update + save; the document was embedded beforehand: embedding one
SciFact abstract is timed once, on its own, as it does not depend on the index size), delete one, and search
p50/p95 (dense top 10, keyword top 10, hybrid with the configured fusion), with HNSW recall@10 against exact search.

Synthetic data (built without the model, no sentence vectors): each chunk's vector is a normalised mix of two
embedded SciFact chunks plus noise; its text is SciFact words drawn by their corpus frequency, and its BM25 terms
are those words' stems (so no tokenising of a million texts). Queries are real SciFact queries. Each size and mode
runs in fresh processes (build + save, then load + measure) so memory figures are the loaded store's alone
(with Milvus Lite: this process and the Milvus Lite server process it starts). Milvus Lite is filled 256
documents per write, as `rag migrate` does (bench/scale_milvus.py); its search is exact (FLAT).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scale_data import MODEL_ID, prepare_inputs, synthetic_segment
from rag.fusion import Fusion, FusionMethod
from rag.settings import Settings
from rag.stores.embedded import EmbeddedStore
from rag.stores.protocol import ChunkingConfig, Store


def rss_mb() -> float:
    """Resident memory of this process and its children (Milvus Lite's server process) in MiB."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    tree, todo = set(), [os.getpid()]
    while todo:
        pid = todo.pop()
        tree.add(pid)
        todo += [c for c, p in parents.items() if p == pid and c not in tree]
    total = 0.0
    for pid in tree:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
    return total


def percentiles(times: list[float]) -> tuple[float, float]:
    """(p50, p95) in milliseconds."""
    ms = sorted(t * 1000 for t in times)
    return statistics.median(ms), ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]


def build(size: int, mode: str, cache: Path, folder: Path) -> dict:
    """Worker 1: build the store, save it."""
    inputs = pickle.loads(cache.read_bytes())
    if mode == "milvus":
        from bench import scale_milvus

        return scale_milvus.build(size, inputs, folder)
    threshold = size if mode == "hnsw" else 0
    chunking = ChunkingConfig(600, 1)
    started = time.perf_counter()
    segment = synthetic_segment(size, inputs, 0)
    data_s = time.perf_counter() - started
    started = time.perf_counter()
    segment.ensure_ann(threshold)
    ann_s = time.perf_counter() - started
    store = EmbeddedStore(
        model_id=MODEL_ID,
        dimension=inputs["dimension"],
        chunking=chunking,
        roots=[],
        segments=[segment],
        ann_min_chunks=threshold,
    )
    started = time.perf_counter()
    store.save(folder)
    return {"data_s": data_s, "ann_s": ann_s, "save_s": time.perf_counter() - started}


def measure(size: int, mode: str, cache: Path, folder: Path) -> dict:
    """Worker 2: load the saved store, then time searches, one add and one delete."""
    inputs = pickle.loads(cache.read_bytes())
    threshold = size if mode == "hnsw" else 0
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    if mode == "milvus":
        from bench import scale_milvus

        store: Store = scale_milvus.load(folder)
    else:
        store = EmbeddedStore.load(folder, ann_min_chunks=threshold)
    out: dict = {
        "load_s": time.perf_counter() - started,
        "rss_mb": rss_mb() - before,
        "rss_total_mb": rss_mb(),
    }
    settings = Settings(_env_file=None)
    fusion = Fusion(
        FusionMethod(settings.fusion),
        settings.dense_weight,
        settings.bm25_weight,
        settings.rrf_k,
        settings.candidates,
    )
    queries, tokens = inputs["queries"], inputs["query_tokens"]
    searches = {
        "dense": lambda q, t: store.dense_search(q, 10),
        "keyword": lambda q, t: store.keyword_search(t, 10),
        "hybrid": lambda q, t: store.hybrid_search(q, t, fusion),
    }
    for name, run in searches.items():
        run(queries[0], tokens[0])  # warm-up
        times = []
        for q, t in zip(queries, tokens):
            started = time.perf_counter()
            run(q, t)
            times.append(time.perf_counter() - started)
        out[f"{name}_p50_ms"], out[f"{name}_p95_ms"] = percentiles(times)
    out["rss_after_search_mb"] = rss_mb() - before
    if mode == "hnsw":
        hits = []
        for q in queries:
            approx = {r for r, _ in store.dense_search(q, 10)}
            exact = {r for r, _ in store.dense_search(q, 10, exact=True)}
            hits.append(len(approx & exact) / 10)
        out["recall_at_10"] = float(np.mean(hits))
    adds, deletes = [], []
    for prepared in inputs["add"][:5]:
        started = time.perf_counter()
        store = store.update(upsert=[prepared], remove=[])
        store.save(folder)
        adds.append(time.perf_counter() - started)
    for i in range(5):
        started = time.perf_counter()
        store = store.update(upsert=[], remove=[f"syn-{i * 3 * 997}"])
        store.save(folder)
        deletes.append(time.perf_counter() - started)
    out["add_s"] = statistics.median(adds)
    out["delete_s"] = statistics.median(deletes)
    out["segments_after"] = len(getattr(store, "segments", ()))
    return out


def worker(args: argparse.Namespace) -> None:
    """Run one worker step and print its JSON result."""
    step, size, mode = args.worker
    if args.faiss_threads:
        faiss.omp_set_num_threads(args.faiss_threads)
    run = build if step == "build" else measure
    print(json.dumps(run(int(size), mode, args.cache, args.folder)))


def main() -> None:
    """Measure every size and mode in fresh processes and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="chunk counts, comma-separated (1000000 too)")
    parser.add_argument("--modes", default="exact,hnsw", help="exact, hnsw, milvus (comma-separated)")
    parser.add_argument("--queries", type=int, default=100, help="SciFact queries to time (default 100)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "rag-scale-inputs.pkl")
    parser.add_argument(
        "--faiss-threads", type=int, default=0, help="OpenMP threads for FAISS (default: its own choice)"
    )
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    if not args.cache.is_file():
        prepare_inputs(args.cache, args.queries)
    embed_one = pickle.loads(args.cache.read_bytes())["embed_one_s"]
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        for mode in args.modes.split(","):
            with tempfile.TemporaryDirectory() as tmp:
                row = {"size": size, "mode": mode}
                for step in ("build", "measure"):
                    command = [sys.executable, __file__, "--worker", step, str(size), mode]
                    command += ["--cache", str(args.cache), "--folder", str(Path(tmp) / "index")]
                    command += ["--faiss-threads", str(args.faiss_threads)]
                    done = subprocess.run(command, check=True, capture_output=True, text=True)
                    row |= json.loads(done.stdout.strip().splitlines()[-1])
                row["load_avg"] = os.getloadavg()[0]
            results.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print(f"embedding one SciFact abstract (chunks and sentences): {embed_one * 1000:.0f} ms\n")
    print(
        "| chunks | search | build s (HNSW s) | save s | load s | RSS MiB | add one s | delete one s "
        "| dense p50/p95 ms | keyword p50/p95 ms | hybrid p50/p95 ms | recall@10 | load avg |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        recall = f"{r['recall_at_10']:.3f}" if "recall_at_10" in r else "exact"
        print(
            f"| {r['size']:,} | {r['mode']} | {r['data_s']:.1f} ({r['ann_s']:.1f}) | {r['save_s']:.2f} "
            f"| {r['load_s']:.2f} | {r['rss_mb']:.0f} | {r['add_s']:.3f} | {r['delete_s']:.3f} "
            f"| {r['dense_p50_ms']:.1f}/{r['dense_p95_ms']:.1f} | {r['keyword_p50_ms']:.1f}/{r['keyword_p95_ms']:.1f} "
            f"| {r['hybrid_p50_ms']:.1f}/{r['hybrid_p95_ms']:.1f} | {recall} | {r['load_avg']:.1f} |"
        )


if __name__ == "__main__":
    main()
