"""The Milvus backend: a `Store` over the collections of a Milvus Lite file or a Milvus server (pymilvus).

A committed `MilvusStore` holds the documents' records, which write (a random id) of each document is live, and
the term document frequencies in memory; chunks, vectors and texts stay in Milvus and are fetched on demand.
Every row a write inserts carries its write id, and a document's row in the documents collection names its
live write: hits from any other write (a replaced copy not yet deleted, or rows of a write that failed) are
dropped, so a reader never sees half a document. `update` changes nothing on the server: it returns a pending
store, and `save` applies it (new rows first, then the document rows, then the old rows are deleted). A
pending store that is read before it is saved (`Pipeline.derived`) is an in-memory EmbeddedStore copy.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pymilvus import AnnSearchRequest, MilvusException, RRFRanker

from rag.errors import IndexUnavailable
from rag.settings import FusionMethod
from rag.stores.embedded import EmbeddedStore
from rag.stores.keyword import K1
from rag.stores.keyword import idf as bm25_idf
from rag.stores.locking import fsync_dir, write_lock
from rag.stores.milvus_collections import (
    CHUNKS,
    DOCUMENTS,
    SENTENCES,
    Collections,
    quoted,
    sentence_key,
)
from rag.stores.protocol import ChunkingConfig, DocumentRecord, PreparedDocument, Ranking, SentenceKey
from rag.types import Chunk, Document

if TYPE_CHECKING:
    from rag.fusion import Fusion
    from rag.stores.protocol import Store

SEARCH_MAX = 16_384  # Milvus's largest search limit
SLACK = 32  # extra hits asked for, to make up for stale copies dropped by the write filter
CHUNK_FIELDS = ["row", "doc_id", "write", "start", "end", "sentences", "text"]


class _Documents(Mapping[str, Document]):
    """The store's documents, their text fetched from Milvus the first time each is read."""

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


