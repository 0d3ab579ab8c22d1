"""ui.render: answers become escaped chat markdown with `[n]` markers, and sources HTML with the quote highlighted."""

from __future__ import annotations

import re

import pytest

from rag.pipeline import Pipeline
from rag.stores import DocumentRecord
from rag.types import Answer, Citation
from ui import render

PASSAGE = "Intro sentence here. The <b>warehouse</b> covers 220000 m² & more. Closing remark {x} $1."
QUOTE = "The <b>warehouse</b> covers 220000 m² & more."
HOSTILE = '<img src=x onerror="alert(1)"> **bold** _it_ [link](http://evil) `code` $$x$$ {{t}} ${v}'


def citation(
    n: int = 1,
    *,
    text: str = PASSAGE,
    quote: str = QUOTE,
    passage_start: int = 100,
    supported: bool = True,
    title: str = "Liège <hub>",
) -> Citation:
    start = passage_start + text.index(quote) if quote in text else passage_start
    return Citation(
        n=n,
        doc_id="doc-1",
        title=title,
        text=text,
        start=start,
        end=start + len(quote),
        score=0.8731,
        quote=quote,
        passage_start=passage_start,
        supported=supported,
    )


def answer(
    text: str, citations: list[Citation], *, abstained: bool = False, notice: str | None = None
) -> Answer:
    return Answer(
        question="How large? <i>", answer=text, abstained=abstained, citations=citations, notice=notice
    )


def test_escape_html_leaves_no_markup_or_template_syntax() -> None:
    out = render.escape_html(HOSTILE)
    assert "<" not in out and ">" not in out and '"' not in out
    assert not re.search(r"[{}$`]", out)
    assert "&lt;img" in out and "&#123;&#123;t&#125;&#125;" in out


def test_escape_markdown_backslashes_every_markdown_character() -> None:
    out = render.escape_markdown(HOSTILE)
    assert "<img" not in out and "&lt;img" in out
    unescaped = re.findall(r"(?<!\\)[*_\[\]()`$#|~{}]", out)
    assert unescaped == []


def test_answer_markers_become_citation_marks_and_text_is_escaped() -> None:
    md = render.answer_markdown(answer(f"{HOSTILE} [1] and more [2]", [citation(1), citation(2)]))
    assert md.count('<sup class="cite"') == 2
    assert ">[1]</sup>" in md and ">[2]</sup>" in md
    assert "<img" not in md and "**bold**" not in md
    assert 'title="Liège &lt;hub&gt;"' in md


def test_unsupported_citation_is_flagged_in_the_answer() -> None:
    md = render.answer_markdown(
        answer("Claim one. [1] Claim two. [2]", [citation(1), citation(2, supported=False)])
    )
    assert md.count('class="cite unsupported"') == 1
    assert "Not supported by the cited passage: [2]" in md


def test_abstention_says_not_found_and_cites_nothing() -> None:
    md = render.answer_markdown(answer("I could not find this in the documents.", [], abstained=True))
    assert render.NOT_FOUND in md and "<sup" not in md
    own = render.answer_markdown(answer("The documents do not say <who>.", [], abstained=True))
    assert render.NOT_FOUND in own and "&lt;who&gt;" in own


def test_notice_is_shown_escaped() -> None:
    md = render.answer_markdown(answer("Yes. [1]", [citation()], notice="fell back to <extractive>"))
    assert 'class="notice"' in md and "&lt;extractive&gt;" in md


def test_partial_answer_shows_markers_and_a_cursor() -> None:
    md = render.partial_markdown("Half an answer [1]")
    assert ">[1]</sup>" in md and 'class="typing"' in md


def test_quote_span_uses_offsets_then_falls_back_to_search() -> None:
    good = citation()
    s, e = render.quote_span(good)
    assert good.text[s:e] == QUOTE
    shifted = citation().model_copy(update={"start": 0, "end": 5})
    s, e = render.quote_span(shifted)
    assert shifted.text[s:e] == QUOTE
    lost = citation(quote="A sentence that is nowhere.")
    assert render.quote_span(lost.model_copy(update={"start": 10_000, "end": 10_010})) is None


def test_source_card_highlights_the_quote_and_holds_the_full_passage() -> None:
    html = render.citation_html(citation(3))
    assert 'data-n="3"' in html and 'data-doc="doc-1"' in html
    assert "<mark>The &lt;b&gt;warehouse&lt;/b&gt; covers 220000 m² &amp; more.</mark>" in html
    assert "score 0.87" in html
    assert "Closing remark &#123;x&#125; &#36;1." in html
    assert "<b>" not in html and "unsupported" not in html
    assert 'class="badge unsupported"' in render.citation_html(citation(supported=False))


def test_long_passage_excerpt_is_cut_around_the_quote() -> None:
    long_text = "a" * 1000 + " " + QUOTE + " " + "z" * 1000
    html = render.excerpt_html(citation(text=long_text), context=50)
    assert html.startswith("…") and html.endswith("…")
    assert "<mark>" in html and len(html) < 400


def test_sources_panel_states() -> None:
    assert "appear here" in render.sources_html(None)
    none = render.sources_html(answer("I could not find this in the documents.", [], abstained=True))
    assert "No sources" in none and "&lt;i&gt;" in none and 'class="source"' not in none
    two = render.sources_html(answer("x [2] y [1]", [citation(2), citation(1)]).model_dump())
    assert two.index('data-n="1"') < two.index('data-n="2"')


def test_documents_table_escapes_and_handles_empty() -> None:
    record = DocumentRecord(
        doc_id="d<1>", title="T & <b>", source="upload:x.md", sha256="0", chunks=3, chars=12345
    )
    html = render.documents_html([record])
    assert 'data-doc="d&lt;1&gt;"' in html and "T &amp; &lt;b&gt;" in html and "12,345" in html
    assert "No documents" in render.documents_html([])


def test_message_kinds_are_checked() -> None:
    assert 'class="status error"' in render.message_html("bad <x>", "error")
    with pytest.raises(ValueError):
        render.message_html("x", "shout")


def test_real_answer_renders_its_quotes(seed_pipeline: Pipeline) -> None:
    result = seed_pipeline.ask("How large is the warehouse at Liège airport?")
    assert result.citations, "precondition: the seed question is answered"
    html = render.sources_html(result)
    for c in result.citations:
        assert f"<mark>{render.escape_html(c.quote)}</mark>" in html
    md = render.answer_markdown(result)
    assert all(f">[{c.n}]</sup>" in md for c in result.citations)
