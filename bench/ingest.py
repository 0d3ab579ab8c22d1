"""Benchmark: ingestion throughput of the whole pipeline against the raw embedding model, and one-document adds.

Run: .venv/bin/python bench/ingest.py [--docs 1000] [--pooled] [--processes N] [--skip-add]
On the first `--docs` SciFact abstracts (../shared/data/scifact): documents/s of `Pipeline.index` into a fresh
temporary index (reading the files, chunking, embedding chunks and sentences, BM25, saving) and of the raw model
(`SentenceTransformer.encode` of the same chunk texts, batch 32), measured side by side in one process; then the
time to add one document to a SciFact-size index (5,183 abstracts; its stored vectors are random, the added
document is embedded for real) against the 5-document seed index. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

from rag.chunking import chunk_document
from rag.documents import load_paths
from rag.embedding import Embedder, default_model_path
from rag.evaluation.beir import load_corpus
from rag.ingest import PoolFn, prepare
from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.stores import empty_store
from rag.stores.protocol import ChunkingConfig, passage_text
from rag.types import Document

REPO = Path(__file__).resolve().parents[1]
SCIFACT = REPO.parent / "shared" / "data" / "scifact"


def write_corpus(docs: list[Document], folder: Path) -> None:
    """One Markdown file per abstract (`# title`, then the text), as `rag index` would find them."""
    folder.mkdir(parents=True)
    for doc in docs:
        (folder / f"{doc.doc_id}.md").write_text(f"# {doc.title}\n\n{doc.text}\n", encoding="utf-8")


def timed_embed(embedder: Embedder, log: list[tuple[int, float]]) -> Callable[..., np.ndarray]:
    """`embedder.embed`, recording (texts, seconds) of every call."""
    inner = embedder.embed

    def run(texts: list[str], progress: bool = False) -> np.ndarray:
        started = time.perf_counter()
        out = inner(texts, progress)
        log.append((len(texts), time.perf_counter() - started))
        return out

    return run


def random_embed(dimension: int) -> Callable[[list[str], bool], np.ndarray]:
    """Random unit vectors: a stand-in model to build a large base index quickly."""
    rng = np.random.default_rng(0)

    def run(texts: list[str], _progress: bool = False) -> np.ndarray:
        vectors = rng.standard_normal((len(texts), dimension)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    return run


def index_run(corpus: Path, embedder: Embedder, pool: PoolFn | None) -> tuple[float, str]:
    """(seconds, notes) of `Pipeline.index` of the files in `corpus` into a fresh index; with `pool`, sentence
    vectors are pooled from the chunk pass (rag.ingest.prepare's `pool`) instead of encoded on their own."""
    calls: list[tuple[int, float]] = []
    prepare_fn = functools.partial(prepare, pool=pool)
    with tempfile.TemporaryDirectory() as tmp, mock.patch("rag.snapshot.prepare", prepare_fn):
        pipeline = Pipeline(
            Settings(_env_file=None, index_dir=Path(tmp), corpus_dir=corpus), embedder=embedder
        )
        with mock.patch.object(embedder, "embed", timed_embed(embedder, calls)):
            started = time.perf_counter()
            report = pipeline.index([corpus])
            seconds = time.perf_counter() - started
    stats = report.stats
    notes = f"{stats.embedded_chunks} chunks + {stats.embedded_sentences} sentences"
    if calls:
        notes += f"; {sum(n for n, _ in calls)} texts through embed() in {sum(s for _, s in calls):.1f} s"
    return seconds, notes


def add_one_seconds(pipeline: Pipeline, docs: list[Document]) -> float:
    """Median seconds to add each of `docs` on its own (embedding, BM25, save)."""
    times = []
    for doc in docs:
        started = time.perf_counter()
        pipeline.add_documents([doc])
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000, help="SciFact abstracts to index (default 1000)")
    parser.add_argument("--pooled", action="store_true", help="also index with pooled sentence vectors")
    parser.add_argument(
        "--processes",
        type=int,
        default=0,
        help="also index with this many encoding processes (RAG_ENCODE_PROCESSES; starting them is counted)",
    )
    parser.add_argument("--skip-add", action="store_true", help="skip the one-document add timings")
    args = parser.parse_args()

    corpus = load_corpus(SCIFACT)
    docs, extra = corpus[: args.docs], corpus[-3:]
    settings = Settings(_env_file=None)
    chunking = ChunkingConfig(settings.chunk_size, settings.chunk_overlap)
    embedder = Embedder()
    raw = SentenceTransformer(default_model_path(), device="cpu", local_files_only=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "corpus"
        write_corpus(docs, folder)
        loaded = load_paths([folder]).documents  # the documents as `rag index` reads them
        texts = [
            passage_text(c)
            for d in loaded
            for c in chunk_document(d, chunking.chunk_size, chunking.chunk_overlap)
        ]
        raw.encode(texts[:64], batch_size=32)  # warm-up, both models
        embedder.embed(texts[:64])

        def raw_run() -> float:
            started = time.perf_counter()
            raw.encode(texts, batch_size=32, convert_to_numpy=True, normalize_embeddings=True)
            return time.perf_counter() - started

        # Raw model before and after the pipeline runs: the machine's load drifts, the mean is compared.
        raw_times = [raw_run()]
        runs = [("whole pipeline (rag index)", *index_run(folder, embedder, None))]
        if args.pooled:
            runs.append(
                ("whole pipeline, pooled sentences", *index_run(folder, embedder, embedder.embed_pooled))
            )
        if args.processes > 1:
            pooled = Embedder(processes=args.processes)
            label = f"whole pipeline, {args.processes} encoding processes"
            runs.append((label, *index_run(folder, pooled, None)))
            pooled.close()
        raw_times.append(raw_run())
    raw_s = statistics.mean(raw_times)
    times = " and ".join(f"{t:.1f}" for t in raw_times)
    rows = [("raw model (encode, batch 32)", raw_s, f"{len(texts)} chunk texts; mean of {times} s"), *runs]
    add_rows = []
    if not args.skip_add:
        with tempfile.TemporaryDirectory() as tmp:
            seed = Pipeline(
                Settings(_env_file=None, index_dir=Path(tmp), corpus_dir=REPO / "corpus"), embedder=embedder
            )
            seed.index([REPO / "corpus"])
            size = len(seed.data.documents)
            seed_s = add_one_seconds(seed, extra)
        with tempfile.TemporaryDirectory() as tmp:
            full = Settings(_env_file=None, index_dir=Path(tmp), index_name="scifact")
            base = empty_store(full, embedder.model_id, embedder.dimension, chunking)
            prepared = prepare(corpus[:-3], chunking, random_embed(embedder.dimension))
            base.update(upsert=prepared, remove=[]).save(full.index_path)
            big = Pipeline(full, embedder=embedder)
            big_size = len(big.data.documents)
            big_s = add_one_seconds(big, extra)
        add_rows = [(f"seed index ({size} documents)", seed_s), (f"SciFact-size index ({big_size})", big_s)]

    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f} at the end\n"
    )
    print(f"{len(docs)} SciFact abstracts\n")
    print("| path | documents/s | seconds | vs raw model | notes |\n|---|---:|---:|---:|---|")
    for label, seconds, notes in rows:
        print(f"| {label} | {len(docs) / seconds:.2f} | {seconds:.1f} | {raw_s / seconds:.2f}x | {notes} |")
    if add_rows:
        print("\n| add one document to | median seconds (3 documents) |\n|---|---:|")
        for name, seconds in add_rows:
            print(f"| {name} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
