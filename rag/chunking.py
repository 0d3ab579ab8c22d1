"""Sentence splitting and sentence-aware chunking, keeping character offsets into the cleaned text.

A small regex splitter is used rather than pysbd/nltk: we need exact offsets, no data downloads, and
predictable behaviour on scraped news text whose sentences often start lower-case.
"""

from __future__ import annotations

import re
from itertools import pairwise

from rag.types import Chunk, Document

# Bump when splitting or chunking changes, so existing indexes are re-chunked rather than silently mixed.
CHUNKER_VERSION = 3  # 3: chunks and sentences of a paged document (PDF) never span two pages

_ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "sr",
    "jr",
    "st",
    "vs",
    "etc",
    "e.g",
    "i.e",
    "inc",
    "ltd",
    "co",
    "corp",
    "no",
    "fig",
    "al",
    "u.s",
    "u.k",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "approx",
    "dept",
    "est",
    "mt",
    "ft",
}
# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) before whitespace, or at a blank line.
_BOUNDARY = re.compile(r"[.!?。！？]+(?:[\"'”’)\]]|[ \t][”’])*(?=\s)|\n\s*\n|\n(?=\s*[-•*|])")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)\.$")


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Sentence spans `(start, end)` in `text` (shifted by `offset`), trimmed of surrounding whitespace."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        token = text[max(start, match.start() - 12) : match.end()]
        word = _WORD_BEFORE.search(token.rstrip("\"'”’)]"))
        if word and match.group().startswith(".") and len(match.group().rstrip("\"'”’)]")) == 1:
            candidate = word.group(1).lower()
            if candidate in _ABBREVIATIONS or (len(candidate) == 1 and candidate.isalpha()):
                continue
        _append(text, start, end, spans)
        start = end
    _append(text, start, len(text), spans)
    return [(s + offset, e + offset) for s, e in spans]


def _append(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start and any(ch.isalnum() for ch in text[start:end]):
        spans.append((start, end))


def chunk_document(doc: Document, chunk_size: int = 600, overlap: int = 1) -> list[Chunk]:
    """Group a document's sentences into chunks of about `chunk_size` characters.

    Neighbouring chunks share `overlap` sentences. A single sentence longer than `chunk_size` becomes its
    own chunk (split at word boundaries when over twice the size), so no text is ever dropped. A document
    with pages (`Document.page_starts`) is chunked page by page: no chunk or sentence spans two pages.
    """
    chunks: list[Chunk] = []
    for start, end in page_ranges(doc):
        sentences = split_sentences(doc.text[start:end], start)
        chunks += _group(doc, _limit_length(doc.text, sentences, 2 * chunk_size), chunk_size, overlap)
    return chunks


def page_ranges(doc: Document) -> list[tuple[int, int]]:
    """The `(start, end)` text range of each non-empty page of `doc`; the whole text for a document without pages."""
    starts = doc.page_starts()
    if not starts:
        return [(0, len(doc.text))]
    bounds = sorted({s for s in starts if s < len(doc.text)} | {len(doc.text)})
    return [(a, b) for a, b in pairwise(bounds) if b > a]


def _group(doc: Document, sentences: list[tuple[int, int]], chunk_size: int, overlap: int) -> list[Chunk]:
    chunks: list[Chunk] = []
    i = 0
    while i < len(sentences):
        j = i
        while j < len(sentences) and (j == i or sentences[j][1] - sentences[i][0] <= chunk_size):
            j += 1
        start, end = sentences[i][0], sentences[j - 1][1]
        chunks.append(
            Chunk(
                doc_id=doc.doc_id,
                title=doc.title,
                start=start,
                end=end,
                text=doc.text[start:end],
                sentences=tuple(sentences[i:j]),
            )
        )
        if j >= len(sentences):
            break
        i = max(i + 1, j - overlap)
    return chunks


def _limit_length(text: str, spans: list[tuple[int, int]], limit: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in spans:
        while end - start > limit:
            cut = text.rfind(" ", start + limit // 2, start + limit)
            cut = cut if cut > start else start + limit
            out.append((start, cut))
            start = cut
            while start < end and text[start].isspace():
                start += 1
        if end > start:
            out.append((start, end))
    return out
