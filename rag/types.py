"""Types that cross module boundaries: Document, Chunk, Passage, Citation, Answer."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Literal

from pydantic import BaseModel, Field


@dataclass(frozen=True)
class Document:
    """A cleaned document: `text` is what chunk and citation offsets point into."""

    doc_id: str
    title: str
    text: str
    source: str = ""
    metadata: dict[str, str] = field(default_factory=dict)

    def page_starts(self) -> list[int]:
        """Offsets in `text` where each page begins (PDFs: metadata "page_starts", e.g. "0,1834,3920"); an empty
        list for a document without pages or with a malformed value."""
        raw = self.metadata.get(PAGE_STARTS_KEY, "")
        try:
            starts = [int(part) for part in raw.split(",")] if raw else []
        except ValueError:
            return []
        if not starts or starts[0] != 0 or any(b < a for a, b in pairwise(starts)):
            return []
        return starts

    def page_at(self, offset: int) -> int | None:
        """The 1-based page that holds character `offset` of `text`, or None for a document without pages."""
        starts = self.page_starts()
        return bisect_right(starts, max(offset, 0)) if starts else None


# Document.metadata key of a paged document's page start offsets (comma-separated, first one 0).
PAGE_STARTS_KEY = "page_starts"


@dataclass(frozen=True)
class Chunk:
    """A span `text == document.text[start:end]` with its sentence spans (document offsets)."""

    doc_id: str
    title: str
    start: int
    end: int
    text: str
    sentences: tuple[tuple[int, int], ...] = ()

    @property
    def chunk_id(self) -> str:
        """Stable id of the chunk within its index."""
        return f"{self.doc_id}@{self.start}-{self.end}"


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its fused score and the per-retriever scores behind it."""

    chunk: Chunk
    score: float
    dense_score: float | None = None
    bm25_score: float | None = None
    row: int = -1


class Citation(BaseModel):
    """One `[n]` of an answer: the quoted span and the passage that contains it."""

    n: int = Field(description="The marker number used in the answer text, `[n]`.")
    doc_id: str
    title: str
    text: str = Field(description="The full passage (chunk) text the quote comes from.")
    start: int = Field(description="Start of the quoted sentence, offset into the document's cleaned text.")
    end: int = Field(description="End of the quoted sentence (exclusive), offset into the cleaned text.")
    score: float = Field(description="Support score of the quoted sentence for the question (0..1).")
    quote: str = Field("", description="The quoted sentence itself: document.text[start:end].")
    passage_start: int = Field(0, description="Offset of `text` in the document's cleaned text.")
    supported: bool = Field(
        True, description="False when verification found the cited passage does not support it."
    )
    page: int | None = Field(
        None,
        description="The PDF page (1-based) the quoted sentence is on; null for documents without pages.",
    )


class Answer(BaseModel):
    """The answer to one question; the API, CLI and evaluator all emit exactly this shape."""

    id: str | None = None
    question: str
    answer: str
    abstained: bool
    citations: list[Citation] = Field(default_factory=list)
    latency_ms: float = 0.0
    mode: str = "extractive"
    notice: str | None = Field(
        None, description="Anything the reader should know, e.g. a fallback that happened."
    )
    outcome: Literal["answered", "related", "none"] = Field(
        "answered",
        description="answered: a claim with citations; related: the documents do not state it, but "
        "`related` lists passages on the subject (no claim is made); none: nothing relevant was found.",
    )
    confidence: float = Field(
        0.0, description="Calibrated probability (0..1) that the question is answered by the cited sentence."
    )
    related: list[Citation] = Field(
        default_factory=list,
        description="When outcome is related: the passages "
        "closest to the question, each with its best sentence as `quote`.",
    )
    standalone_question: str | None = Field(
        None,
        description="A follow-up rewritten from the conversation into "
        "the self-contained question that was answered.",
    )
    supported_sentences: int | None = Field(
        None,
        description="Generative mode: sentences that verification found supported by their cited passages.",
    )
    total_sentences: int | None = Field(
        None,
        description="Generative mode: sentences making a claim that were "
        "verified (supported or marked [unsupported]).",
    )
