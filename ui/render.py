"""Turn answers and document lists into the page's chat markdown and sources/documents HTML (all text escaped)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import Any

from rag.answer import ABSTAIN_TEXT
from rag.types import Answer, Citation

MARKER = re.compile(r"\[(\d+)\]")
EXCERPT_CONTEXT = 220  # characters of passage shown either side of the quote before the source is expanded
NOT_FOUND = "Not found in the documents."
NOT_STATED = "Not stated in the documents."

# Markdown punctuation that could turn document text into formatting, links, LaTeX or lists.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")
# Characters that templating layers could read as syntax: written as numeric entities, shown unchanged.
_TEMPLATE_CHARS = {"{": "&#123;", "}": "&#125;", "$": "&#36;", "`": "&#96;"}


def escape_html(text: str) -> str:
    """`text` as inert HTML: tags, entities, quotes and template characters are all escaped."""
    escaped = html.escape(text, quote=True)
    return "".join(_TEMPLATE_CHARS.get(ch, ch) for ch in escaped)


def escape_markdown(text: str) -> str:
    """`text` as inert chat markdown: markdown punctuation is backslash-escaped, then HTML-escaped."""
    return html.escape(_MARKDOWN_SPECIAL.sub(r"\\\1", text), quote=False)


def _as_answer(answer: Answer | Mapping[str, Any]) -> Answer:
    return answer if isinstance(answer, Answer) else Answer.model_validate(answer)


def _marker_html(n: int, citation: Citation | None) -> str:
    if citation is None:
        return f'<sup class="cite">[{n}]</sup>'
    title = escape_html(citation.title)
    if not citation.supported:
        return f'<sup class="cite unsupported" title="not supported by its passage: {title}">[{n}]</sup>'
    return f'<sup class="cite" title="{title}">[{n}]</sup>'


def _with_markers(text: str, citations: Mapping[int, Citation]) -> str:
    """Escape `text` for the chat, turning each `[n]` into a styled citation marker."""
    parts: list[str] = []
    last = 0
    for match in MARKER.finditer(text):
        parts.append(escape_markdown(text[last : match.start()]))
        n = int(match.group(1))
        parts.append(_marker_html(n, citations.get(n)))
        last = match.end()
    parts.append(escape_markdown(text[last:]))
    return "".join(parts)


def partial_markdown(text: str) -> str:
    """Chat markdown for an answer still streaming in."""
    return _with_markers(text, {}) + ' <span class="typing">▍</span>'


def answer_markdown(answer: Answer | Mapping[str, Any]) -> str:
    """Chat markdown for a finished answer: text with `[n]` markers, or a clear "not found" for an abstention."""
    answer = _as_answer(answer)
    lines: list[str] = []
    if answer.abstained and answer.outcome == "related":
        lines.append(f'<span class="abstained related">{NOT_STATED}</span>')
        lines.append(
            f"The documents touch on this but do not state it, so I make no claim. The closest "
            f"passages ({len(answer.related)}) are listed under Sources."
        )
    elif answer.abstained:
        lines.append(f'<span class="abstained">{NOT_FOUND}</span>')
        if answer.answer.strip() and answer.answer.strip() != ABSTAIN_TEXT:
            lines.append(escape_markdown(answer.answer.strip()))
        else:
            lines.append(
                "I could not find an answer to this in the indexed documents, so I will not guess. "
                "Try rephrasing, or upload a document that covers it."
            )
    else:
        lines.append(_with_markers(answer.answer, {c.n: c for c in answer.citations}))
        lines.append(f'<span class="confidence">confidence {answer.confidence:.0%}</span>')
        unsupported = [c for c in answer.citations if not c.supported]
        if unsupported:
            marks = ", ".join(f"[{c.n}]" for c in unsupported)
            lines.append(
                f'<span class="warn">⚠ Not supported by the cited passage: {marks}. '
                "Check these sources before relying on them.</span>"
            )
    if answer.notice:
        lines.append(f'<span class="notice">{escape_markdown(answer.notice)}</span>')
    return "\n\n".join(lines)


def error_markdown(message: str) -> str:
    """Chat markdown for a request that failed with a user-facing message."""
    return f'<span class="error">⚠ {escape_markdown(message)}</span>'


def quote_span(citation: Citation) -> tuple[int, int] | None:
    """Where the quoted sentence lies in the citation's passage text, or None when it cannot be located."""
    text = citation.text
    start, end = citation.start - citation.passage_start, citation.end - citation.passage_start
    if 0 <= start < end <= len(text) and (not citation.quote or text[start:end] == citation.quote):
        return start, end
    if citation.quote:
        found = text.find(citation.quote)
        if found >= 0:
            return found, found + len(citation.quote)
    return None


