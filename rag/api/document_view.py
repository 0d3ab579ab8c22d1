"""The document page's HTML: the whole cleaned text in pages and paragraphs, the quoted span highlighted."""

from __future__ import annotations

import html

from rag.api.locations import file_name, location_words, page_regions, paragraphs
from rag.types import Document

# Characters that templating layers could read as syntax: written as numeric entities, shown unchanged.
_TEMPLATE_CHARS = {"{": "&#123;", "}": "&#125;", "$": "&#36;", "`": "&#96;"}

STYLE = """
:root { color-scheme: light dark; --accent: #4f46e5; --muted: #64748b; --mark: #fde68a; }
body { font: 16px/1.6 ui-sans-serif, system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  margin: 0; background: Canvas; color: CanvasText; }
header { position: sticky; top: 0; background: Canvas; border-bottom: 1px solid #cbd5e1; padding: 10px 20px;
  z-index: 1; }
header h1 { font-size: 1.25em; margin: 4px 0; }
header .meta, header .where { color: var(--muted); font-size: 0.9em; margin: 2px 0; }
header a { color: var(--accent); }
main { max-width: 46em; margin: 0 auto; padding: 12px 20px 60vh 3.2em; }
main p { white-space: pre-wrap; margin: 0 0 1em; position: relative; overflow-wrap: anywhere; }
main p::before { content: attr(data-paragraph); position: absolute; left: -2.6em; width: 2em; text-align: right;
  color: var(--muted); font-size: 0.75em; line-height: 2.1; }
.page-label { color: var(--muted); font-size: 0.8em; text-transform: uppercase; letter-spacing: 0.05em;
  border-top: 1px dashed #cbd5e1; margin: 1.6em 0 0.8em; padding-top: 4px; }
mark.quote { background: var(--mark); color: #111827; border-radius: 3px; padding: 0 1px;
  box-shadow: 0 0 0 2px var(--mark); }
.empty { color: var(--muted); font-style: italic; }
"""

SCRIPT = """
const quote = document.getElementById("quote");
if (quote) { quote.scrollIntoView({ block: "center" }); }
"""


def escape(text: str) -> str:
    """`text` as inert HTML: tags, entities, quotes and template characters all escaped."""
    return "".join(_TEMPLATE_CHARS.get(ch, ch) for ch in html.escape(text, quote=True))


def _marked(text: str, lo: int, hi: int, span: tuple[int, int] | None, first: bool) -> tuple[str, bool]:
    """`text[lo:hi]` as HTML with its part inside `span` in <mark class="quote"> (id "quote" on the first such
    mark of the page); also whether that first mark has now been written."""
    if span is None or span[1] <= lo or span[0] >= hi:
        return escape(text[lo:hi]), first
    s, e = max(span[0], lo), min(span[1], hi)
    ident = ' id="quote"' if not first else ""
    mark = f'<mark class="quote"{ident}>{escape(text[s:e])}</mark>'
    return escape(text[lo:s]) + mark + escape(text[e:hi]), True


def body_html(document: Document, span: tuple[int, int] | None) -> str:
    """The document's text as paragraphs (numbered within each page), with page labels for a PDF."""
    parts: list[str] = []
    marked = False
    for page, lo, hi in page_regions(document):
        if page is not None:
            parts.append(f'<div class="page-label" id="page-{page}">page {page}</div>')
        for number, (start, end) in enumerate(paragraphs(document.text, lo, hi), start=1):
            inner, marked = _marked(document.text, start, end, span, marked)
            ident = f"page-{page}-p-{number}" if page is not None else f"p-{number}"
            parts.append(f'<p id="{ident}" data-paragraph="{number}">{inner}</p>')
    if not parts:
        parts.append('<p class="empty">This document has no text.</p>')
    return "\n".join(parts)


def document_page(document: Document, span: tuple[int, int] | None, nonce: str) -> str:
    """The whole page for `document`; `span` (start, end) is the quoted part, scrolled to and highlighted."""
    pages = len(page_regions(document)) if document.page_starts() else 0
    meta = [escape(file_name(document.source)), f"{len(document.text):,} characters"]
    if pages:
        meta.append(f"{pages} page{'s' if pages != 1 else ''}")
    where = ""
    if span is not None:
        where = (
            f'<p class="where">The quoted passage is highlighted: {location_words(document, span[0])} '
            '(<a href="#quote">go to it</a>).</p>'
        )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(document.title)} — rag</title>"
        f'<style nonce="{nonce}">{STYLE}</style></head>\n<body>'
        f'<header><a href="/">← Back to the chat</a><h1 id="title">{escape(document.title)}</h1>'
        f'<p class="meta">{" · ".join(meta)}</p>{where}</header>\n'
        f'<main id="document">\n{body_html(document, span)}\n</main>\n'
        f'<script nonce="{nonce}">{SCRIPT}</script></body></html>\n'
    )


def message_page(title: str, message: str, nonce: str) -> str:
    """A short page for an error (unknown document, bad span, missing key): a heading and one line."""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{escape(title)} — rag</title><style nonce="{nonce}">{STYLE}</style></head>\n<body>'
        f'<header><a href="/">← Back to the chat</a><h1>{escape(title)}</h1></header>'
        f'<main><p class="error">{escape(message)}</p></main></body></html>\n'
    )
