"""The embedded backend (default): segments of FAISS vectors and BM25 terms, updated in time proportional to
the change and saved by appending (see rag.stores.persist).

A snapshot is a list of immutable segments plus, per segment, the ids of its documents that were removed or
replaced since. An update builds one segment from the new documents, marks the old copies dead and adjusts
the index-wide BM25 statistics (chunk count, length, document frequencies) by what changed. Segments of a
similar size are merged once `MERGE_FACTOR` of them pile up (dropping dead rows), so a search visits a few
segments and each row is rewritten O(log n) times over the life of the index. A segment merged past
`ann_min_chunks` rows gets its HNSW index on a background thread (rag.stores.hnsw), not inside the write.
"""

from __future__ import annotations

import bisect
import heapq
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.stores import hnsw
from rag.stores.keyword import idf as bm25_idf
from rag.stores.live import LiveView, chunk_terms
from rag.stores.merging import merged
from rag.stores.protocol import (
    ChunkingConfig,
    DocumentRecord,
    PreparedDocument,
    Ranking,
    SentenceKey,
)
from rag.stores.segment import Segment
from rag.types import Chunk, Document

if TYPE_CHECKING:
    from rag.fusion import Fusion

DEFAULT_ANN_MIN_CHUNKS = 50_000  # rag.settings.Settings.ann_min_chunks


