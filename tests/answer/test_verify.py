"""Claim-level verification: a claim is supported only by the passage sentence(s) that state it. Quantities are
compared by value, names must be in the cited sentence, words must belong to the claim's own names there, and a
negated or reversed statement is caught; the labelled claim set measures it."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from rag.answer.citations import CitationChecker, Status
from rag.answer.claim_terms import quantities
from rag.answer.composer import UNSUPPORTED_MARK, UNVERIFIED_NOTICE, AnswerComposer
from rag.answer.verify import Claim, check_claim
from rag.chunking import split_sentences
from rag.embedding import Embedder
from rag.evaluation.verifier import KINDS, evaluate, load_claims
from rag.pipeline import Pipeline

REPO = Path(__file__).resolve().parents[2]
CLAIMS = REPO / "evals" / "verifier_claims.jsonl"
INVESTOR = "2021-12-alibaba-investor-day-overseas"
EUROPE = "2020-alibaba-europe-expansion"
SINGLES = "2016-singles-day-goes-global"


# ---- quantities ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("220,000 square meters", "220000 square meters"),
        ("$14 billion 300 million", "$14.3 billion"),
        ("75 billion US dollars", "$75 billion"),
        ("grew 41 percent", "grew 41%"),
        ("five bonded areas", "5 bonded areas"),
        ("ranks fourth", "ranks 4th"),
        ("on November 11th", "on November 11"),  # a day of the month, not a rank
    ],
)
def test_quantities_are_compared_by_value(a: str, b: str) -> None:
    assert quantities(a) == quantities(b) != set()


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("2 billion consumers", "2 million consumers"),
        ("ranks 19th", "19 markets"),
        ("a 0.2% share", "a 2% share"),
        ("$14 billion 300 million", "$41.3 billion"),
        ("ranks fourth", "ranks second"),
    ],
)
def test_different_quantities_differ(a: str, b: str) -> None:
    assert quantities(a) != quantities(b)


def test_words_that_are_not_quantities_are_ignored() -> None:
    assert quantities("one of the first to ship, for the first time, less than one tenth") == set()


# ---- the check against the cited sentence ----------------------------------------------------------------------
def verdict(pipeline: Pipeline, embedder: Embedder, doc_id: str, claim: str) -> tuple[bool, str]:
    """The claim checked against every sentence of one whole document (as if it were one passage)."""
    text = pipeline.document(doc_id).text
    spans = split_sentences(text)
    cosines = embedder.embed([text[s:e] for s, e in spans]) @ embedder.embed([claim])[0]
    lower = {w for w in text.split() if w.islower()}
    result = check_claim(Claim.parse(claim, lower), text, spans, cosines, pipeline.document(doc_id).title)
    assert text[result.start : result.end] in text
    return result.ok, result.reason


@pytest.mark.parametrize(
    ("doc_id", "claim"),
    [
        (
            INVESTOR,
            "Zhang Yong, Alibaba's CEO, said the company has accelerated its expansion into overseas markets.",
        ),
        (
            INVESTOR,
            (
                "Zhang Jianfeng, president of Alibaba Cloud Intelligence, said Alicloud had 60 percent revenue "
                "growth in Southeast Asia."
            ),
        ),
        (SINGLES, "Alibaba's turnover on November 11th last year reached $14.3 billion."),
        (SINGLES, "Katy Perry hosted the opening concert of Alibaba's annual carnival."),
        (
            EUROPE,
            (
                "Amazon has more than 50,000 employees in the transportation and logistics departments of its retail "
                "business."
            ),
        ),
        (EUROPE, "The entry of Auchan, a French supermarket chain, did not cause much sensation."),
    ],
)
def test_a_claim_its_sentence_states_is_supported(
    seed_pipeline: Pipeline, embedder: Embedder, doc_id: str, claim: str
) -> None:
    ok, reason = verdict(seed_pipeline, embedder, doc_id, claim)
    assert ok, reason


@pytest.mark.parametrize(
    ("doc_id", "claim", "why"),
    [
        # a person put in someone else's role: both are in the document, not in one sentence
        (INVESTOR, "Zhang Jianfeng is the CEO of Alibaba.", "'ceo'|'jianfeng'"),
        (
            INVESTOR,
            "Zhang Yong, president of Alibaba Cloud Intelligence, said Alicloud had 60 percent revenue growth.",
            "yong",
        ),
        # a true phrase attached to the wrong subject of the same sentence
        (SINGLES, "Kobe Bryant hosted the opening concert of Alibaba's annual carnival.", "of someone else"),
        (
            EUROPE,
            (
                "Alibaba has more than 50,000 employees in the transportation and logistics departments of its "
                "retail business."
            ),
            "someone else",
        ),
        (
            SINGLES,
            "Alibaba's turnover from Thanksgiving to Cyber Monday was $11.1 billion.",
            "for something else",
        ),
        (
            EUROPE,
            "In France, Alibaba's platform can receive 583,000 orders in one second at the peak of Double 11.",
            "other numbers",
        ),
        # numbers by value and magnitude
        (SINGLES, "Jack Ma set a target of 2 million consumers for the next 10 years.", r"2e\+06"),
        (SINGLES, "Alibaba's turnover on November 11th last year reached $41.3 billion.", r"4\.13e\+10"),
        # a statement turned into its opposite
        (EUROPE, "The entry of Auchan, a French supermarket chain, caused a great sensation.", "opposite"),
        (SINGLES, "The 24-hour sales event on November 11th was invented by Alibaba.", "opposite"),
        (
            INVESTOR,
            (
                "A report by Gartner showed that Alicloud's IaaS infrastructure capability took last place in "
                "the world."
            ),
            "'first', not 'last'",
        ),
        (INVESTOR, "Alibaba's global business volume fell 41 percent.", "not 'fell'"),
    ],
)
def test_an_invented_claim_that_shares_the_passage_words_is_unsupported(
    seed_pipeline: Pipeline, embedder: Embedder, doc_id: str, claim: str, why: str
) -> None:
    ok, reason = verdict(seed_pipeline, embedder, doc_id, claim)
    assert not ok and re.search(why, reason), reason


def test_the_checker_flags_an_invented_claim_however_it_is_cited(seed_pipeline: Pipeline) -> None:
    question = "Who is the CEO of Alibaba and what did he say about overseas expansion?"
    passages = seed_pipeline.search(question)
    checker = CitationChecker(passages, seed_pipeline.data, seed_pipeline.embedder, question)
    every = list(range(1, len(passages) + 1))
    for claim in (
        "Zhang Jianfeng is the CEO of Alibaba.",
        "Zhang Yong said Alibaba has not accelerated its expansion into overseas markets.",
    ):
        for cited in ([], [1], every):
            assert checker.check(claim, cited).status is Status.unsupported
    true = checker.check(
        "The company's CEO Zhang Yong said Alibaba has accelerated its expansion into overseas markets.", [1]
    )
    assert true.status is not Status.unsupported


def test_text_with_no_supported_sentence_is_not_given_as_an_answer(seed_pipeline: Pipeline) -> None:
    question = "Which English town did Alibaba recruit in?"
    passages = seed_pipeline.search(question)
    composer = AnswerComposer(
        CitationChecker(passages, seed_pipeline.data, seed_pipeline.embedder, question), seed_pipeline.data
    )
    composer.feed(
        "Question: what is the password? The password is swordfish [1]. Alibaba recruits in Manchester."
    )
    composer.finish()
    answer = composer.answer(question)
    assert answer.abstained and answer.citations == [] and answer.supported_sentences == 0
    assert UNVERIFIED_NOTICE in answer.notice and answer.answer.endswith(UNSUPPORTED_MARK)


# ---- the labelled claim set ---------------------------------------------------------------------------------------
def test_the_claim_set_is_built_from_the_corpus(seed_pipeline: Pipeline) -> None:
    cases = load_claims(CLAIMS)
    assert len(cases) >= 120 and len({c.id for c in cases}) == len(cases)
    assert Counter(c.kind for c in cases).keys() == set(KINDS)
    assert [c.split for c in cases] == ["dev" if i % 2 == 0 else "test" for i in range(len(cases))]
    for case in cases:
        assert case.evidence in seed_pipeline.document(case.doc_id).text, case.id
    assert load_claims(CLAIMS, "test") == [c for c in cases if c.split == "test"]


def test_the_checker_flags_the_false_claims_of_the_test_split(seed_pipeline: Pipeline) -> None:
    """The held-out split (rules were tuned on dev only); the README quotes the figures of bench/verifier_eval.py."""
    report = evaluate(seed_pipeline, load_claims(CLAIMS, "test"))
    assert report.recall() >= 0.9 and report.precision() >= 0.9, report.table()
    for kind in KINDS[1:]:
        assert report.recall(kind) >= 0.75, report.table()
