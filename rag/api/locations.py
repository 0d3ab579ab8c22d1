"""Where a span lies in a document, in words a reader can find: its page (PDFs) and paragraph, and the file name."""

from __future__ import annotations

import re
from bisect import bisect_right

from rag.types import Document

_BLANK_LINE = re.compile(r"\n[^\S\n]*\n\s*")  # cleaned text separates paragraphs with blank lines
_LINE_BREAK = re.compile(r"\n\s*")
_PATH_PART = re.compile(r"[\\/]")


def page_regions(document: Document) -> list[tuple[int | None, int, int]]:
    """(page number or None, start, end) of each page of `document`; one region without a number when it has no
    pages."""
    starts = document.page_starts()
    if not starts:
        return [(None, 0, len(document.text))]
    ends = [*starts[1:], len(document.text)]
    return [(i + 1, lo, hi) for i, (lo, hi) in enumerate(zip(starts, ends, strict=True))]


def paragraphs(text: str, lo: int = 0, hi: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of the paragraphs of `text[lo:hi]`, surrounding whitespace left out.

    Paragraphs are the blocks between blank lines; a region with no blank line at all (text whose paragraphs
    are single lines) has one paragraph per line.
    """
    hi = len(text) if hi is None else hi
    region = text[lo:hi]
    body = region.strip()
    if not body:
        return []
    offset = lo + region.index(body[0])
    separator = _BLANK_LINE if _BLANK_LINE.search(body) else _LINE_BREAK
    spans: list[tuple[int, int]] = []
    position = 0
    for match in separator.finditer(body):
        if match.start() > position:
            spans.append((offset + position, offset + match.start()))
        position = match.end()
    if position < len(body):
        spans.append((offset + position, offset + len(body)))
    return spans


def paragraph_at(document: Document, offset: int) -> tuple[int | None, int]:
    """(page or None, 1-based paragraph within that page, or within the document when it has no pages) holding
    character `offset` of the document's text; an offset between paragraphs counts as the one before it."""
    text = document.text
    offset = min(max(offset, 0), max(len(text) - 1, 0))
    page, lo, hi = next(
        ((p, a, b) for p, a, b in page_regions(document) if a <= offset < b),
        page_regions(document)[-1],
    )
    spans = paragraphs(text, lo, hi)
    index = bisect_right([start for start, _ in spans], offset)
    return page, max(index, 1)


def location_words(document: Document, offset: int) -> str:
    """Where `offset` lies, for a person: "page 3, paragraph 2" in a PDF, "paragraph 7" otherwise."""
    page, paragraph = paragraph_at(document, offset)
    return f"paragraph {paragraph}" if page is None else f"page {page}, paragraph {paragraph}"


def file_name(source: str) -> str:
    """The name to show for a document's source, never a server path.

    "/srv/corpus/notes.md" and "upload:notes.md" give "notes.md"; text sent without a file ("text:Title",
    "text") gives "sent as text".
    """
    if source == "text" or source.startswith("text:"):
        return "sent as text"
    name = _PATH_PART.split(source.removeprefix("upload:"))[-1]
    return name or "—"