class EmbeddedStore:
    """One immutable snapshot of an embedded index (implements rag.stores.protocol.Store)."""

    backend = "embedded"

    def __init__(
        self,
        *,
        model_id: str,
        dimension: int,
        chunking: ChunkingConfig,
        roots: list[str],
        segments: Sequence[Segment] = (),
        dead: Mapping[str, frozenset[str]] | None = None,
        df: dict[str, int] | None = None,
        saved: set[str] | None = None,
        ann_min_chunks: int = DEFAULT_ANN_MIN_CHUNKS,
        previous: EmbeddedStore | None = None,
    ) -> None:
        self.model_id = model_id
        self.dimension = dimension
        self.chunking = chunking
        self.roots = roots
        self.saved = saved if saved is not None else set()  # names of segments already on disk
        self.ann_min_chunks = ann_min_chunks
        view = LiveView.of(segments, dead or {}, previous._view if previous is not None else None)
        self._view = view
        self.segments, self.dead = view.segments, view.dead
        self._segment_of, self._documents, self._records = view.segment_of, view.documents, view.records
        self._alive, self._live, self._length = view.alive, view.chunks, view.length
        self._bases = []
        total = 0
        for s in self.segments:
            self._bases.append(total)
            total += len(s.chunks)
        self._df = df if df is not None else view.document_frequencies()
        for segment in self.segments:  # merged (or loaded) past the threshold: HNSW built off the write path
            if segment.wants_ann(ann_min_chunks):
                hnsw.schedule(segment)

    @classmethod
    def empty(cls, model_id: str, dimension: int, chunking: ChunkingConfig, **options: int) -> EmbeddedStore:
        """An index with no documents."""
        return cls(model_id=model_id, dimension=dimension, chunking=chunking, roots=[], **options)

    # ---- reads ---------------------------------------------------------------------------------------
    @property
    def documents(self) -> Mapping[str, Document]:
        """Every live document by id."""
        return self._documents

    @property
    def records(self) -> Mapping[str, DocumentRecord]:
        """Every live document's record by id."""
        return self._records

    @property
    def chunk_count(self) -> int:
        """Number of live chunks."""
        return self._live

    @property
    def has_sentence_vectors(self) -> bool:
        """True when every segment stores sentence vectors."""
        return all(s.sentence_vectors is not None for s in self.segments)

    def _locate(self, row: int) -> tuple[Segment, int]:
        i = bisect.bisect_right(self._bases, row) - 1
        if i < 0 or row - self._bases[i] >= len(self.segments[i].chunks):
            raise IndexError(f"no chunk row {row}")
        return self.segments[i], row - self._bases[i]

    def chunk(self, row: int) -> Chunk:
        """The chunk at a row returned by a search."""
        segment, local = self._locate(row)
        return segment.chunks[local]

    def chunk_vector(self, row: int) -> np.ndarray:
        """The stored vector of the chunk at `row`."""
        segment, local = self._locate(row)
        return segment.vectors[local]

    def chunks_of(self, doc_id: str) -> list[tuple[int, Chunk]]:
        """(row, chunk) of every chunk of a live document, in document order."""
        i = self._segment_of.get(doc_id)
        if i is None:
            return []
        segment = self.segments[i]
        lo, hi = segment.doc_rows.get(doc_id, (0, 0, 0, 0))[:2]
        return [(self._bases[i] + r, segment.chunks[r]) for r in range(lo, hi)]

    def iter_chunks(self) -> Iterator[tuple[int, Chunk]]:
        """(row, chunk) of every live chunk."""
        for i, segment in enumerate(self.segments):
            alive = self._alive.get(i)
            for r, chunk in enumerate(segment.chunks):
                if alive is None or alive[r]:
                    yield self._bases[i] + r, chunk

    def sentence_vectors(self, keys: Sequence[SentenceKey]) -> np.ndarray | None:
        """Stored vectors of these sentences, or None when any is not stored."""
        rows = []
        for key in keys:
            i = self._segment_of.get(key[0])
            segment = self.segments[i] if i is not None else None
            row = segment.sentence_index.get(key) if segment is not None else None
            if segment is None or row is None or segment.sentence_vectors is None:
                return None
            rows.append(segment.sentence_vectors[row])
        return np.stack(rows) if rows else np.zeros((0, self.dimension), np.float32)

    def document_frequency(self, token: str) -> int:
        """In how many live chunks a stemmed token occurs."""
        return self._df.get(token, 0)

    def idf(self, token: str) -> float:
        """BM25 inverse document frequency of a stemmed token over the live chunks."""
        return bm25_idf(self._live, self._df.get(token, 0))

    def dense_search(self, vector: np.ndarray, n: int, *, exact: bool = False) -> Ranking:
        """(row, inner product) of the `n` nearest live chunks (`exact` skips the approximate index)."""
        found: list[tuple[float, int]] = []
        for i, segment in enumerate(self.segments):
            alive = self._alive.get(i)
            extra = 0 if alive is None else len(alive) - int(alive.sum())
            rows, scores = segment.dense(vector, n + extra, exact=exact)
            for r, s in zip(rows.tolist(), scores.tolist()):
                if alive is None or alive[r]:
                    found.append((s, self._bases[i] + r))
        best = heapq.nlargest(n, found, key=lambda item: (item[0], -item[1]))
        return [(row, score) for score, row in best]

    def keyword_search(self, tokens: Sequence[str], n: int) -> Ranking:
        """(row, BM25 score) of the best `n` live chunks with a positive score."""
        if not self._live or n <= 0:
            return []
        weights = {t: self.idf(t) * c for t, c in Counter(tokens).items() if t in self._df}
        if not weights:
            return []
        avgdl = self._length / self._live
        found: list[tuple[float, int]] = []
        for i, segment in enumerate(self.segments):
            scores = segment.terms.scores(weights, avgdl)
            alive = self._alive.get(i)
            if alive is not None:
                scores[~alive] = 0.0
            hits = np.flatnonzero(scores > 0)
            if len(hits) > n:
                hits = hits[np.argpartition(-scores[hits], n - 1)[:n]]
            found.extend((float(scores[r]), self._bases[i] + int(r)) for r in hits)
        best = heapq.nlargest(n, found, key=lambda item: (item[0], -item[1]))
        return [(row, score) for score, row in best]

    def hybrid_search(
        self, vector: np.ndarray, tokens: Sequence[str], fusion: Fusion
    ) -> tuple[dict[int, float], Ranking, Ranking]:
        """Fused scores by row, with the dense and BM25 rankings of `fusion.candidates` chunks each."""
        n = min(fusion.candidates, self._live)
        dense = self.dense_search(vector, n) if fusion.dense_weight > 0 and n else []
        sparse = self.keyword_search(tokens, n) if fusion.bm25_weight > 0 and n else []
        return fusion.run(dense, sparse, self._live), dense, sparse

    def export(self, doc_id: str) -> PreparedDocument:
        """A live document with its chunks and vectors, as prepared (to move it without re-embedding)."""
        return self.segments[self._segment_of[doc_id]].export(doc_id)

    def stats(self) -> dict[str, int | str]:
        """Sizes and layout."""
        return {
            "backend": self.backend,
            "documents": len(self._documents),
            "chunks": self._live,
            "sentences": sum(len(s.sentence_doc) for s in self.segments),
            "segments": len(self.segments),
            "approximate_segments": sum(s.ann is not None for s in self.segments),
            "approximate_pending": sum(s.ann_pending is not None for s in self.segments),
            "terms": len(self._df),
        }

    def settle(self, timeout: float | None = None) -> bool:
        """Wait for the background HNSW builds of this snapshot's segments (rag.stores.hnsw)."""
        return hnsw.wait(self.segments, timeout)

    # ---- writes --------------------------------------------------------------------------------------
    def update(
        self,
        *,
        upsert: Sequence[PreparedDocument],
        remove: Sequence[str],
        roots: list[str] | None = None,
    ) -> EmbeddedStore:
        """The next snapshot: `remove` and the old copies of upserted ids dropped, `upsert` added."""
        drop = {d for d in remove if d in self._segment_of}
        drop |= {p.document.doc_id for p in upsert if p.document.doc_id in self._segment_of}
        dead = {name: set(ids) for name, ids in self.dead.items()}
        df: Counter[str] = Counter(self._df)
        for doc_id in drop:
            segment = self.segments[self._segment_of[doc_id]]
            dead[segment.name].add(doc_id)
            df.subtract(chunk_terms(segment, doc_id))
        segments = list(self.segments)
        if upsert:
            fresh = Segment.build(upsert, self.dimension, self.ann_min_chunks)
            segments.append(fresh)
            dead[fresh.name] = set()
            df.update(fresh.terms.document_frequencies())
        segments, dead = merged(segments, dead, self.dimension)
        return EmbeddedStore(
            model_id=self.model_id,
            dimension=self.dimension,
            chunking=self.chunking,
            roots=sorted(set(roots if roots is not None else self.roots)),
            segments=segments,
            dead={name: frozenset(ids) for name, ids in dead.items()},
            df={t: c for t, c in df.items() if c > 0},
            saved=set(self.saved),
            ann_min_chunks=self.ann_min_chunks,
            previous=self,
        )

    def save(self, path: Path) -> str:
        """Persist this snapshot atomically, writing only segments not yet on disk; returns the version."""
        from rag.stores.persist import save

        return save(self, path)

    @classmethod
    def load(
        cls, path: Path, *, reuse: EmbeddedStore | None = None, ann_min_chunks: int | None = None
    ) -> EmbeddedStore:
        """The current version of the index at `path` (segments already in `reuse` are not read again)."""
        from rag.stores.persist import load

        return load(path, reuse=reuse, ann_min_chunks=ann_min_chunks)
