"""An immutable segment of the embedded store: some documents with their chunks, vectors and BM25 terms.

A write adds one new segment and marks replaced documents dead in older ones; segments are merged now and
then (see rag.stores.embedded). Search is exact (FAISS knn over the segment's vectors) below `ann_min_chunks`
rows and HNSW above: built with the segment when a write adds that many rows, on a background thread for a
merged segment (rag.stores.hnsw), the segment being searched exactly until it is ready.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import faiss
import numpy as np
from scipy import sparse

from rag.stores import hnsw
from rag.stores.keyword import TermMatrix
from rag.stores.protocol import DocumentRecord, PreparedDocument, passage_text
from rag.text import tokenize
from rag.types import Chunk, Document


# One question's search runs on one thread: FAISS's OpenMP threads for a single query vector cost more than they
# save (p50 over a 50k-row flat index on the 2-core machine: 40 ms with 2 threads, 10 ms with 1), and a server
# answers several questions at once anyway. Bulk HNSW builds use every core for their duration. The setting
# belongs to the calling thread and, when torch was imported before faiss, is the one torch's intra-op threads
# read too (one OpenMP runtime): so it is set around each search and put back afterwards, never left behind.
@contextmanager
def one_omp_thread() -> Iterator[None]:
    """FAISS calls inside run on one OpenMP thread; the thread's previous setting is restored on exit."""
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def new_name() -> str:
    """A unique, time-ordered segment name."""
    return f"s-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"


