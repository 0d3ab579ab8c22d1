"""Cleaning removes the seed corpus's debris and keeps its content."""

from __future__ import annotations

import pytest

from rag.cleaning import clean_text
from rag.documents import load_paths
from tests.conftest import CORPUS

DEBRIS = [
    "< p >",
    "< / P >",
    "<A=",
    "target=_",
    "Global Tech",
    "Leave a Reply",
    "Your email address will not be published",
    "Required fields are marked",
    "Related reading",
    "ISSEY MIYAKE",
    "Beijing Fashion Week",
    "Harden Vol.4",
    "Shanghai Stock Index",
    "Written by",
]


@pytest.fixture(scope="module")
def cleaned() -> dict[str, str]:
    result = load_paths([CORPUS])
    assert not result.failures
    return {d.doc_id: d.text for d in result.documents}


@pytest.mark.parametrize("fragment", DEBRIS)
def test_seed_debris_never_reaches_the_text(cleaned: dict[str, str], fragment: str) -> None:
    for doc_id, text in cleaned.items():
        assert fragment not in text, f"{fragment!r} left in {doc_id}"


def test_no_markup_left_at_all(cleaned: dict[str, str]) -> None:
    for text in cleaned.values():
        assert "<" not in text and ">" not in text


def test_content_is_kept(cleaned: dict[str, str]) -> None:
    europe = cleaned["2020-alibaba-europe-expansion"]
    assert "covering an area of 220000 square meters" in europe
    assert "Christian Delcourt, a spokesman for Liege Airport" in europe
    assert europe.rstrip().endswith("(author / Xiao Yu)")
    counterfeit = cleaned["2016-counterfeit-notorious-markets-dispute"]
    assert counterfeit.rstrip().endswith("block its strategic layout of globalization.")
    singles = cleaned["2016-singles-day-goes-global"]
    assert "2 billion consumers" in singles


def test_paragraph_tags_become_paragraph_breaks() -> None:
    assert clean_text("First one. < / P > < p > second one.") == "First one.\n\nsecond one."


def test_dangling_link_and_its_label_are_dropped_but_closed_links_keep_their_text() -> None:
    assert clean_text("Hard to say. <A= https://x.example/c/ target=_ blank>Global Tech") == "Hard to say."
    assert clean_text('See <a href="/x">the report</a> here.') == "See the report here."


def test_entities_and_whitespace_are_normalised() -> None:
    assert clean_text("A&amp;F \u00a0  sells\t\tclothes.\n\n\n\nNext.") == "A&F sells clothes.\n\nNext."