def _highlighted(text: str, span: tuple[int, int] | None, lo: int = 0, hi: int | None = None) -> str:
    """`text[lo:hi]` as HTML with the part inside `span` wrapped in <mark>."""
    hi = len(text) if hi is None else hi
    if span is None:
        return escape_html(text[lo:hi])
    s, e = max(span[0], lo), min(span[1], hi)
    if s >= e:
        return escape_html(text[lo:hi])
    return escape_html(text[lo:s]) + "<mark>" + escape_html(text[s:e]) + "</mark>" + escape_html(text[e:hi])


def excerpt_html(citation: Citation, context: int = EXCERPT_CONTEXT) -> str:
    """The passage around the quote (with ellipses where cut), quote highlighted."""
    text = citation.text
    span = quote_span(citation)
    if span is None:
        lo, hi = 0, min(len(text), 2 * context)
    else:
        lo, hi = max(0, span[0] - context), min(len(text), span[1] + context)
    body = _highlighted(text, span, lo, hi)
    return ("…" if lo > 0 else "") + body + ("…" if hi < len(text) else "")


def _location(citation: Citation) -> str:
    """Where the quote is in its document: "page 3" for a PDF, else its character offsets."""
    if citation.page is not None:
        return f"page {citation.page}"
    return f"characters {citation.start}–{citation.end}"


def citation_html(citation: Citation, related: bool = False) -> str:
    """One source card: number, title, score, support badge; expanding it shows the full passage. A `related`
    card is a passage shown for reading, not a citation of a claim."""
    badge = (
        ""
        if citation.supported
        else '<span class="badge unsupported" title="Verification found the passage does not support this '
        'sentence">unsupported</span>'
    )
    if related:
        badge = '<span class="badge related" title="Close to the question; not cited for any claim">related</span>'

    span = quote_span(citation)
    page = f' <small class="source-page">page {citation.page}</small>' if citation.page is not None else ""
    return (
        f'<div class="source" data-n="{citation.n}" data-doc="{escape_html(citation.doc_id)}">'
        f'<div class="source-head"><span class="source-n">[{citation.n}]</span>'
        f'<span class="source-title">{escape_html(citation.title)}{page}</span>'
        f'<span class="source-score" title="How strongly the quoted sentence supports the answer (0–1)">'
        f"score {citation.score:.2f}</span>{badge}</div>"
        f'<details class="source-passage"><summary><span class="excerpt">{excerpt_html(citation)}</span>'
        f'<span class="expand-hint">show full passage</span></summary>'
        f'<div class="passage-full">{_highlighted(citation.text, span)}</div>'
        f'<div class="source-meta">document {escape_html(citation.doc_id)}, '
        f"{_location(citation)}</div></details></div>"
    )


def sources_html(answer: Answer | Mapping[str, Any] | None) -> str:
    """The sources panel for `answer`: one card per citation, or a line saying why there are none."""
    if answer is None:
        return '<div class="sources-empty">Sources of the answer appear here.</div>'
    answer = _as_answer(answer)
    if answer.outcome == "related" and answer.related:
        cards = "".join(citation_html(c, related=True) for c in answer.related)
        return (
            f'<div class="sources-for related">Related passages for “{escape_html(answer.question)}” — '
            f"they do not state the answer</div>"
            f'<div class="sources-list">{cards}</div>'
        )
    if answer.abstained or not answer.citations:
        return (
            '<div class="sources-empty">No sources: nothing in the documents answers '
            f"“{escape_html(answer.question)}”.</div>"
        )
    cards = "".join(citation_html(c) for c in sorted(answer.citations, key=lambda c: c.n))
    return (
        f'<div class="sources-for">for “{escape_html(answer.question)}”</div>'
        f'<div class="sources-list">{cards}</div>'
    )


def message_html(text: str, kind: str = "info") -> str:
    """A one-line status message (kind: info, ok or error) for the page's status areas."""
    if kind not in {"info", "ok", "error"}:
        raise ValueError(f"unknown message kind {kind!r}")
    return f'<div class="status {kind}">{escape_html(text)}</div>'


def documents_html(records: Iterable[Any]) -> str:
    """A table of the indexed documents (title, id, chunks, characters, source)."""
    rows = [
        f'<tr data-doc="{escape_html(r.doc_id)}"><td class="doc-title">{escape_html(r.title)}</td>'
        f"<td><code>{escape_html(r.doc_id)}</code></td><td>{r.chunks}</td><td>{r.chars:,}</td>"
        f'<td class="doc-source">{escape_html(r.source)}</td></tr>'
        for r in records
    ]
    if not rows:
        return '<div class="sources-empty">No documents are indexed yet: upload some above.</div>'
    return (
        '<table class="documents"><thead><tr><th>Title</th><th>Id</th><th>Chunks</th><th>Characters</th>'
        f"<th>Source</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
