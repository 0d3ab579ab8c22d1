"""ui.sources: one card per passage with every quote highlighted, plain-words strength, page/paragraph location,
a link that opens the document at the quote; and the locations themselves (rag.api.locations)."""

from __future__ import annotations

import re

import pytest

from rag.api.locations import file_name, location_words, paragraph_at, paragraphs
from rag.pipeline import Pipeline
from rag.types import PAGE_STARTS_KEY, Answer, Citation, Document
from ui import sources
from ui.handlers import PageHandlers

PASSAGE = "Intro sentence here. The <b>warehouse</b> covers 220000 m² & more. Closing remark {x} $1."
FIRST = "The <b>warehouse</b> covers 220000 m² & more."
SECOND = "Closing remark {x} $1."


def cite(n: int, quote: str, *, text: str = PASSAGE, passage_start: int = 100, **extra: object) -> Citation:
    start = passage_start + text.index(quote)
    fields = {"doc_id": "doc-1", "title": "Liège <hub>", "score": 0.9, "supported": True, **extra}
    return Citation(
        n=n,
        text=text,
        start=start,
        end=start + len(quote),
        quote=quote,
        passage_start=passage_start,
        **fields,  # type: ignore[arg-type]
    )


def answer(citations: list[Citation], **extra: object) -> Answer:
    return Answer(question="How large? <i>", answer="x", abstained=False, citations=citations, **extra)  # type: ignore[arg-type]


def test_strength_is_said_in_words() -> None:
    assert [sources.strength(s) for s in (0.97, 0.8, 0.79, 0.5, 0.49, 0.0)] == [
        "strong match",
        "strong match",
        "good match",
        "good match",
        "weak match",
        "weak match",
    ]
    label = sources.strength_html(0.5812)
    assert ">good match</span>" in label and 'class="source-strength good"' in label
    assert "0.58" in label.split(">")[0], "the number is only in the tooltip"


def test_quotes_of_one_passage_share_one_card_with_each_highlighted() -> None:
    one, three = cite(1, FIRST, score=0.93), cite(3, SECOND, score=0.41)
    other = cite(2, "Other fact.", text="Other fact. More.", passage_start=900)
    html = sources.sources_html(answer([one, other, three]), key=4)
    assert html.count('class="source"') == 2
    assert 'data-answer="4"' in html and 'data-count="2"' in html
    card = html[html.index('data-n="1 3"') : html.index('data-n="2"')]
    assert "[1] [3]" in card and card.count("strong match") == 2, "best strength in the head, and per quote"
    assert "weak match" in card
    assert '<mark data-n="1">The &lt;b&gt;warehouse&lt;/b&gt; covers 220000 m² &amp; more.</mark>' in card
    assert '<mark data-n="3">Closing remark &#123;x&#125; &#36;1.</mark>' in card
    assert "score" not in card and ">0.93" not in card, "no raw scores on show"
    assert html.index('data-n="1 3"') < html.index('data-n="2"'), "cards in the order of their first number"


def test_overlapping_quotes_become_one_mark() -> None:
    whole = cite(1, FIRST)
    part = cite(2, "covers 220000")
    marks = sources.marks([whole, part])
    assert len(marks) == 1 and marks[0].numbers == (1, 2)
    assert sources.highlighted(PASSAGE, marks).count("<mark") == 1


def test_card_links_each_quote_to_the_document_page_and_says_where_it_is() -> None:
    quote = cite(1, FIRST, doc_id="notes/a b", page=3)
    html = sources.card_html([quote])
    assert f'href="/documents/notes/a%20b?start={quote.start}&amp;end={quote.end}"' in html
    assert ">open in document</a>" in html and 'rel="noopener noreferrer"' in html
    assert "page 3" in html and "characters" not in html
    plain = sources.card_html([cite(1, FIRST)], locate=lambda c: "paragraph 7")
    assert '<span class="quote-where">paragraph 7</span>' in plain


