"""The `Store` protocol, the only thing retrieval and answering talk to, and the records every backend shares."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from rag.chunking import CHUNKER_VERSION
from rag.types import Chunk, Document

if TYPE_CHECKING:
    from rag.fusion import Fusion

Ranking = list[tuple[int, float]]  # (chunk row, score), best first
SentenceKey = tuple[str, int, int]  # (doc_id, start, end) of a sentence in its document's cleaned text
EmbedFn = Callable[[list[str], bool], np.ndarray]


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


@dataclass(frozen=True, eq=False)
class PreparedDocument:
    """A document ready for a store: chunked and embedded before it reaches one (see rag.ingest)."""

    document: Document
    record: DocumentRecord
    chunks: list[Chunk]
    chunk_vectors: np.ndarray  # (chunks, d)
    sentence_spans: np.ndarray  # (m, 2) distinct sentence spans of the chunks, in order
    sentence_vectors: np.ndarray | None  # (m, d), or None when sentences are not embedded


@runtime_checkable
class Store(Protocol):
    """A snapshot of one index. Reads never change it; `update` returns the next snapshot."""

    model_id: str
    dimension: int
    chunking: ChunkingConfig
    roots: list[str]

    @property
    def documents(self) -> Mapping[str, Document]:
        """Every document by id (cleaned text)."""

    @property
    def records(self) -> Mapping[str, DocumentRecord]:
        """Every document's manifest record by id."""

    @property
    def chunk_count(self) -> int:
        """Number of live chunks."""

    @property
    def has_sentence_vectors(self) -> bool:
        """True when sentences were embedded at write time."""

    def chunk(self, row: int) -> Chunk:
        """The chunk at a row returned by a search."""

    def chunk_vector(self, row: int) -> np.ndarray:
        """The stored vector of the chunk at `row`."""

    def chunks_of(self, doc_id: str) -> list[tuple[int, Chunk]]:
        """(row, chunk) of every chunk of a document, in document order."""

    def sentence_vectors(self, keys: Sequence[SentenceKey]) -> np.ndarray | None:
        """Stored vectors of these sentences, or None when any is not stored."""

    def document_frequency(self, token: str) -> int:
        """In how many live chunks a (stemmed) token occurs."""

    def idf(self, token: str) -> float:
        """BM25 inverse document frequency of a stemmed token over the live chunks."""

    def dense_search(self, vector: np.ndarray, n: int) -> Ranking:
        """(row, inner product) of the `n` nearest chunks."""

    def keyword_search(self, tokens: Sequence[str], n: int) -> Ranking:
        """(row, BM25 score) of the best `n` chunks with a positive score."""

    def hybrid_search(
        self, vector: np.ndarray, tokens: Sequence[str], fusion: Fusion
    ) -> tuple[dict[int, float], Ranking, Ranking]:
        """Fused scores by row, and the dense and BM25 rankings (`fusion.candidates` each) they came from."""

    def export(self, doc_id: str) -> PreparedDocument:
        """A stored document with its chunks and vectors, to move it without re-embedding."""

    def stats(self) -> dict[str, int | str]:
        """Sizes and layout, for logs, health and benchmarks."""

    def settle(self, timeout: float | None = None) -> bool:
        """Wait for this snapshot's background work (approximate index builds) to finish and be saved; False
        if `timeout` seconds passed first. A process about to exit calls it so the work is not lost."""

    def update(
        self,
        *,
        upsert: Sequence[PreparedDocument],
        remove: Sequence[str],
        roots: list[str] | None = None,
    ) -> Store:
        """The next snapshot: `remove` (and every upserted id) dropped, then `upsert` added."""

    def save(self, path: Path) -> str:
        """Persist this snapshot (what changed since the last save) atomically; returns the version name."""

    def iter_chunks(self) -> Iterator[tuple[int, Chunk]]:
        """(row, chunk) of every live chunk."""
