"""OpenAI `url_citation` annotations for the `[n]` markers of an answer, and the `max_tokens` word limit."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote, urlencode

from rag.answer.citations import MARKER, parse_markers
from rag.types import Citation

_WORD = re.compile(r"\S+")


def citation_url(base_url: str, citation: Citation) -> str:
    """The URL that opens the cited span: `{base}/documents/{doc_id}?start=S&end=E` (cleaned-text offsets)."""
    query = urlencode({"start": citation.start, "end": citation.end})
    return f"{base_url.rstrip('/')}/documents/{quote(citation.doc_id, safe='/')}?{query}"


def url_citations(content: str, citations: Sequence[Citation], base_url: str) -> list[dict]:
    """One OpenAI `url_citation` annotation per cited passage number of each `[n]` marker in `content`.

    `start_index`/`end_index` delimit the marker itself in `content` (end exclusive, as Python slices); a
    marker naming several passages (`[1, 2]`) gives one annotation per passage, all with the marker's span.
    Numbers without a citation are skipped.
    """
    by_number = {c.n: c for c in citations}
    annotations: list[dict] = []
    for match in MARKER.finditer(content):
        for n in parse_markers(match.group()):
            citation = by_number.get(n)
            if citation is None:
                continue
            annotations.append(
                {
                    "type": "url_citation",
                    "url_citation": {
                        "start_index": match.start(),
                        "end_index": match.end(),
                        "title": citation.title,
                        "url": citation_url(base_url, citation),
                    },
                }
            )
    return annotations


def limit_words(text: str, limit: int | None) -> str:
    """`text` cut after its `limit`-th whitespace-separated word (whole when it has no more; None: no limit).

    The limit is prefix-consistent: cutting a prefix of `text` gives a prefix of cutting `text`, so a stream
    cut piece by piece ends exactly where the whole text is cut.
    """
    if limit is None:
        return text
    for count, match in enumerate(_WORD.finditer(text), start=1):
        if count == limit:
            return text[: match.end()]
    return text


class WordLimiter:
    """Passes streamed pieces of text through until `limit` words have gone by (None: no limit)."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.seen = ""
        self.sent = ""

    def feed(self, piece: str) -> str:
        """The part of `piece` that is still within the limit (may be empty)."""
        self.seen += piece
        allowed = limit_words(self.seen, self.limit)
        delta = allowed[len(self.sent) :]
        self.sent = allowed
        return delta

    @property
    def truncated(self) -> bool:
        """True when text beyond the limit was held back."""
        return bool(self.seen[len(self.sent) :].strip())
