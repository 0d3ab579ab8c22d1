"""Ingestion before the store: decide which documents need work, then chunk and embed them once."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.chunking import chunk_document
from rag.stores.protocol import (
    ChunkingConfig,
    DocumentRecord,
    EmbedFn,
    PreparedDocument,
    UpdateStats,
    content_hash,
    passage_text,
)
from rag.types import Chunk, Document

# (texts, character spans per text, progress) -> (text vectors, per text (span sums, span token counts))
PoolFn = Callable[[list[str], list[np.ndarray], bool], tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]]


@dataclass
class Plan:
    """What an update has to do: documents to embed, documents whose record alone changed, and the tally."""

    fresh: list[Document] = field(default_factory=list)
    relabelled: list[Document] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    stats: UpdateStats = field(default_factory=UpdateStats)


def plan(records: Mapping[str, DocumentRecord], upsert: Sequence[Document], remove: Sequence[str]) -> Plan:
    """Compare documents with the stored records: unchanged text costs nothing, a new source or metadata
    only rewrites the record (its vectors are reused), new or changed text is embedded."""
    out = Plan()
    upserted = {d.doc_id for d in upsert}
    for doc_id in dict.fromkeys(remove):
        if doc_id in records and doc_id not in upserted:
            out.remove.append(doc_id)
            out.stats.removed.append(doc_id)
    for doc in {d.doc_id: d for d in upsert}.values():
        old = records.get(doc.doc_id)
        if old is not None and old.sha256 == content_hash(doc):
            out.stats.unchanged.append(doc.doc_id)
            if old.source != doc.source or old.metadata != doc.metadata:
                out.relabelled.append(doc)
            continue
        (out.stats.changed if old is not None else out.stats.added).append(doc.doc_id)
        out.fresh.append(doc)
    return out


def record_for(doc: Document, chunks: int) -> DocumentRecord:
    """The manifest record of a document cut into `chunks` chunks."""
    return DocumentRecord(
        doc.doc_id, doc.title, doc.source, content_hash(doc), chunks, len(doc.text), dict(doc.metadata)
    )


def prepare(
    docs: Sequence[Document],
    chunking: ChunkingConfig,
    embed: EmbedFn,
    *,
    embed_sentences: bool = True,
    progress: bool = False,
    pool: PoolFn | None = None,
) -> list[PreparedDocument]:
    """Chunk `docs` and embed their chunks (one model pass over all of them), then their distinct sentences.

    Each pass embeds every distinct text once, longest first (batches of similar length pad little). With
    `pool` (Embedder.embed_pooled) there is one pass only: a sentence's vector is mean-pooled from the token
    embeddings of the chunks holding it (a sentence no chunk's window reaches is embedded on its own).
    """
    chunked = [chunk_document(d, chunking.chunk_size, chunking.chunk_overlap) for d in docs]
    spans: list[np.ndarray] = []
    for chunks in chunked:
        distinct = dict.fromkeys(span for chunk in chunks for span in chunk.sentences)
        spans.append(np.asarray(list(distinct), np.int64).reshape(-1, 2))
    passages = [passage_text(c) for chunks in chunked for c in chunks]
    sentence_vectors = None
    if embed_sentences and pool is not None:
        chunk_vectors, sentence_vectors = _pooled(docs, chunked, spans, passages, embed, pool, progress)
    else:
        chunk_vectors = embed_distinct(embed, passages, progress)
        if embed_sentences:
            texts = [doc.text[s:e] for doc, rows in zip(docs, spans) for s, e in rows]
            sentence_vectors = embed_distinct(embed, texts, progress)
    out = []
    c = s = 0
    for doc, chunks, rows in zip(docs, chunked, spans):
        out.append(
            PreparedDocument(
                document=doc,
                record=record_for(doc, len(chunks)),
                chunks=chunks,
                chunk_vectors=chunk_vectors[c : c + len(chunks)],
                sentence_spans=rows,
                sentence_vectors=None if sentence_vectors is None else sentence_vectors[s : s + len(rows)],
            )
        )
        c, s = c + len(chunks), s + len(rows)
    return out


def embed_distinct(embed: EmbedFn, texts: list[str], progress: bool) -> np.ndarray:
    """`embed(texts)`, computing each distinct text once and in order of decreasing length."""
    distinct = sorted(dict.fromkeys(texts), key=len, reverse=True)
    vectors = embed(distinct, progress)
    if len(distinct) == len(texts) and distinct == texts:
        return vectors
    row = {text: i for i, text in enumerate(distinct)}
    return vectors[[row[t] for t in texts]] if texts else vectors


def _pooled(
    docs: Sequence[Document],
    chunked: list[list[Chunk]],
    spans: list[np.ndarray],
    passages: list[str],
    embed: EmbedFn,
    pool: PoolFn,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Chunk vectors and sentence vectors pooled from one encoder pass over the chunks."""
    local: list[np.ndarray] = []  # per chunk: its sentences' spans in the passage text
    owner: list[np.ndarray] = []  # per chunk: each of those sentences' row among all sentences
    base = 0
    for doc, chunks, rows in zip(docs, chunked, spans):
        index = {(int(a), int(b)): base + i for i, (a, b) in enumerate(rows)}
        for chunk in chunks:
            shift = (len(chunk.title) + 1 if chunk.title else 0) - chunk.start
            local.append(
                np.asarray([(a + shift, b + shift) for a, b in chunk.sentences], np.int64).reshape(-1, 2)
            )
            owner.append(np.asarray([index[(a, b)] for a, b in chunk.sentences], np.int64))
        base += len(rows)
    chunk_vectors, parts = pool(passages, local, progress)
    sums = np.zeros((base, chunk_vectors.shape[1]), np.float32)
    counts = np.zeros(base, np.float32)
    for rows, (part_sums, part_counts) in zip(owner, parts):
        np.add.at(sums, rows, part_sums)
        np.add.at(counts, rows, part_counts)
    missing = np.flatnonzero(counts == 0)
    if len(missing):
        texts = [doc.text[a:b] for doc, rows in zip(docs, spans) for a, b in rows]
        sums[missing] = embed_distinct(embed, [texts[i] for i in missing], progress)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return chunk_vectors, np.ascontiguousarray(sums / np.maximum(norms, 1e-12), np.float32)
