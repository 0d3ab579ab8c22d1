"""Ingestion before the store: decide which documents need work, then chunk and embed them once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
from rag.types import Document


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
) -> list[PreparedDocument]:
    """Chunk `docs` and embed their chunks (one model pass over all of them), then their distinct sentences."""
    chunked = [chunk_document(d, chunking.chunk_size, chunking.chunk_overlap) for d in docs]
    spans: list[np.ndarray] = []
    for doc, chunks in zip(docs, chunked):
        distinct = dict.fromkeys(span for chunk in chunks for span in chunk.sentences)
        spans.append(np.asarray(list(distinct), np.int64).reshape(-1, 2))
    chunk_vectors = embed([passage_text(c) for chunks in chunked for c in chunks], progress)
    sentence_vectors = None
    if embed_sentences:
        texts = [doc.text[s:e] for doc, rows in zip(docs, spans) for s, e in rows]
        sentence_vectors = embed(texts, progress)
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
