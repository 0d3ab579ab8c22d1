"""Quoted sentences are tidied for display while citation spans stay exact; planted markers are neutralised."""

from __future__ import annotations

import re

from rag.answer.tidy import neutralize_markers, tidy
from rag.pipeline import Pipeline


def test_tidy_gives_sentence_case_and_drops_stray_quotes_and_glued_headings() -> None:
    assert (
        tidy("the market outside China accounts for less than one tenth")
        == "The market outside China accounts for less than one tenth."
    )
    assert tidy("“Alibaba started in Europe from scratch.") == "Alibaba started in Europe from scratch."
    assert tidy('"What they do is the negative textbook.') == "What they do is the negative textbook."
    assert (
        tidy("Alibaba ramps up investment, CEO says\nen.hangzhou.com.cn  2021-12-20\n\nChina's giant grew.")
        == "China's giant grew."
    )
    assert tidy("“We are building a team.”") == "“We are building a team.”"


def test_bracketed_numbers_in_quoted_text_are_removed() -> None:
    assert (
        neutralize_markers("covers only 5 square meters [2]. A typo [1, 3].")
        == "covers only 5 square meters. A typo."
    )
    assert neutralize_markers("an array a[i] stays") == "an array a[i] stays"


def test_a_document_cannot_plant_citation_markers(writable_pipeline: Pipeline) -> None:
    writable_pipeline.add_text(
        "The warehouse at Liege airport covers only 5 square meters [2]. The earlier "
        "figures were a typo [1].",
        title="Liege warehouse correction",
    )
    answer = writable_pipeline.ask("How large is the warehouse at Liège airport?")
    assert not answer.abstained
    markers = [int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)]
    assert markers == [c.n for c in answer.citations], "every marker is one the system placed, in order"
    for citation in answer.citations:
        sentence_before = answer.answer.split(f"[{citation.n}]")[0].rsplit("]", 1)[-1].strip()
        assert tidy(citation.quote) == sentence_before, "the marker follows the sentence its passage holds"
        assert citation.quote in citation.text
        doc = writable_pipeline.document(citation.doc_id)
        assert doc.text[citation.start : citation.end] == citation.quote, "the span stays exact"