class MilvusStore:
    """One snapshot of an index kept in Milvus (implements rag.stores.protocol.Store)."""

    backend = "milvus"

    def __init__(
        self,
        cols: Collections,
        *,
        name: str,
        model_id: str,
        dimension: int,
        chunking: ChunkingConfig,
        roots: list[str],
        exact: bool,
        records: dict[str, DocumentRecord] | None = None,
        writes: dict[str, str] | None = None,
        df: dict[str, int] | None = None,
        sentences: bool = True,
        next_row: int = 0,
        base: MilvusStore | None = None,
        changes: tuple[list[PreparedDocument], list[str]] | None = None,
    ) -> None:
        self.cols, self.name, self.exact = cols, name, exact
        self.model_id, self.dimension, self.chunking, self.roots = model_id, dimension, chunking, roots
        self.base, self.changes = base, changes  # pending (not yet saved) when `changes` is set
        self.next_row = next_row  # the first chunk row the next write uses
        self._mirror: EmbeddedStore | None = None
        self._set(records or {}, writes or {}, df or {}, sentences)

    def commit(self, records: dict, writes: dict, df: dict, sentences: bool) -> None:
        """Become the committed snapshot with this state (called once its write reached Milvus)."""
        self.changes, self.base, self._mirror = None, None, None
        self._set(records, writes, df, sentences)

    def _set(self, records: dict, writes: dict, df: dict, sentences: bool) -> None:
        self._records, self.writes, self._df, self._sentences = records, writes, df, sentences
        self._live = sum(r.chunks for r in records.values())
        self._documents = _Documents(self)
        self._rows: dict[int, tuple[Chunk, np.ndarray]] = {}

    # ---- opening -------------------------------------------------------------------------------------
    @classmethod
    def empty(
        cls,
        cols: Collections,
        name: str,
        model_id: str,
        dimension: int,
        chunking: ChunkingConfig,
        exact: bool,
    ) -> MilvusStore:
        """A new, empty index; saving it replaces whatever the collections held."""
        return cls(
            cols, name=name, model_id=model_id, dimension=dimension, chunking=chunking, roots=[], exact=exact,
            changes=([], []),
        )  # fmt: skip

    @classmethod
    def open(cls, cols: Collections, name: str, exact: bool) -> MilvusStore:
        """The index as committed in Milvus; raises IndexUnavailable with the reason and the fix."""
        try:
            meta = cols.meta("index") if cols.exists() else None
            if meta is None:
                raise IndexUnavailable(
                    f"no index named {name!r} in Milvus ({cols.prefix}_*); build it with: RAG_STORE=milvus "
                    f"rag index --index {name} PATHS, or copy an embedded one: rag migrate --index {name}"
                )
            records: dict[str, DocumentRecord] = {}
            writes: dict[str, str] = {}
            for row in cols.scan(DOCUMENTS, 'doc_id != ""', ["doc_id", "write", "record"]):
                r = row["record"]
                records[row["doc_id"]] = DocumentRecord(
                    row["doc_id"],
                    r["title"],
                    r["source"],
                    r["sha256"],
                    r["chunks"],
                    r["chars"],
                    r["metadata"],
                )
                writes[row["doc_id"]] = row["write"]
            df: Counter[str] = Counter()
            for terms in cols.blobs(None, writes, "terms").values():
                df.update(json.loads(terms))
        except MilvusException as exc:
            raise IndexUnavailable(f"index {name!r}: Milvus refused the read ({exc.message})") from None
        return cls(
            cols,
            name=name,
            model_id=meta["model"],
            dimension=int(meta["dimension"]),
            chunking=ChunkingConfig(**meta["chunking"]),
            roots=list(meta.get("roots", [])),
            exact=exact,
            records=dict(sorted(records.items())),
            writes=writes,
            df=dict(df),
            sentences=bool(meta.get("sentences", True)),
            next_row=int(meta.get("next_row", 0)),
        )

    # ---- reads ---------------------------------------------------------------------------------------
    def _view(self) -> EmbeddedStore | None:
        """The in-memory copy a pending store is read through (None for a committed store)."""
        if self.changes is None:
            return None
        if self._mirror is None:
            start = self.base.embedded() if self.base is not None else self._empty_embedded()
            upsert, remove = self.changes
            self._mirror = start.update(upsert=upsert, remove=remove, roots=self.roots)
        return self._mirror

    def _empty_embedded(self) -> EmbeddedStore:
        return EmbeddedStore.empty(self.model_id, self.dimension, self.chunking, ann_min_chunks=0)

    def embedded(self) -> EmbeddedStore:
        """This snapshot copied into an in-memory EmbeddedStore (kept for the next call)."""
        view = self._view()
        if view is not None:
            return view
        if self._mirror is None:
            store = self._empty_embedded()
            self._mirror = store.update(upsert=self._export_many(None), remove=[], roots=self.roots)
        return self._mirror

    @property
    def documents(self) -> Mapping[str, Document]:
        """Every document by id (text read from Milvus when first asked for)."""
        view = self._view()
        return view.documents if view is not None else self._documents

    @property
    def records(self) -> Mapping[str, DocumentRecord]:
        """Every document's record by id."""
        view = self._view()
        return view.records if view is not None else self._records

    @property
    def chunk_count(self) -> int:
        """Number of live chunks."""
        view = self._view()
        return view.chunk_count if view is not None else self._live

    @property
    def has_sentence_vectors(self) -> bool:
        """True when sentences were embedded at write time."""
        view = self._view()
        return view.has_sentence_vectors if view is not None else self._sentences

    def _chunk(self, row: dict) -> Chunk:
        doc_id = row["doc_id"]
        text = row["text"] or self.documents[doc_id].text[row["start"] : row["end"]]
        spans = tuple((int(s), int(e)) for s, e in row["sentences"])
        return Chunk(doc_id, self._records[doc_id].title, row["start"], row["end"], text, spans)

    def _fetch(self, row: int) -> tuple[Chunk, np.ndarray]:
        hit = self._rows.get(row)
        if hit is None:
            found = self.cols.client.get(
                self.cols.name(CHUNKS), ids=[row], output_fields=[*CHUNK_FIELDS, "vector"]
            )
            if not found or self.writes.get(found[0]["doc_id"]) != found[0]["write"]:
                raise IndexError(f"no chunk row {row}")
            hit = (self._chunk(found[0]), np.asarray(found[0]["vector"], np.float32))
            if len(self._rows) > 100_000:
                self._rows.clear()
            self._rows[row] = hit
        return hit

    def chunk(self, row: int) -> Chunk:
        """The chunk at a row returned by a search."""
        view = self._view()
        return view.chunk(row) if view is not None else self._fetch(row)[0]

    def chunk_vector(self, row: int) -> np.ndarray:
        """The stored vector of the chunk at `row`."""
        view = self._view()
        return view.chunk_vector(row) if view is not None else self._fetch(row)[1]

    def _live_rows(self, expr: str) -> list[dict]:
        rows = self.cols.scan(CHUNKS, expr, CHUNK_FIELDS)
        return [r for r in rows if self.writes.get(r["doc_id"]) == r["write"]]

    def chunks_of(self, doc_id: str) -> list[tuple[int, Chunk]]:
        """(row, chunk) of every chunk of a document, in document order."""
        view = self._view()
        if view is not None:
            return view.chunks_of(doc_id)
        if doc_id not in self.writes:
            return []
        rows = self._live_rows(
            f"doc_id == {json.dumps(doc_id)} and write == {json.dumps(self.writes[doc_id])}"
        )
        return [(r["row"], self._chunk(r)) for r in sorted(rows, key=lambda r: (r["start"], r["row"]))]

    def iter_chunks(self) -> Iterator[tuple[int, Chunk]]:
        """(row, chunk) of every live chunk, by row."""
        view = self._view()
        if view is not None:
            yield from view.iter_chunks()
            return
        for r in sorted(self._live_rows('doc_id != ""'), key=lambda r: r["row"]):
            yield r["row"], self._chunk(r)

    def sentence_vectors(self, keys: Sequence[SentenceKey]) -> np.ndarray | None:
        """Stored vectors of these sentences, or None when any is not stored."""
        view = self._view()
        if view is not None:
            return view.sentence_vectors(keys)
        if not keys:
            return np.zeros((0, self.dimension), np.float32)
        if not self._sentences or any(k[0] not in self.writes for k in keys):
            return None
        ids = [sentence_key(d, s, e, self.writes[d]) for d, s, e in keys]
        found: dict[str, list[float]] = {}
        distinct = list(dict.fromkeys(ids))
        for start in range(0, len(distinct), 1000):
            part = distinct[start : start + 1000]
            for r in self.cols.client.get(self.cols.name(SENTENCES), ids=part, output_fields=["vector"]):
                found[r["key"]] = r["vector"]
        if len(found) < len(distinct):
            return None
        return np.asarray([found[i] for i in ids], np.float32)

    def document_frequencies(self) -> dict[str, int]:
        """Every term's document frequency (of a committed store)."""
        return self._df

    def document_frequency(self, token: str) -> int:
        """In how many live chunks a stemmed token occurs."""
        view = self._view()
        return view.document_frequency(token) if view is not None else self._df.get(token, 0)

    def idf(self, token: str) -> float:
        """BM25 inverse document frequency of a stemmed token over the live chunks."""
        view = self._view()
        return view.idf(token) if view is not None else bm25_idf(self._live, self._df.get(token, 0))

    def _search(self, data: list, field: str, metric: str, n: int) -> Ranking:
        hits = self.cols.client.search(
            self.cols.name(CHUNKS),
            data=data,
            anns_field=field,
            limit=min(n + SLACK, SEARCH_MAX),
            search_params={"metric_type": metric},
            output_fields=["doc_id", "write"],
        )[0]
        found = [(h["row"], float(h["distance"])) for h in hits if self._is_live(h)]
        if metric == "BM25":  # Milvus Lite reports BM25 negated; both scale it by k1 + 1 (Lucene's form)
            found = [(row, abs(score) / (K1 + 1)) for row, score in found]
        found.sort(key=lambda item: (-item[1], item[0]))
        return [(row, score) for row, score in found[:n] if metric != "BM25" or score > 0]

    def _is_live(self, hit: dict) -> bool:
        entity = hit.get("entity", hit)
        return self.writes.get(entity["doc_id"]) == entity["write"]

    def dense_search(self, vector: np.ndarray, n: int) -> Ranking:
        """(row, inner product) of the `n` nearest chunks."""
        view = self._view()
        if view is not None:
            return view.dense_search(vector, n)
        n = min(n, self._live)
        return self._search([np.asarray(vector, np.float32).tolist()], "vector", "IP", n) if n > 0 else []

    def keyword_search(self, tokens: Sequence[str], n: int) -> Ranking:
        """(row, BM25 score) of the best `n` chunks with a positive score (Milvus's BM25 over our terms)."""
        view = self._view()
        if view is not None:
            return view.keyword_search(tokens, n)
        n = min(n, self._live)
        if n <= 0 or not any(t in self._df for t in tokens):
            return []
        return self._search([" ".join(tokens)], "sparse", "BM25", n)

    def hybrid_search(
        self, vector: np.ndarray, tokens: Sequence[str], fusion: Fusion
    ) -> tuple[dict[int, float], Ranking, Ranking]:
        """Fused scores by row, with the dense and BM25 rankings they came from. Reciprocal-rank fusion with
        equal weights is one Milvus request (RRFRanker; the rankings then come back empty); otherwise both
        searches run and `fusion` fuses them here, exactly as the embedded backend does."""
        view = self._view()
        if view is not None:
            return view.hybrid_search(vector, tokens, fusion)
        n = min(fusion.candidates, self._live)
        one_request = fusion.method is FusionMethod.rrf and fusion.dense_weight == fusion.bm25_weight
        if one_request and n and any(t in self._df for t in tokens):
            requests = [
                AnnSearchRequest(
                    [np.asarray(vector, np.float32).tolist()], "vector", {"metric_type": "IP"}, n
                ),
                AnnSearchRequest([" ".join(tokens)], "sparse", {"metric_type": "BM25"}, n),
            ]
            hits = self.cols.client.hybrid_search(
                self.cols.name(CHUNKS),
                requests,
                RRFRanker(fusion.rrf_k),
                limit=min(2 * n, SEARCH_MAX),
                output_fields=["doc_id", "write"],
            )[0]
            return (
                {h["row"]: fusion.dense_weight * float(h["distance"]) for h in hits if self._is_live(h)},
                [],
                [],
            )
        dense = self.dense_search(vector, n) if fusion.dense_weight > 0 and n else []
        sparse = self.keyword_search(tokens, n) if fusion.bm25_weight > 0 and n else []
        return fusion.run(dense, sparse, self._live), dense, sparse

    def _export_many(self, doc_ids: Sequence[str] | None) -> list[PreparedDocument]:
        """Stored documents with their chunks and vectors (None: all of them), in bulk reads."""
        expr = 'doc_id != ""' if doc_ids is None else f"doc_id in {quoted(doc_ids)}"
        ids = list(self._records) if doc_ids is None else [d for d in doc_ids if d in self._records]
        texts = self.cols.blobs(None if doc_ids is None else ids, self.writes, "text")
        chunks: dict[str, list[dict]] = {}
        for r in self.cols.scan(CHUNKS, expr, [*CHUNK_FIELDS, "vector"]):
            if self.writes.get(r["doc_id"]) == r["write"]:
                chunks.setdefault(r["doc_id"], []).append(r)
        sentences: dict[str, list[tuple[int, int, list[float]]]] = {}
        for r in self.cols.scan(SENTENCES, expr, ["key", "doc_id", "write", "vector"]):
            if self.writes.get(r["doc_id"]) == r["write"]:
                _, s, e, _ = r["key"].split(":", 3)
                sentences.setdefault(r["doc_id"], []).append((int(s), int(e), r["vector"]))
        out = []
        for doc_id in ids:
            record = self._records[doc_id]
            doc = Document(doc_id, record.title, texts.get(doc_id, ""), record.source, dict(record.metadata))
            self._documents.cache.setdefault(doc_id, doc)
            rows = sorted(chunks.get(doc_id, []), key=lambda r: (r["start"], r["row"]))
            spans = sorted(sentences.get(doc_id, []), key=lambda s: (s[0], s[1]))
            vectors = np.asarray([r["vector"] for r in rows], np.float32).reshape(-1, self.dimension)
            out.append(
                PreparedDocument(
                    document=doc,
                    record=record,
                    chunks=[self._chunk(r) for r in rows],
                    chunk_vectors=vectors,
                    sentence_spans=np.asarray([s[:2] for s in spans], np.int64).reshape(-1, 2),
                    sentence_vectors=(
                        np.asarray([s[2] for s in spans], np.float32).reshape(-1, self.dimension)
                        if self._sentences
                        else None
                    ),
                )
            )
        return out

    def export(self, doc_id: str) -> PreparedDocument:
        """A stored document with its chunks and vectors, to move it without re-embedding."""
        view = self._view()
        if view is not None:
            return view.export(doc_id)
        if doc_id not in self._records:
            raise KeyError(doc_id)
        return self._export_many([doc_id])[0]

    def stats(self) -> dict[str, int | str]:
        """Sizes and where the index lives."""
        return {
            "backend": self.backend,
            "documents": len(self.records),
            "chunks": self.chunk_count,
            "terms": len(self._df) if self.changes is None else self.embedded().stats()["terms"],
            "collections": f"{self.cols.prefix}_*",
            "pending": int(self.changes is not None),
        }

    # ---- writes --------------------------------------------------------------------------------------
    def update(
        self,
        *,
        upsert: Sequence[PreparedDocument],
        remove: Sequence[str],
        roots: list[str] | None = None,
    ) -> Store:
        """The next snapshot, pending until `save` writes it to Milvus (nothing is sent before)."""
        for p in upsert:
            shapes = [p.chunk_vectors] + ([p.sentence_vectors] if p.sentence_vectors is not None else [])
            if any(a.ndim != 2 or (len(a) and a.shape[1] != self.dimension) for a in shapes):
                raise IndexUnavailable(
                    f"index {self.name!r} holds {self.dimension}-dimensional vectors but document "
                    f"{p.document.doc_id!r} comes with others; rebuild it with: rag index --index {self.name} --rebuild"
                )
        if self.changes is not None and (self.base is not None or self.changes != ([], [])):
            # a pending store changed again: only ever read (what-if evaluation), so in memory
            return self.embedded().update(upsert=upsert, remove=remove, roots=roots)
        return MilvusStore(
            self.cols,
            name=self.name,
            model_id=self.model_id,
            dimension=self.dimension,
            chunking=self.chunking,
            roots=sorted(set(roots if roots is not None else self.roots)),
            exact=self.exact,
            base=self if self.changes is None else None,  # None: a new index (see `empty`)
            changes=(list({p.document.doc_id: p for p in upsert}.values()), list(dict.fromkeys(remove))),
        )

    def save(self, path: Path) -> str:
        """Apply a pending update to Milvus, record the version there and in `path/CURRENT`; returns it."""
        from rag.stores.milvus_write import apply, mark_version

        with write_lock(path):
            try:
                if self.changes is not None:
                    apply(self)
                version = f"milvus-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
                mark_version(self, version)
            except MilvusException as exc:
                raise IndexUnavailable(
                    f"index {self.name!r}: Milvus refused the write ({exc.message})"
                ) from None
            pointer = path / ".CURRENT.tmp"
            with open(pointer, "w", encoding="utf-8") as fh:
                fh.write(version + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(pointer, path / "CURRENT")
            fsync_dir(path)
            return version