def test_unsupported_and_related_cards() -> None:
    html = sources.card_html([cite(1, FIRST, supported=False)])
    assert 'class="badge unsupported"' in html and '<mark data-n="1" class="unsupported">' in html
    related = Answer(
        question="q",
        answer="",
        abstained=True,
        outcome="related",
        related=[cite(1, FIRST, score=0.2)],
    )
    panel = sources.sources_html(related)
    assert "do not state the answer" in panel and 'class="badge related"' in panel
    assert "weak match" in panel and "[1]" not in panel, "a related passage cites nothing"


def test_panel_states_and_hostile_question() -> None:
    assert "appear here" in sources.sources_html(None)
    none = sources.sources_html(Answer(question="<script>x</script>", answer="", abstained=True))
    assert "No sources" in none and "&lt;script&gt;" in none and 'class="source"' not in none


def test_long_passage_excerpt_is_cut_around_the_quotes() -> None:
    text = "a" * 1000 + " " + FIRST + " " + "z" * 1000
    quoted = sources.marks([cite(1, FIRST, text=text)])
    html = sources.excerpt_html(text, quoted, context=50)
    assert html.startswith("…") and html.endswith("…") and "<mark" in html and len(html) < 400


def test_quote_span_uses_offsets_then_falls_back_to_search() -> None:
    good = cite(1, FIRST)
    s, e = sources.quote_span(good)  # type: ignore[misc]
    assert good.text[s:e] == FIRST
    shifted = good.model_copy(update={"start": 0, "end": 5})
    s, e = sources.quote_span(shifted)  # type: ignore[misc]
    assert shifted.text[s:e] == FIRST
    lost = good.model_copy(update={"quote": "Nowhere.", "start": 10_000, "end": 10_010})
    assert sources.quote_span(lost) is None


TEXT = "Title line\n\nFirst paragraph.\nStill the first.\n\nSecond paragraph here.\n\n\nThird one."
PAGED = "Page one, para one.\n\nPage one, para two.\n\nPage two only line.\nPage two second line."


def test_paragraphs_are_blank_line_blocks_or_lines() -> None:
    spans = paragraphs(TEXT)
    assert [TEXT[a:b] for a, b in spans] == [
        "Title line",
        "First paragraph.\nStill the first.",
        "Second paragraph here.",
        "Third one.",
    ]
    lines = "One.\nTwo.\nThree."
    assert [lines[a:b] for a, b in paragraphs(lines)] == ["One.", "Two.", "Three."]
    assert paragraphs("  \n\n ") == []


@pytest.mark.parametrize(
    ("quote", "where"),
    [("Title line", "paragraph 1"), ("Still the first.", "paragraph 2"), ("Third one.", "paragraph 4")],
)
def test_location_of_a_plain_document(quote: str, where: str) -> None:
    document = Document("d", "T", TEXT)
    assert location_words(document, TEXT.index(quote)) == where


def test_location_counts_paragraphs_within_each_page() -> None:
    page_two = PAGED.index("Page two")
    document = Document("d", "T", PAGED, metadata={PAGE_STARTS_KEY: f"0,{page_two}"})
    assert location_words(document, PAGED.index("para two")) == "page 1, paragraph 2"
    assert paragraph_at(document, PAGED.index("Page two second")) == (2, 2), "a page without blank lines"
    assert location_words(document, page_two) == "page 2, paragraph 1"


def test_file_name_hides_server_paths() -> None:
    assert file_name("/home/srv/corpus/a.md") == "a.md"
    assert file_name("upload:b.pdf") == "b.pdf"
    assert file_name("text:Title") == "sent as text"


def test_real_answer_cards_say_paragraph_and_open_the_document(seed_pipeline: Pipeline) -> None:
    result = seed_pipeline.ask("How do IDC and Gartner rank Alibaba's cloud?")
    assert len(result.citations) > len(sources.group_by_passage(result.citations)), (
        "precondition: this answer quotes one passage twice"
    )
    html = PageHandlers(seed_pipeline).sources_html(result, 1)
    assert html.count('class="source"') == len(sources.group_by_passage(result.citations))
    for c in result.citations:
        document = seed_pipeline.document(c.doc_id)
        assert f"{location_words(document, c.start)}</span>" in html
        assert f"/documents/{c.doc_id}?start={c.start}&amp;end={c.end}" in html
    assert not re.search(r"characters \d|score \d", html), "no character offsets, no raw scores"
