"""Turn answers and document lists into the page's chat markdown, status lines and documents table (all escaped)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from rag.answer import ABSTAIN_TEXT
from rag.api.locations import file_name
from rag.types import Answer, Citation

MARKER = re.compile(r"\[(\d+)\]")
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


def as_answer(answer: Answer | Mapping[str, Any]) -> Answer:
    """`answer` as an Answer (a stored dump is validated back into one)."""
    return answer if isinstance(answer, Answer) else Answer.model_validate(answer)


def _marker_html(n: int, citation: Citation | None, key: int | None) -> str:
    """A `[n]` marker; with the answer's `key` (its place in the chat) clicking it shows the source card."""
    if citation is None:
        return f'<sup class="cite">[{n}]</sup>'
    title = escape_html(citation.title)
    # The chat's sanitizer drops data attributes: the number and the answer travel in class names.
    target = f" cite-n-{n} cite-answer-{key}" if key is not None else ""
    if not citation.supported:
        return (
            f'<sup class="cite unsupported{target}" title="not supported by its passage: {title}">[{n}]</sup>'
        )
    return f'<sup class="cite{target}" title="{title} (click: show the source)">[{n}]</sup>'


def _with_markers(text: str, citations: Mapping[int, Citation], key: int | None = None) -> str:
    """Escape `text` for the chat, turning each `[n]` into a styled citation marker."""
    parts: list[str] = []
    last = 0
    for match in MARKER.finditer(text):
        parts.append(escape_markdown(text[last : match.start()]))
        n = int(match.group(1))
        parts.append(_marker_html(n, citations.get(n), key))
        last = match.end()
    parts.append(escape_markdown(text[last:]))
    return "".join(parts)


def partial_markdown(text: str) -> str:
    """Chat markdown for an answer still streaming in."""
    return _with_markers(text, {}) + ' <span class="typing">▍</span>'


def answer_markdown(answer: Answer | Mapping[str, Any], key: int | None = None) -> str:
    """Chat markdown for a finished answer: text with `[n]` markers, or a clear "not found" for an abstention.
    `key` (the message's place in the chat) lets a click on a marker find its card in the sources panel."""
    answer = as_answer(answer)
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
        lines.append(_with_markers(answer.answer, {c.n: c for c in answer.citations}, key))
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


def message_html(text: str, kind: str = "info") -> str:
    """A one-line status message (kind: info, ok or error) for the page's status areas."""
    if kind not in {"info", "ok", "error"}:
        raise ValueError(f"unknown message kind {kind!r}")
    return f'<div class="status {kind}">{escape_html(text)}</div>'


def confirm_html(title: str, doc_id: str, chunks: int) -> str:
    """The question asked before a document is removed."""
    return (
        f'<div class="confirm">Remove <strong>{escape_html(title)}</strong> (<code>{escape_html(doc_id)}</code>,'
        f" {chunks} passages) from the index? It will no longer be cited. This cannot be undone.</div>"
    )


def documents_html(records: Iterable[Any]) -> str:
    """A table of the indexed documents (title linking to the document page, id, chunks, characters, file name;
    never the server path it was read from)."""
    rows = [
        f'<tr data-doc="{escape_html(r.doc_id)}"><td class="doc-title"><a href="/documents/'
        f'{escape_html(quote(r.doc_id, safe="/"))}" target="_blank" rel="noopener noreferrer">'
        f"{escape_html(r.title)}</a></td>"
        f"<td><code>{escape_html(r.doc_id)}</code></td><td>{r.chunks}</td><td>{r.chars:,}</td>"
        f'<td class="doc-source">{escape_html(file_name(r.source))}</td></tr>'
        for r in records
    ]
    if not rows:
        return '<div class="sources-empty">No documents are indexed yet: upload some above.</div>'
    return (
        '<table class="documents"><thead><tr><th>Title</th><th>Id</th><th>Chunks</th><th>Characters</th>'
        f"<th>File</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
