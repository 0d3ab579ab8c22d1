"""Reads of the Milvus backend: opening an index, searches, sentence vectors and bulk export."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from pymilvus import AnnSearchRequest, MilvusException, RRFRanker

from rag.errors import IndexUnavailable
from rag.stores.keyword import K1
from rag.stores.milvus_collections import CHUNKS, DOCUMENTS, SENTENCES, Collections, quoted, sentence_key
from rag.stores.protocol import ChunkingConfig, DocumentRecord, PreparedDocument, Ranking, SentenceKey
from rag.types import Chunk, Document

if TYPE_CHECKING:
    from rag.fusion import Fusion
    from rag.stores.milvus import MilvusStore

SEARCH_MAX = 16_384  # Milvus's largest search limit
SLACK = 32  # extra hits asked for, to make up for stale copies dropped by the write filter
CHUNK_FIELDS = ["row", "doc_id", "write", "start", "end", "sentences", "text"]


class Documents(Mapping[str, Document]):
    """A store's documents, each one's text fetched from Milvus the first time it is read."""

    def __init__(self, store: MilvusStore) -> None:
        self.store = store
        self.cache: dict[str, Document] = {}

    def __getitem__(self, doc_id: str) -> Document:
        doc = self.cache.get(doc_id)
        if doc is None:
            record = self.store.records[doc_id]
            text = self.store.cols.blobs([doc_id], self.store.writes, "text").get(doc_id, "")
            doc = Document(doc_id, record.title, text, record.source, dict(record.metadata))
            self.cache[doc_id] = doc
        return doc

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self.store.records

    def __iter__(self) -> Iterator[str]:
        return iter(self.store.records)

    def __len__(self) -> int:
        return len(self.store.records)


def read_index(cols: Collections, name: str) -> dict:
    """The committed state of an index as MilvusStore keyword arguments; raises IndexUnavailable."""
    try:
        exists = cols.exists()
        if exists:
            cols.load()
        meta = cols.meta("index") if exists else None
        if meta is None:
            raise IndexUnavailable(
                f"no index named {name!r} in Milvus ({cols.prefix}_*); build it with: RAG_STORE=milvus "
                f"rag index --index {name} PATHS, or copy an embedded one: rag migrate --index {name}"
            )
        records: dict[str, DocumentRecord] = {}
        writes: dict[str, str] = {}
        for row in cols.scan(DOCUMENTS, 'doc_id != ""', ["doc_id", "write", "record"]):
            r, doc_id = row["record"], row["doc_id"]
            records[doc_id] = DocumentRecord(
                doc_id, r["title"], r["source"], r["sha256"], r["chunks"], r["chars"], r["metadata"]
            )
            writes[doc_id] = row["write"]
        df: Counter[str] = Counter()
        for terms in cols.blobs(None, writes, "terms").values():
            df.update(json.loads(terms))
    except MilvusException as exc:
        raise IndexUnavailable(f"index {name!r}: Milvus refused the read ({exc.message})") from None
    return {
        "model_id": meta["model"],
        "dimension": int(meta["dimension"]),
        "chunking": ChunkingConfig(**meta["chunking"]),
        "roots": list(meta.get("roots", [])),
        "records": dict(sorted(records.items())),
        "writes": writes,
        "df": dict(df),
        "sentences": bool(meta.get("sentences", True)),
        "next_row": int(meta.get("next_row", 0)),
    }


def is_live(store: MilvusStore, hit: dict) -> bool:
    """True when a hit comes from its document's live write."""
    entity = hit.get("entity", hit)
    return store.writes.get(entity["doc_id"]) == entity["write"]


def search(store: MilvusStore, data: list, field: str, metric: str, n: int) -> Ranking:
    """(row, score) of the best `n` live chunks of one Milvus search (dense "IP" or "BM25")."""
    hits = store.cols.client.search(
        store.cols.name(CHUNKS),
        data=data,
        anns_field=field,
        limit=min(n + SLACK, SEARCH_MAX),
        search_params={"metric_type": metric},
        output_fields=["doc_id", "write"],
    )[0]
    found = [(h["row"], float(h["distance"])) for h in hits if is_live(store, h)]
    if (
        metric == "BM25"
    ):  # Milvus (Lite reports it negated) scales BM25 by k1 + 1, Lucene's form; ours does not
        found = [(row, abs(score) / (K1 + 1)) for row, score in found]
    found.sort(key=lambda item: (-item[1], item[0]))
    return [(row, score) for row, score in found[:n] if metric != "BM25" or score > 0]


