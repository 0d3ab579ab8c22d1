"""ui.render: answers become escaped chat markdown with `[n]` markers; status lines and the documents table."""

from __future__ import annotations

import re

import pytest

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
    assert 'title="Liège &lt;hub&gt; (click: show the source)"' in md


def test_markers_name_their_number_and_answer_for_the_click_to_find_the_card() -> None:
    md = render.answer_markdown(answer("One. [1] Two. [2]", [citation(1), citation(2, supported=False)]), 5)
    assert 'class="cite cite-n-1 cite-answer-5"' in md
    assert 'class="cite unsupported cite-n-2 cite-answer-5"' in md
    assert "data-" not in md, "the chat's sanitizer drops data attributes"
    assert "cite-answer" not in render.answer_markdown(answer("One. [1]", [citation(1)]))


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


def test_documents_table_escapes_and_handles_empty() -> None:
    record = DocumentRecord(
        doc_id="d<1>", title="T & <b>", source="upload:x.md", sha256="0", chunks=3, chars=12345
    )
    html = render.documents_html([record])
    assert 'data-doc="d&lt;1&gt;"' in html and "T &amp; &lt;b&gt;" in html and "12,345" in html
    assert 'href="/documents/d%3C1%3E"' in html, "the title opens the document page"
    assert "No documents" in render.documents_html([])


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("/srv/private/corpus/notes.md", "notes.md"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("upload:minutes.txt", "minutes.txt"),
        ("text:Otters", "sent as text"),
        ("text", "sent as text"),
    ],
)
def test_documents_table_shows_file_names_never_server_paths(source: str, shown: str) -> None:
    record = DocumentRecord(doc_id="d", title="T", source=source, sha256="0", chunks=1, chars=1)
    html = render.documents_html([record])
    assert f'<td class="doc-source">{shown}</td>' in html
    assert "/srv" not in html and "Users" not in html and "upload:" not in html and "<th>File</th>" in html


def test_removal_question_names_the_document_escaped() -> None:
    html = render.confirm_html("<b>Notes</b>", "notes", 4)
    assert "&lt;b&gt;Notes&lt;/b&gt;" in html and "<code>notes</code>" in html and "cannot be undone" in html


def test_message_kinds_are_checked() -> None:
    assert 'class="status error"' in render.message_html("bad <x>", "error")
    with pytest.raises(ValueError):
        render.message_html("x", "shout")
