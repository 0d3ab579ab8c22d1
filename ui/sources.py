"""The sources panel: one card per cited passage, its quotes highlighted, strength and location in plain words."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rag.api.annotations import citation_url
from rag.types import Answer, Citation
from ui.render import as_answer, escape_html

EXCERPT_CONTEXT = 220  # characters of passage shown either side of the quotes before the card is expanded
# (lowest score, words): the score is the model's probability that the quoted sentence answers the question.
STRENGTHS: tuple[tuple[float, str], ...] = ((0.8, "strong match"), (0.5, "good match"), (0.0, "weak match"))

# Where a citation's quote is, in words ("page 3, paragraph 2"), or None when it cannot be said.
Locate = Callable[[Citation], str | None]


def page_only(citation: Citation) -> str | None:
    """The location when the document's text is not at hand: its page, for a PDF."""
    return f"page {citation.page}" if citation.page is not None else None


def strength(score: float) -> str:
    """ "strong match", "good match" or "weak match" for a support score (0..1)."""
    return next(words for lowest, words in STRENGTHS if score >= lowest)


def strength_html(score: float) -> str:
    """The strength label, its class naming the level; the number itself only in the tooltip."""
    words = strength(score)
    tip = (
        f"How likely the quoted sentence answers the question: {score:.2f} (strong from 0.80, good from 0.50)"
    )
    return f'<span class="source-strength {words.split()[0]}" title="{tip}">{words}</span>'


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


@dataclass(frozen=True)
class Mark:
    """A highlighted stretch of a passage and the citation numbers that quote it."""

    start: int
    end: int
    numbers: tuple[int, ...]
    supported: bool


def marks(citations: Iterable[Citation]) -> list[Mark]:
    """The passage's quoted stretches in order, overlapping quotes merged into one mark."""
    spans = sorted(
        (span[0], span[1], c.n, c.supported) for c in citations if (span := quote_span(c)) is not None
    )
    merged: list[Mark] = []
    for start, end, n, supported in spans:
        last = merged[-1] if merged else None
        if last is not None and start < last.end:
            merged[-1] = Mark(
                last.start, max(last.end, end), (*last.numbers, n), last.supported and supported
            )
        else:
            merged.append(Mark(start, end, (n,), supported))
    return merged


def highlighted(text: str, quoted: list[Mark], lo: int = 0, hi: int | None = None) -> str:
    """`text[lo:hi]` as HTML with each mark in `quoted` wrapped in <mark data-n="...">."""
    hi = len(text) if hi is None else hi
    out: list[str] = []
    position = lo
    for mark in quoted:
        s, e = max(mark.start, position), min(mark.end, hi)
        if s >= e:
            continue
        numbers = " ".join(map(str, mark.numbers))
        cls = "" if mark.supported else ' class="unsupported"'
        out.append(escape_html(text[position:s]))
        out.append(f'<mark data-n="{numbers}"{cls}>{escape_html(text[s:e])}</mark>')
        position = e
    out.append(escape_html(text[position:hi]))
    return "".join(out)


def excerpt_html(text: str, quoted: list[Mark], context: int = EXCERPT_CONTEXT) -> str:
    """The passage around its quotes (with ellipses where cut), quotes highlighted."""
    if quoted:
        lo, hi = max(0, quoted[0].start - context), min(len(text), quoted[-1].end + context)
    else:
        lo, hi = 0, min(len(text), 2 * context)
    return ("…" if lo > 0 else "") + highlighted(text, quoted, lo, hi) + ("…" if hi < len(text) else "")


def group_by_passage(citations: Iterable[Citation]) -> list[list[Citation]]:
    """Citations grouped by the passage they quote, groups in order of their first number."""
    groups: dict[tuple[str, int, str], list[Citation]] = {}
    for c in sorted(citations, key=lambda c: c.n):
        groups.setdefault((c.doc_id, c.passage_start, c.text), []).append(c)
    return list(groups.values())


def _quote_line(citation: Citation, locate: Locate, several: bool, related: bool) -> str:
    """One quote of a card: its number, strength (when the card has several), where it is, and a link that
    opens the whole document at it."""
    parts = [] if related else [f'<span class="quote-n">[{citation.n}]</span>']
    if several:
        parts.append(strength_html(citation.score))
    where = locate(citation)
    if where:
        parts.append(f'<span class="quote-where">{escape_html(where)}</span>')
    url = escape_html(citation_url("", citation))
    parts.append(
        f'<a class="open-document" href="{url}" target="_blank" rel="noopener noreferrer">open in document</a>'
    )
    if not citation.supported:
        parts.append(
            '<span class="badge unsupported" title="Verification found the passage does not support this '
            'sentence">unsupported</span>'
        )
    return f'<li data-n="{citation.n}">{" ".join(parts)}</li>'


def card_html(group: list[Citation], locate: Locate = page_only, related: bool = False) -> str:
    """One source card for the citations of one passage: their numbers, the title, the best strength, the
    passage with every quote highlighted (expandable), and per quote its location and a document link. A
    `related` card is a passage shown for reading, not a citation of a claim."""
    first = group[0]
    numbers = " ".join(str(c.n) for c in group)
    quoted = marks(group)
    badge = (
        '<span class="badge related" title="Close to the question; not cited for any claim">related</span>'
        if related
        else ""
    )
    labels = "" if related else " ".join(f"[{c.n}]" for c in group)
    lines = "".join(_quote_line(c, locate, len(group) > 1, related) for c in group)
    return (
        f'<div class="source" data-n="{numbers}" data-doc="{escape_html(first.doc_id)}">'
        f'<div class="source-head"><span class="source-n">{labels}</span>'
        f'<span class="source-title">{escape_html(first.title)}</span>'
        f"{strength_html(max(c.score for c in group))}{badge}</div>"
        f'<details class="source-passage"><summary><span class="excerpt">{excerpt_html(first.text, quoted)}'
        f'</span><span class="expand-hint">show full passage</span></summary>'
        f'<div class="passage-full">{highlighted(first.text, quoted)}</div></details>'
        f'<ul class="source-quotes">{lines}</ul></div>'
    )


def _panel(key: int | None, count: int, inner: str) -> str:
    answer = f' data-answer="{key}"' if key is not None else ""
    return f'<div class="sources-panel"{answer} data-count="{count}">{inner}</div>'


def sources_html(
    answer: Answer | Mapping[str, Any] | None, locate: Locate = page_only, key: int | None = None
) -> str:
    """The sources panel for `answer` (`key`: its message's place in the chat, which its `[n]` markers name):
    one card per passage, or a line saying why there are none."""
    if answer is None:
        return _panel(None, 0, '<div class="sources-empty">Sources of the answer appear here.</div>')
    answer = as_answer(answer)
    question = escape_html(answer.question)
    if answer.outcome == "related" and answer.related:
        groups = group_by_passage(answer.related)
        cards = "".join(card_html(g, locate, related=True) for g in groups)
        head = f'<div class="sources-for related">Related passages for “{question}” — they do not state the answer</div>'
        return _panel(key, len(groups), f'{head}<div class="sources-list">{cards}</div>')
    if answer.abstained or not answer.citations:
        line = f"No sources: nothing in the documents answers “{question}”."
        return _panel(key, 0, f'<div class="sources-empty">{line}</div>')
    groups = group_by_passage(answer.citations)
    cards = "".join(card_html(g, locate) for g in groups)
    head = f'<div class="sources-for">for “{question}”</div>'
    return _panel(key, len(groups), f'{head}<div class="sources-list">{cards}</div>')
