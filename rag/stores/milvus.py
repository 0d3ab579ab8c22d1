"""The Milvus backend: a `Store` over the collections of a Milvus Lite file or a Milvus server (pymilvus).

A committed `MilvusStore` holds the documents' records, which write (a random id) of each document is live, and
the term document frequencies in memory; chunks, vectors and texts stay in Milvus and are fetched on demand.
Every row a write inserts carries its write id, and a document's row in the documents collection names its
live write: hits from any other write (a replaced copy not yet deleted, or rows of a write that failed) are
dropped, so a reader never sees half a document. `update` changes nothing on the server: it returns a pending
store, and `save` applies it (see rag.stores.milvus_write). A pending store that is read before it is saved
(`Pipeline.derived`, what-if evaluation) is read through an in-memory EmbeddedStore copy.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.settings import FusionMethod
from rag.stores import milvus_read as read
from rag.stores.embedded import EmbeddedStore
from rag.stores.keyword import idf as bm25_idf
from rag.stores.milvus_collections import CHUNKS, Collections
from rag.stores.protocol import ChunkingConfig, DocumentRecord, PreparedDocument, Ranking, SentenceKey
from rag.types import Chunk, Document

if TYPE_CHECKING:
    from rag.fusion import Fusion
    from rag.stores.protocol import Store


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
        self._documents = read.Documents(self)
        self.rows: dict[int, tuple[Chunk, np.ndarray | None]] = {}  # chunks (and vectors) read, by row
        self.ranked: tuple[list[int], dict[int, int]] = ([], {})  # the last hybrid search's rows, best first

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
        return cls(cols, name=name, exact=exact, **read.read_index(cols, name))

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
            self._mirror = store.update(upsert=read.export_many(self, None), remove=[], roots=self.roots)
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

    def chunk_of(self, row: dict) -> Chunk:
        """The Chunk of a row read from the chunks collection."""
        doc_id = row["doc_id"]
        text = row["text"] or self.documents[doc_id].text[row["start"] : row["end"]]
        spans = tuple((int(s), int(e)) for s, e in row["sentences"])
        return Chunk(doc_id, self._records[doc_id].title, row["start"], row["end"], text, spans)

    def chunk(self, row: int) -> Chunk:
        """The chunk at a row returned by a search."""
        view = self._view()
        return view.chunk(row) if view is not None else read.fetch(self, row)[0]

    def chunk_vector(self, row: int) -> np.ndarray:
        """The stored vector of the chunk at `row`."""
        view = self._view()
        vector = view.chunk_vector(row) if view is not None else read.fetch(self, row, vector=True)[1]
        assert vector is not None
        return vector

    def _live_rows(self, expr: str) -> list[dict]:
        return [r for r in self.cols.scan(CHUNKS, expr, read.CHUNK_FIELDS) if read.is_live(self, r)]

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
        return [(r["row"], self.chunk_of(r)) for r in sorted(rows, key=lambda r: (r["start"], r["row"]))]

    def iter_chunks(self) -> Iterator[tuple[int, Chunk]]:
        """(row, chunk) of every live chunk, by row."""
        view = self._view()
        if view is not None:
            yield from view.iter_chunks()
            return
        for r in sorted(self._live_rows('doc_id != ""'), key=lambda r: r["row"]):
            yield r["row"], self.chunk_of(r)

    def sentence_vectors(self, keys: Sequence[SentenceKey]) -> np.ndarray | None:
        """Stored vectors of these sentences, or None when any is not stored."""
        view = self._view()
        return view.sentence_vectors(keys) if view is not None else read.sentence_vectors(self, keys)

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

    def dense_search(self, vector: np.ndarray, n: int) -> Ranking:
        """(row, inner product) of the `n` nearest chunks."""
        view = self._view()
        if view is not None:
            return view.dense_search(vector, n)
        n = min(n, self._live)
        return (
            read.search(self, [np.asarray(vector, np.float32).tolist()], "vector", "IP", n) if n > 0 else []
        )

    def keyword_search(self, tokens: Sequence[str], n: int) -> Ranking:
        """(row, BM25 score) of the best `n` chunks with a positive score (Milvus's BM25 over our terms)."""
        view = self._view()
        if view is not None:
            return view.keyword_search(tokens, n)
        n = min(n, self._live)
        if n <= 0 or not any(t in self._df for t in tokens):
            return []
        return read.search(self, [" ".join(tokens)], "sparse", "BM25", n)

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
            fused = read.rrf_search(self, vector, tokens, fusion, n)
            dense, sparse = [], []
        else:
            dense = self.dense_search(vector, n) if fusion.dense_weight > 0 and n else []
            sparse = self.keyword_search(tokens, n) if fusion.bm25_weight > 0 and n else []
            fused = fusion.run(dense, sparse, self._live)
        order = sorted(fused, key=lambda row: (-fused[row], row))
        self.ranked = (order, {row: i for i, row in enumerate(order)})
        return fused, dense, sparse

    def export(self, doc_id: str) -> PreparedDocument:
        """A stored document with its chunks and vectors, to move it without re-embedding."""
        view = self._view()
        if view is not None:
            return view.export(doc_id)
        if doc_id not in self._records:
            raise KeyError(doc_id)
        return read.export_many(self, [doc_id])[0]

    def stats(self) -> dict[str, int | str]:
        """Sizes and where the index lives."""
        return {
            "backend": self.backend,
            "documents": len(self.records),
            "chunks": self.chunk_count,
            "terms": len(self._df) if self.changes is None else int(self.embedded().stats()["terms"]),
            "collections": f"{self.cols.prefix}_*",
            "pending": int(self.changes is not None),
        }

    def settle(self, timeout: float | None = None) -> bool:
        """Nothing runs in the background here: Milvus builds its own indexes."""
        return True

    # ---- writes --------------------------------------------------------------------------------------
    def update(
        self,
        *,
        upsert: Sequence[PreparedDocument],
        remove: Sequence[str],
        roots: list[str] | None = None,
    ) -> Store:
        """The next snapshot, pending until `save` writes it to Milvus (nothing is sent before)."""
        from rag.stores.milvus_write import check_dimensions

        check_dimensions(self, upsert)
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
        from rag.stores.milvus_write import save

        return save(self, path)