def rrf_search(
    store: MilvusStore, vector: np.ndarray, tokens: Sequence[str], fusion: Fusion, n: int
) -> dict[int, float]:
    """Reciprocal-rank fusion of the dense and BM25 searches in one Milvus request (RRFRanker)."""
    requests = [
        AnnSearchRequest([np.asarray(vector, np.float32).tolist()], "vector", {"metric_type": "IP"}, n),
        AnnSearchRequest([" ".join(tokens)], "sparse", {"metric_type": "BM25"}, n),
    ]
    hits = store.cols.client.hybrid_search(
        store.cols.name(CHUNKS),
        requests,
        RRFRanker(fusion.rrf_k),
        limit=min(2 * n, SEARCH_MAX),
        output_fields=["doc_id", "write"],
    )[0]
    return {h["row"]: fusion.dense_weight * float(h["distance"]) for h in hits if is_live(store, h)}


def sentence_vectors(store: MilvusStore, keys: Sequence[SentenceKey]) -> np.ndarray | None:
    """Stored vectors of these sentences of a committed store, or None when any is not stored."""
    if not keys:
        return np.zeros((0, store.dimension), np.float32)
    if not store.has_sentence_vectors or any(k[0] not in store.writes for k in keys):
        return None
    ids = [sentence_key(d, s, e, store.writes[d]) for d, s, e in keys]
    found: dict[str, list[float]] = {}
    distinct = list(dict.fromkeys(ids))
    for start in range(0, len(distinct), 1000):
        part = distinct[start : start + 1000]
        for r in store.cols.client.get(store.cols.name(SENTENCES), ids=part, output_fields=["vector"]):
            found[r["key"]] = r["vector"]
    if len(found) < len(distinct):
        return None
    return np.asarray([found[i] for i in ids], np.float32)


def export_many(store: MilvusStore, doc_ids: Sequence[str] | None) -> list[PreparedDocument]:
    """Documents of a committed store with their chunks and vectors (None: all of them), in bulk reads."""
    cols, writes, dim = store.cols, store.writes, store.dimension
    expr = 'doc_id != ""' if doc_ids is None else f"doc_id in {quoted(doc_ids)}"
    ids = list(store.records) if doc_ids is None else [d for d in doc_ids if d in store.records]
    texts = cols.blobs(None if doc_ids is None else ids, writes, "text")
    chunks: dict[str, list[dict]] = {}
    for r in cols.scan(CHUNKS, expr, [*CHUNK_FIELDS, "vector"]):
        if writes.get(r["doc_id"]) == r["write"]:
            chunks.setdefault(r["doc_id"], []).append(r)
    sentences: dict[str, list[tuple[int, int, list[float]]]] = {}
    for r in cols.scan(SENTENCES, expr, ["key", "doc_id", "write", "vector"]):
        if writes.get(r["doc_id"]) == r["write"]:
            _, s, e, _ = r["key"].split(":", 3)
            sentences.setdefault(r["doc_id"], []).append((int(s), int(e), r["vector"]))
    out = []
    for doc_id in ids:
        record = store.records[doc_id]
        doc = Document(doc_id, record.title, texts.get(doc_id, ""), record.source, dict(record.metadata))
        store.documents.cache.setdefault(doc_id, doc)
        rows = sorted(chunks.get(doc_id, []), key=lambda r: (r["start"], r["row"]))
        spans = sorted(sentences.get(doc_id, []), key=lambda s: (s[0], s[1]))
        sentence_vectors = np.asarray([s[2] for s in spans], np.float32).reshape(-1, dim)
        out.append(
            PreparedDocument(
                document=doc,
                record=record,
                chunks=[store.chunk_of(r) for r in rows],
                chunk_vectors=np.asarray([r["vector"] for r in rows], np.float32).reshape(-1, dim),
                sentence_spans=np.asarray([s[:2] for s in spans], np.int64).reshape(-1, 2),
                sentence_vectors=sentence_vectors if store.has_sentence_vectors else None,
            )
        )
    return out


def fetch(store: MilvusStore, row: int, vector: bool = False) -> tuple[Chunk, np.ndarray | None]:
    """A chunk (and its vector when asked for). Chunks are read together with the rows ranked after them in
    the last hybrid search, so a caller walking down a ranking costs a few requests, not one per row; vectors
    are read one by one (a retriever needs them only for the few hits the dense search did not return)."""
    hit = store.rows.get(row)
    if hit is None or (vector and hit[1] is None):
        order, position = store.ranked
        at = position.get(row)
        batch = [row] if at is None or vector else order[at : at + max(16, at)]
        batch = [r for r in batch if r == row or r not in store.rows]
        if len(store.rows) + len(batch) > 100_000:
            store.rows.clear()
        fields = [*CHUNK_FIELDS, "vector"] if vector else CHUNK_FIELDS
        for found in store.cols.client.get(store.cols.name(CHUNKS), ids=batch, output_fields=fields):
            if is_live(store, found):
                values = np.asarray(found["vector"], np.float32) if vector else None
                store.rows[found["row"]] = (store.chunk_of(found), values)
        hit = store.rows.get(row)
        if hit is None:
            raise IndexError(f"no chunk row {row}")
    return hit
