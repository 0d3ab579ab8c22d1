"""Benchmark: the embedded store at 10k, 100k and 1M chunks, exact and approximate (HNSW).

Run: .venv/bin/python bench/scale.py [--sizes 10000,100000,1000000] [--modes exact,hnsw] [--queries 100]
For each size and mode: time to build the synthetic store (and its HNSW index), save it, load it, resident memory
of the loaded store, add one document (store update + save; the document was embedded beforehand: embedding one
SciFact abstract is timed once, on its own, as it does not depend on the index size), delete one, and search
p50/p95 (dense top 10, keyword top 10, hybrid with the configured fusion), with HNSW recall@10 against exact search.

Synthetic data (built without the model, no sentence vectors): each chunk's vector is a normalised mix of two
embedded SciFact chunks plus noise; its text is SciFact words drawn by their corpus frequency, and its BM25 terms
are those words' stems (so no tokenising of a million texts). Queries are real SciFact queries. Each size and mode
runs in fresh processes (build + save, then load + measure) so memory figures are the loaded store's alone.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import faiss
import numpy as np

from rag.fusion import Fusion, FusionMethod
from rag.settings import Settings
from rag.stores.embedded import EmbeddedStore
from rag.stores.keyword import TermMatrix
from rag.stores.protocol import ChunkingConfig, DocumentRecord
from rag.stores.segment import Segment, new_name
from rag.types import Chunk, Document

REPO = Path(__file__).resolve().parents[1]
SCIFACT = REPO.parent / "shared" / "data" / "scifact"
CHUNKS_PER_DOC = 3
WORDS_PER_CHUNK = 90
MODEL_ID = "all-MiniLM-L6-v2"


def rss_mb() -> float:
    """Resident memory of this process in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def prepare_inputs(cache: Path, queries: int) -> None:
    """Embed a sample of SciFact chunks, the queries and a few documents to add (once; kept in `cache`)."""
    from rag.chunking import chunk_document
    from rag.embedding import Embedder
    from rag.evaluation.beir import load_corpus
    from rag.ingest import prepare
    from rag.stores.protocol import passage_text
    from rag.text import tokenize

    settings = Settings(_env_file=None)
    chunking = ChunkingConfig(settings.chunk_size, settings.chunk_overlap)
    corpus = load_corpus(SCIFACT)
    embedder = Embedder()
    sample = [passage_text(c) for d in corpus[:800] for c in chunk_document(d, chunking.chunk_size, 1)]
    words = Counter()
    stems: dict[str, str] = {}
    for d in corpus:
        for word in {w.strip(".,;:()[]%").lower() for w in d.text.split()}:
            if word.isalpha() and word not in stems:
                found = tokenize([word])[0]
                if len(found) == 1:
                    stems[word] = found[0]
        words.update(w.strip(".,;:()[]%").lower() for w in d.text.split())
    vocab = [w for w, _ in words.most_common() if w in stems]
    lines = (SCIFACT / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines[:queries]]
    embedder.embed(sample[:64])  # warm-up
    started = time.perf_counter()
    add_docs = prepare(corpus[-6:], chunking, embedder.embed)
    embed_one = (time.perf_counter() - started) / 6
    data = {
        "base": embedder.embed(sample),
        "vocab": vocab,
        "stems": [stems[w] for w in vocab],
        "freq": np.asarray([words[w] for w in vocab], np.float64),
        "queries": embedder.embed(texts),
        "query_tokens": tokenize(texts),
        "add": add_docs,
        "embed_one_s": embed_one,
        "dimension": embedder.dimension,
    }
    cache.write_bytes(pickle.dumps(data))


def synthetic_segment(size: int, inputs: dict, ann_min_chunks: int, seed: int = 0) -> Segment:
    """A segment of `size` synthetic chunks (three per document)."""
    rng = np.random.default_rng(seed)
    base, dimension = inputs["base"], inputs["dimension"]
    vocab, stems = inputs["vocab"], inputs["stems"]
    p = inputs["freq"] / inputs["freq"].sum()
    stem_vocab = {s: i for i, s in enumerate(dict.fromkeys(stems))}
    stem_of = np.asarray([stem_vocab[s] for s in stems], np.int64)
    vectors = np.empty((size, dimension), np.float32)
    rows, cols, lengths = [], [], np.full(size, WORDS_PER_CHUNK, np.float32)
    documents: dict[str, Document] = {}
    records: dict[str, DocumentRecord] = {}
    chunks: list[Chunk] = []
    block = 50_000
    for lo in range(0, size, block):
        n = min(block, size - lo)
        mix = base[rng.integers(0, len(base), n)] + 0.5 * base[rng.integers(0, len(base), n)]
        mix += rng.standard_normal((n, dimension)).astype(np.float32) * (0.6 / np.sqrt(dimension))
        vectors[lo : lo + n] = mix / np.linalg.norm(mix, axis=1, keepdims=True)
        picks = rng.choice(len(vocab), size=(n, WORDS_PER_CHUNK), p=p)
        rows.append(np.repeat(np.arange(lo, lo + n), WORDS_PER_CHUNK))
        cols.append(stem_of[picks].ravel())
        for first in range(0, n, CHUNKS_PER_DOC):
            doc_id = f"syn-{lo + first}"
            parts = [" ".join(vocab[w] for w in picks[r]) for r in range(first, min(first + 3, n))]
            text = " ".join(parts)
            doc = Document(doc_id, f"Synthetic {lo + first}", text, f"synthetic:{doc_id}")
            documents[doc_id] = doc
            records[doc_id] = DocumentRecord(doc_id, doc.title, doc.source, doc_id, len(parts), len(text))
            start = 0
            for part in parts:
                end = start + len(part)
                chunks.append(Chunk(doc_id, doc.title, start, end, text[start:end], ((start, end),)))
                start = end + 1
    from scipy import sparse

    row, col = np.concatenate(rows), np.concatenate(cols)
    matrix = sparse.csc_array(
        sparse.coo_array((np.ones(len(row), np.float32), (row, col)), shape=(size, len(stem_vocab)))
    )
    matrix.sum_duplicates()
    segment = Segment(
        name=new_name(),
        dimension=dimension,
        documents=documents,
        records=records,
        chunks=chunks,
        vectors=vectors,
        sentence_spans=np.zeros((0, 2), np.int64),
        sentence_doc=[],
        sentence_vectors=None,
        terms=TermMatrix(stem_vocab, matrix, lengths),
    )
    segment.ensure_ann(ann_min_chunks)
    return segment


def percentiles(times: list[float]) -> tuple[float, float]:
    """(p50, p95) in milliseconds."""
    ms = sorted(t * 1000 for t in times)
    return statistics.median(ms), ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]


def build(size: int, mode: str, cache: Path, folder: Path) -> dict:
    """Worker 1: build the store, save it."""
    inputs = pickle.loads(cache.read_bytes())
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
    out["segments_after"] = len(store.segments)
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
    parser.add_argument("--modes", default="exact,hnsw", help="exact, hnsw or both")
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