@dataclass(eq=False)
class Segment:
    """Documents stored together; never changed once built (deletions are kept by the store, not here)."""

    name: str
    dimension: int
    documents: dict[str, Document]
    records: dict[str, DocumentRecord]
    chunks: list[Chunk]
    vectors: np.ndarray  # (n, d) chunk vectors
    sentence_spans: np.ndarray  # (m, 2)
    sentence_doc: list[str]
    sentence_vectors: np.ndarray | None  # (m, d) or None
    terms: TermMatrix
    ann: faiss.Index | None = None  # approximate index when built (large segments)
    doc_rows: dict[str, tuple[int, int, int, int]] = field(
        default_factory=dict
    )  # chunk lo/hi, sentence lo/hi
    folders: set[Path] = field(default_factory=set, repr=False)  # where it is saved (for a later hnsw.faiss)
    ann_pending: threading.Event | None = field(default=None, repr=False)  # set when a queued build is done

    def __post_init__(self) -> None:
        if not self.doc_rows:
            self.doc_rows = _doc_rows([c.doc_id for c in self.chunks], self.sentence_doc)

    # ---- building ------------------------------------------------------------------------------------
    @classmethod
    def _of(cls, prepared: Sequence[PreparedDocument], terms: TermMatrix, dimension: int) -> Segment:
        """A new segment of prepared documents, in order, with their BM25 `terms` (one row per chunk)."""
        with_sentences = all(p.sentence_vectors is not None for p in prepared)
        segment = cls(
            name=new_name(),
            dimension=dimension,
            documents={p.document.doc_id: p.document for p in prepared},
            records={p.document.doc_id: p.record for p in prepared},
            chunks=[c for p in prepared for c in p.chunks],
            vectors=_stack([p.chunk_vectors for p in prepared], dimension),
            sentence_spans=np.concatenate(
                [np.zeros((0, 2), np.int64)] + [p.sentence_spans for p in prepared]
            ),
            sentence_doc=[p.document.doc_id for p in prepared for _ in range(len(p.sentence_spans))],
            sentence_vectors=(
                _stack([p.sentence_vectors for p in prepared], dimension) if with_sentences else None
            ),
            terms=terms,
        )
        return segment

    @classmethod
    def build(cls, prepared: Sequence[PreparedDocument], dimension: int, ann_min_chunks: int) -> Segment:
        """A segment of freshly prepared documents (their BM25 terms are computed here), with its HNSW index
        when it has `ann_min_chunks` rows or more (a write that large pays for its own index)."""
        texts = [passage_text(c) for p in prepared for c in p.chunks]
        segment = cls._of(prepared, TermMatrix.from_tokens(tokenize(texts)), dimension)
        segment.ensure_ann(ann_min_chunks)
        return segment

    def export(self, doc_id: str) -> PreparedDocument:
        """One document with its chunks and vectors, as it was prepared (to move it without re-embedding)."""
        lo, hi, slo, shi = self.doc_rows.get(doc_id, (0, 0, 0, 0))
        return PreparedDocument(
            document=self.documents[doc_id],
            record=self.records[doc_id],
            chunks=self.chunks[lo:hi],
            chunk_vectors=self.vectors[lo:hi],
            sentence_spans=self.sentence_spans[slo:shi],
            sentence_vectors=None if self.sentence_vectors is None else self.sentence_vectors[slo:shi],
        )

    @classmethod
    def merge(cls, parts: Sequence[tuple[Segment, set[str]]], dimension: int) -> Segment:
        """One segment holding the live documents of `parts` ((segment, dead doc ids) pairs), without an HNSW
        index (the store queues its build: rag.stores.hnsw)."""
        prepared: list[PreparedDocument] = []
        terms: list[TermMatrix] = []
        for segment, dead in parts:
            live = [d for d in segment.documents if d not in dead]
            prepared.extend(segment.export(d) for d in live)
            rows = [np.arange(*segment.doc_rows.get(d, (0, 0))[:2]) for d in live]
            terms.append(segment.terms.take(np.concatenate(rows) if rows else np.zeros(0, np.int64)))
        return cls._of(prepared, TermMatrix.concat(terms), dimension)

    # ---- searching -----------------------------------------------------------------------------------
    def wants_ann(self, ann_min_chunks: int) -> bool:
        """True when this segment has `ann_min_chunks` rows or more and no HNSW index yet."""
        return self.ann is None and len(self.chunks) >= ann_min_chunks > 0

    def ensure_ann(self, ann_min_chunks: int) -> None:
        """Build the HNSW index now (in this thread) when this segment has `ann_min_chunks` rows or more."""
        if self.wants_ann(ann_min_chunks):
            self.ann = hnsw.build(self.vectors)

    def dense(self, vector: np.ndarray, k: int, exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(local rows, scores) of the `k` nearest chunks (approximate when an HNSW index exists)."""
        k = min(k, len(self.chunks))
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        ann = self.ann  # read once: a background build may swap one in at any moment
        with one_omp_thread():
            if ann is not None and not exact:
                params = faiss.SearchParametersHNSW(efSearch=hnsw.ef_search(len(self.chunks), k))
                scores, rows = ann.search(vector.reshape(1, -1), k, params=params)
            else:
                # Exact search straight over the segment's own array: no FAISS flat copy of the vectors to keep.
                query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
                scores, rows = faiss.knn(query, self.vectors, k, metric=faiss.METRIC_INNER_PRODUCT)
        keep = rows[0] >= 0
        return rows[0][keep].astype(np.int64), scores[0][keep]

    @cached_property
    def sentence_index(self) -> dict[tuple[str, int, int], int]:
        """Row of each (doc_id, start, end) sentence."""
        return {
            (d, int(s), int(e)): i
            for i, (d, (s, e)) in enumerate(zip(self.sentence_doc, self.sentence_spans))
        }

    # ---- persistence ---------------------------------------------------------------------------------
    def write(self, folder: Path) -> None:
        """Write every file of this segment into `folder` (fsynced; `segment.json` last)."""
        folder.mkdir(parents=True)
        with open(folder / "documents.jsonl", "w", encoding="utf-8") as fh:
            for doc_id, doc in self.documents.items():
                record = self.records[doc_id]
                row = {"doc_id": doc_id, "title": doc.title, "text": doc.text, "source": doc.source}
                row |= {"metadata": doc.metadata, "sha256": record.sha256, "chunks": record.chunks}
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        with open(folder / "chunks.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(
                json.dumps({"doc_id": c.doc_id, "start": c.start, "end": c.end, "sentences": c.sentences})
                + "\n"
                for c in self.chunks
            )
        np.save(folder / "vectors.npy", self.vectors)
        np.save(folder / "sentence_spans.npy", self.sentence_spans)
        (folder / "sentence_doc.json").write_text(json.dumps(self.sentence_doc), encoding="utf-8")
        if self.sentence_vectors is not None:
            np.save(folder / "sentence_vectors.npy", self.sentence_vectors)
        sparse.save_npz(folder / "terms.npz", sparse.csc_matrix(self.terms.matrix), compressed=False)
        np.save(folder / "lengths.npy", self.terms.lengths)
        with open(folder / "vocab.json", "w", encoding="utf-8") as fh:
            json.dump(list(self.terms.vocab), fh, ensure_ascii=False)
        ann = self.ann
        if ann is not None:
            faiss.write_index(ann, str(folder / hnsw.ANN_FILE))
        meta = {"chunks": len(self.chunks), "sentences": len(self.sentence_doc), "dimension": self.dimension}
        (folder / "segment.json").write_text(json.dumps(meta), encoding="utf-8")
        for file in folder.iterdir():
            with open(file, "rb") as fh:
                os.fsync(fh.fileno())

    @classmethod
    def read(cls, folder: Path) -> Segment:
        """Load a segment written by `write`; raises on any missing or inconsistent file."""
        meta = json.loads((folder / "segment.json").read_text(encoding="utf-8"))
        documents, rows = read_documents(folder / "documents.jsonl")
        records = {
            d: DocumentRecord(
                d, doc.title, doc.source, rows[d]["sha256"], rows[d]["chunks"], len(doc.text), doc.metadata
            )
            for d, doc in documents.items()
        }
        chunks = read_chunks(folder / "chunks.jsonl", documents)
        spans = np.load(folder / "sentence_spans.npy").astype(np.int64).reshape(-1, 2)
        sent_file = folder / "sentence_vectors.npy"
        vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        terms = TermMatrix(
            {t: i for i, t in enumerate(vocab)},
            sparse.csc_array(sparse.load_npz(folder / "terms.npz")),
            np.load(folder / "lengths.npy"),
        )
        sentence_doc = json.loads((folder / "sentence_doc.json").read_text(encoding="utf-8"))
        ann_file = folder / hnsw.ANN_FILE
        segment = cls(
            name=folder.name,
            dimension=int(meta["dimension"]),
            documents=documents,
            records=records,
            chunks=chunks,
            vectors=np.load(folder / "vectors.npy"),
            sentence_spans=spans,
            sentence_doc=sentence_doc,
            sentence_vectors=np.load(sent_file) if sent_file.is_file() else None,
            terms=terms,
            ann=faiss.read_index(str(ann_file)) if ann_file.is_file() else None,
        )
        if (
            len(chunks) != meta["chunks"]
            or len(segment.vectors) != len(chunks)
            or terms.rows != len(chunks)
            or len(spans) != meta["sentences"]
            or len(sentence_doc) != len(spans)
            or (segment.sentence_vectors is not None and len(segment.sentence_vectors) != len(spans))
        ):
            raise ValueError(f"segment {folder.name}: row counts disagree between files")
        return segment


def _doc_rows(chunk_doc: list[str], sentence_doc: list[str]) -> dict[str, tuple[int, int, int, int]]:
    """Contiguous chunk and sentence row ranges of each document."""
    ranges: dict[str, list[int]] = {}
    for i, d in enumerate(chunk_doc):
        r = ranges.setdefault(d, [i, i + 1, 0, 0])
        r[1] = i + 1
    seen: set[str] = set()
    for i, d in enumerate(sentence_doc):
        r = ranges.setdefault(d, [0, 0, i, i + 1])
        if d not in seen:
            seen.add(d)
            r[2] = i
        r[3] = i + 1
    return {d: (r[0], r[1], r[2], r[3]) for d, r in ranges.items()}


def _stack(parts: Sequence[np.ndarray | None], dimension: int) -> np.ndarray:
    arrays = [p for p in parts if p is not None and len(p)]
    if not arrays:
        return np.zeros((0, dimension), np.float32)
    return np.ascontiguousarray(np.concatenate(arrays), dtype=np.float32)


def read_documents(path: Path) -> tuple[dict[str, Document], dict[str, dict]]:
    """The documents of a `documents.jsonl` file by id, and each line's fields (for what else it records)."""
    documents: dict[str, Document] = {}
    rows: dict[str, dict] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            doc = Document(row["doc_id"], row["title"], row["text"], row["source"], row.get("metadata") or {})
            documents[doc.doc_id], rows[doc.doc_id] = doc, row
    return documents, rows


def read_chunks(path: Path, documents: dict[str, Document]) -> list[Chunk]:
    """The chunks of a `chunks.jsonl` file (offsets into their documents' text)."""
    chunks: list[Chunk] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            doc = documents[row["doc_id"]]
            start, end = row["start"], row["end"]
            spans = tuple(tuple(s) for s in row["sentences"])
            chunks.append(Chunk(doc.doc_id, doc.title, start, end, doc.text[start:end], spans))
    return chunks
