"""Inputs of bench/scale.py: embedded SciFact samples and queries (cached), and synthetic segments of them."""

from __future__ import annotations

import json
import pickle
import time
from collections import Counter
from pathlib import Path

import numpy as np
from scipy import sparse

from rag.settings import Settings
from rag.stores.keyword import TermMatrix
from rag.stores.protocol import ChunkingConfig, DocumentRecord
from rag.stores.segment import Segment, new_name
from rag.types import Chunk, Document

REPO = Path(__file__).resolve().parents[1]
SCIFACT = REPO.parent / "shared" / "data" / "scifact"
CHUNKS_PER_DOC = 3
WORDS_PER_CHUNK = 90
MODEL_ID = "all-MiniLM-L6-v2"


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


def synthetic_segment(
    size: int, inputs: dict, ann_min_chunks: int, seed: int = 0, prefix: str = "syn-"
) -> Segment:
    """A segment of `size` synthetic chunks (three per document, ids `prefix` + first row)."""
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
            doc_id = f"{prefix}{lo + first}"
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
