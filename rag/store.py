"""The on-disk index: FAISS vectors, BM25, chunk and sentence tables and a manifest, saved atomically.

Layout of `index/<name>/`: `CURRENT` names the live version folder `v-*`; a save writes a complete new
version folder and then replaces `CURRENT` in one `os.replace`, so a crash at any point leaves the previous
version intact and loadable. An `IndexData` is immutable: updates build a new one (readers keep theirs).

Writers in any process serialise on `write_lock` (an `fcntl.flock` on `.lock` in the index folder): a writer
holds it around reading the latest committed version, updating it and saving, so no commit is built on a stale
version. Version and staging folders that `CURRENT` does not name (left by a crash) are removed by `load` when
no writer is at work.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import math
import os
import shutil
import threading
import time
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import bm25s
import faiss
import numpy as np
import Stemmer

from rag.chunking import CHUNKER_VERSION, chunk_document
from rag.errors import IndexUnavailable
from rag.types import Chunk, Document

log = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets its own logger to DEBUG when imported

FORMAT_VERSION = 1
_STEMMER = Stemmer.Stemmer("english")


def fold_accents(text: str) -> str:
    """`text` without diacritics ("Liège" -> "Liege"), so spelling variants match."""
    if text.isascii():
        return text
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def tokenize(texts: list[str]) -> list[list[str]]:
    """BM25 tokens: accent-folded lower-cased words, English stop words removed, Snowball-stemmed."""
    return bm25s.tokenize(
        [fold_accents(t) for t in texts],
        stopwords="en",
        stemmer=_STEMMER,
        return_ids=False,
        show_progress=False,
    )


def content_hash(doc: Document) -> str:
    """Hash of what the index derives from a document (title and cleaned text)."""
    return hashlib.sha256(f"{doc.title}\n\x00{doc.text}".encode()).hexdigest()


def passage_text(chunk: Chunk) -> str:
    """What is embedded and BM25-indexed for a chunk: its document title, then its text."""
    return f"{chunk.title}\n{chunk.text}" if chunk.title else chunk.text


@dataclass(frozen=True)
class ChunkingConfig:
    """Chunking parameters recorded in the manifest; a change re-chunks every document."""

    chunk_size: int
    chunk_overlap: int
    version: int = CHUNKER_VERSION


@dataclass(frozen=True)
class DocumentRecord:
    """Per-document entry of the manifest."""

    doc_id: str
    title: str
    source: str
    sha256: str
    chunks: int
    chars: int
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class UpdateStats:
    """What an update did: documents added, changed, removed, unchanged and how many texts it embedded."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    embedded_chunks: int = 0
    embedded_sentences: int = 0

    @property
    def modified(self) -> bool:
        """True when the index content differs from before the update."""
        return bool(self.added or self.changed or self.removed)


EmbedFn = Callable[[list[str], bool], np.ndarray]


class IndexData:
    """An immutable snapshot of one index: documents, chunks, vectors, BM25 and sentence vectors."""

    def __init__(
        self,
        *,
        model_id: str,
        dimension: int,
        chunking: ChunkingConfig,
        roots: list[str],
        documents: dict[str, Document],
        records: dict[str, DocumentRecord],
        chunks: list[Chunk],
        chunk_vectors: np.ndarray,
        sentence_spans: np.ndarray,
        sentence_doc: list[str],
        sentence_vectors: np.ndarray | None,
        bm25: bm25s.BM25 | None = None,
    ) -> None:
        self.model_id = model_id
        self.dimension = dimension
        self.chunking = chunking
        self.roots = roots
        self.documents = documents
        self.records = records
        self.chunks = chunks
        self.chunk_vectors = chunk_vectors
        self.sentence_spans = sentence_spans  # (m, 2) int64 document offsets
        self.sentence_doc = sentence_doc  # doc_id of each sentence row
        self.sentence_vectors = sentence_vectors  # (m, d) or None when sentences are not embedded
        self.faiss = faiss.IndexFlatIP(dimension)
        if len(chunks):
            self.faiss.add(chunk_vectors)
        self.bm25 = bm25 if bm25 is not None else self._build_bm25()
        self._df: Counter[str] | None = None
        self._sentence_rows: dict[tuple[str, int, int], int] = {
            (doc, int(s), int(e)): i for i, (doc, (s, e)) in enumerate(zip(sentence_doc, sentence_spans))
        }

    def _build_bm25(self) -> bm25s.BM25 | None:
        if not self.chunks:
            return None
        tokens = tokenize([passage_text(c) for c in self.chunks])
        if not any(tokens):  # only stop words / no words at all: BM25 has no vocabulary to index
            return None
        retriever = bm25s.BM25()
        retriever.index(tokens, show_progress=False)
        return retriever

    # ---- queries -------------------------------------------------------------------------------------
    def idf(self, token: str) -> float:
        """BM25-style inverse document frequency of a stemmed token over this index's chunks."""
        if self._df is None:
            df: Counter[str] = Counter()
            for tokens in tokenize([passage_text(c) for c in self.chunks]):
                df.update(set(tokens))
            self._df = df
        n, f = len(self.chunks), self._df.get(token, 0)
        return math.log(1 + (n - f + 0.5) / (f + 0.5))

    def sentence_row(self, doc_id: str, start: int, end: int) -> int | None:
        """Row of a sentence in `sentence_vectors`, or None when unknown."""
        return self._sentence_rows.get((doc_id, start, end))

    @property
    def chunk_count(self) -> int:
        """Number of chunks (FAISS rows)."""
        return len(self.chunks)

    # ---- construction --------------------------------------------------------------------------------
    @classmethod
    def empty(cls, model_id: str, dimension: int, chunking: ChunkingConfig) -> IndexData:
        """An index with no documents."""
        return cls(
            model_id=model_id,
            dimension=dimension,
            chunking=chunking,
            roots=[],
            documents={},
            records={},
            chunks=[],
            chunk_vectors=np.zeros((0, dimension), np.float32),
            sentence_spans=np.zeros((0, 2), np.int64),
            sentence_doc=[],
            sentence_vectors=np.zeros((0, dimension), np.float32),
        )

    def update(
        self,
        *,
        upsert: list[Document],
        remove: list[str],
        embed: EmbedFn,
        embed_sentences: bool = True,
        roots: list[str] | None = None,
        progress: bool = False,
    ) -> tuple[IndexData, UpdateStats]:
        """A new snapshot with `upsert` added or replaced and `remove` dropped; only new text is embedded."""
        stats = UpdateStats()
        documents = dict(self.documents)
        records = dict(self.records)
        for doc_id in remove:
            if doc_id in documents:
                del documents[doc_id], records[doc_id]
                stats.removed.append(doc_id)
        fresh: list[Document] = []
        for doc in upsert:
            digest = content_hash(doc)
            old = records.get(doc.doc_id)
            if old is not None and old.sha256 == digest:
                stats.unchanged.append(doc.doc_id)
                if old.source != doc.source or old.metadata != doc.metadata:
                    records[doc.doc_id] = DocumentRecord(
                        doc.doc_id, doc.title, doc.source, digest, old.chunks, old.chars, dict(doc.metadata)
                    )
                    documents[doc.doc_id] = doc
                continue
            (stats.changed if old is not None else stats.added).append(doc.doc_id)
            documents[doc.doc_id] = doc
            fresh.append(doc)
        fresh_ids = {d.doc_id for d in fresh}

        # Keep rows of documents that are neither removed nor changed.
        keep_chunk = [
            i for i, c in enumerate(self.chunks) if c.doc_id in documents and c.doc_id not in fresh_ids
        ]
        keep_sent = [i for i, d in enumerate(self.sentence_doc) if d in documents and d not in fresh_ids]
        chunks = [self.chunks[i] for i in keep_chunk]
        chunk_vecs = [self.chunk_vectors[keep_chunk]]
        spans = [self.sentence_spans[keep_sent]]
        sent_doc = [self.sentence_doc[i] for i in keep_sent]
        sent_vecs = (
            [self.sentence_vectors[keep_sent]]
            if self.sentence_vectors is not None and embed_sentences
            else None
        )

        new_chunks: list[Chunk] = []
        new_spans: list[tuple[int, int]] = []
        new_sent_doc: list[str] = []
        new_sent_text: list[str] = []
        for doc in fresh:
            doc_chunks = chunk_document(doc, self.chunking.chunk_size, self.chunking.chunk_overlap)
            new_chunks.extend(doc_chunks)
            records[doc.doc_id] = DocumentRecord(
                doc.doc_id,
                doc.title,
                doc.source,
                content_hash(doc),
                len(doc_chunks),
                len(doc.text),
                dict(doc.metadata),
            )
            seen: set[tuple[int, int]] = set()
            for chunk in doc_chunks:
                for span in chunk.sentences:
                    if span not in seen:
                        seen.add(span)
                        new_spans.append(span)
                        new_sent_doc.append(doc.doc_id)
                        new_sent_text.append(doc.text[span[0] : span[1]])
        if new_chunks:
            chunk_vecs.append(embed([passage_text(c) for c in new_chunks], progress))
            stats.embedded_chunks = len(new_chunks)
        if sent_vecs is not None and new_sent_text:
            sent_vecs.append(embed(new_sent_text, progress))
            stats.embedded_sentences = len(new_sent_text)
        chunks.extend(new_chunks)
        spans.append(np.asarray(new_spans, dtype=np.int64).reshape(-1, 2))
        sent_doc.extend(new_sent_doc)
        data = IndexData(
            model_id=self.model_id,
            dimension=self.dimension,
            chunking=self.chunking,
            roots=sorted(set(roots if roots is not None else self.roots)),
            documents=documents,
            records=records,
            chunks=chunks,
            chunk_vectors=_stack(chunk_vecs, self.dimension),
            sentence_spans=np.concatenate(spans),
            sentence_doc=sent_doc,
            sentence_vectors=_stack(sent_vecs, self.dimension) if sent_vecs is not None else None,
        )
        return data, stats

    # ---- persistence ---------------------------------------------------------------------------------
    def manifest(self) -> dict:
        """The manifest written beside the data: model, dimension, chunking and per-document hashes."""
        return {
            "format": FORMAT_VERSION,
            "model": self.model_id,
            "dimension": self.dimension,
            "chunking": {
                "chunk_size": self.chunking.chunk_size,
                "chunk_overlap": self.chunking.chunk_overlap,
                "version": self.chunking.version,
            },
            "roots": self.roots,
            "chunks": len(self.chunks),
            "sentences": len(self.sentence_doc),
            "sentence_vectors": self.sentence_vectors is not None,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "documents": {d: r.__dict__ for d, r in sorted(self.records.items())},
        }

    def save(self, path: Path) -> str:
        """Write this snapshot as a new version of the index at `path`, atomically; returns the version name."""
        path.mkdir(parents=True, exist_ok=True)
        with write_lock(path):
            version = f"v-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
            staging = path / f".tmp-{version}"
            staging.mkdir()
            try:
                self._write_files(staging)
                _fsync_dir(staging)
                staging.rename(path / version)
                pointer = path / ".CURRENT.tmp"
                with open(pointer, "w", encoding="utf-8") as fh:
                    fh.write(version + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(pointer, path / "CURRENT")
                _fsync_dir(path)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            _prune(path, keep=version)
            return version

    def _write_files(self, folder: Path) -> None:
        with open(folder / "documents.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(
                json.dumps(
                    {
                        "doc_id": doc.doc_id,
                        "title": doc.title,
                        "text": doc.text,
                        "source": doc.source,
                        "metadata": doc.metadata,
                    },
                    ensure_ascii=False,
                )
                + "\n"
                for doc in self.documents.values()
            )
        with open(folder / "chunks.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(
                json.dumps({"doc_id": c.doc_id, "start": c.start, "end": c.end, "sentences": c.sentences})
                + "\n"
                for c in self.chunks
            )
        faiss.write_index(self.faiss, str(folder / "faiss.index"))
        np.save(folder / "sentence_spans.npy", self.sentence_spans)
        with open(folder / "sentence_doc.json", "w", encoding="utf-8") as fh:
            json.dump(self.sentence_doc, fh)
        if self.sentence_vectors is not None:
            np.save(folder / "sentence_vectors.npy", self.sentence_vectors)
        if self.bm25 is not None:
            self.bm25.save(str(folder / "bm25"), show_progress=False)
        # The manifest goes last: a version folder without one is never made CURRENT.
        with open(folder / "manifest.json", "w", encoding="utf-8") as fh:
            json.dump(self.manifest(), fh, indent=1, ensure_ascii=False)
        for file in folder.rglob("*"):
            if file.is_file():
                with open(file, "rb") as fh:
                    os.fsync(fh.fileno())

    @classmethod
    def load(cls, path: Path) -> IndexData:
        """Load the current version of the index at `path`; raises IndexUnavailable with the reason."""
        name = path.name
        pointer = path / "CURRENT"
        remove_partial_versions(path)
        if not pointer.is_file():
            raise IndexUnavailable(
                f"no index named {name!r} in {path.parent}/; build it with: rag index --index {name}"
            )
        try:
            folder = path / pointer.read_text(encoding="utf-8").strip()
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            if manifest.get("format") != FORMAT_VERSION:
                raise ValueError(f"format {manifest.get('format')} (expected {FORMAT_VERSION})")
            documents: dict[str, Document] = {}
            with open(folder / "documents.jsonl", encoding="utf-8") as fh:
                for line in fh:
                    row = json.loads(line)
                    documents[row["doc_id"]] = Document(
                        row["doc_id"], row["title"], row["text"], row["source"], row.get("metadata") or {}
                    )
            chunks: list[Chunk] = []
            with open(folder / "chunks.jsonl", encoding="utf-8") as fh:
                for line in fh:
                    row = json.loads(line)
                    doc = documents[row["doc_id"]]
                    chunks.append(
                        Chunk(
                            doc.doc_id,
                            doc.title,
                            row["start"],
                            row["end"],
                            doc.text[row["start"] : row["end"]],
                            tuple(tuple(s) for s in row["sentences"]),
                        )
                    )
            index = faiss.read_index(str(folder / "faiss.index"))
            vectors = (
                index.reconstruct_n(0, index.ntotal)
                if index.ntotal
                else np.zeros((0, manifest["dimension"]), np.float32)
            )
            spans = np.load(folder / "sentence_spans.npy")
            sentence_doc = json.loads((folder / "sentence_doc.json").read_text(encoding="utf-8"))
            sent_file = folder / "sentence_vectors.npy"
            sentence_vectors = np.load(sent_file) if sent_file.is_file() else None
            bm25 = (
                bm25s.BM25.load(str(folder / "bm25"), show_progress=False)
                if chunks and (folder / "bm25").exists()
                else None
            )
            records = {d: DocumentRecord(**r) for d, r in manifest["documents"].items()}
            if (
                len(chunks) != index.ntotal
                or index.d != manifest["dimension"]
                or len(spans) != len(sentence_doc)
            ):
                raise ValueError("row counts or dimension disagree between files")
            if sentence_vectors is not None and len(sentence_vectors) != len(spans):
                raise ValueError("sentence vectors and sentence table disagree")
        except IndexUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever broke, the index is unusable: one clear line
            raise IndexUnavailable(
                f"index {name!r} is corrupt or unreadable ({exc.__class__.__name__}: {exc}); "
                f"rebuild it with: rag index --index {name} --rebuild"
            ) from None
        return cls(
            model_id=manifest["model"],
            dimension=manifest["dimension"],
            chunking=ChunkingConfig(**{"version": 0, **manifest["chunking"]}),
            roots=manifest.get("roots", []),
            documents=documents,
            records=records,
            chunks=chunks,
            chunk_vectors=vectors,
            sentence_spans=spans.astype(np.int64).reshape(-1, 2),
            sentence_doc=sentence_doc,
            sentence_vectors=sentence_vectors,
            bm25=bm25,
        )


def _stack(parts: list[np.ndarray] | None, dimension: int) -> np.ndarray:
    parts = [p for p in (parts or []) if len(p)]
    if not parts:
        return np.zeros((0, dimension), np.float32)
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


_held = threading.local()  # index folders whose write lock this thread holds (the lock is re-entrant)


def _held_paths() -> set[str]:
    if not hasattr(_held, "paths"):
        _held.paths = set()
    return _held.paths


@contextlib.contextmanager
def write_lock(path: Path, *, blocking: bool = True) -> Iterator[bool]:
    """Hold the index's cross-process write lock (`flock` on `path/.lock`); yields whether it is held.

    Re-entrant within a thread. With `blocking=False` it yields False at once when another writer holds it.
    """
    key = str(path.resolve())
    held = _held_paths()
    if key in held:
        yield True
        return
    path.mkdir(parents=True, exist_ok=True)
    with open(path / ".lock", "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        held.add(key)
        try:
            yield True
        finally:
            held.discard(key)
            fcntl.flock(fh, fcntl.LOCK_UN)


def current_version(path: Path) -> str | None:
    """The version folder `CURRENT` names, or None when there is no index at `path`."""
    try:
        return (path / "CURRENT").read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def remove_partial_versions(path: Path) -> None:
    """Remove version and staging folders that `CURRENT` does not name (what a killed save leaves behind).

    Done only when no writer holds the lock, so a save in progress in another process is never touched.
    """
    if not path.is_dir():
        return
    with write_lock(path, blocking=False) as locked:
        if locked:
            _prune(path, keep=current_version(path) or "")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prune(path: Path, keep: str) -> None:
    for child in path.iterdir():
        if (
            child.is_dir()
            and child.name != keep
            and (child.name.startswith("v-") or child.name.startswith(".tmp-"))
        ):
            shutil.rmtree(child, ignore_errors=True)
