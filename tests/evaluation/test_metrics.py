"""Answer metrics: normalisation, answer matching, token F1, citation precision/recall, abstention, latency."""

from __future__ import annotations

import pytest

from rag.evaluation.metrics import (
    contains_answer,
    group_accuracy,
    has_evidence,
    normalize,
    score_answer,
    summarize,
    token_f1,
)
from rag.evaluation.questions import Question
from rag.types import Answer, Citation


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("583,000 people", "583000 PEOPLE"),
        ("The  Hangzhou-based firm.", "hangzhou based firm"),
        ("70%", "70 per cent"),
        ("“Liège”", "liege"),
        ("$14.3 billion [1]", "14.3 billion"),
        ("1,234,567", "1234567"),
    ],
)
def test_normalize_unifies_case_spacing_punctuation_and_numbers(a, b):
    assert normalize(a) == normalize(b)


def test_normalize_keeps_decimals_and_distinct_numbers_apart():
    assert normalize("14.3") == "14.3"
    assert normalize("14.3") != normalize("143")
    assert normalize("1,23") != normalize("123")  # not a thousands separator


def test_contains_answer_matches_whole_tokens_only():
    text = "Sales reached 583,000 units, about 70% of the target [1]."
    assert contains_answer(text, ["583000"])
    assert contains_answer(text, ["70 percent"])
    assert contains_answer(text, ["nothing", "the TARGET"])
    assert not contains_answer(text, ["58"])
    assert not contains_answer(text, ["7"])
    assert not contains_answer(text, [])
    assert not contains_answer(text, [""])


def test_token_f1_is_the_best_over_accepted_answers():
    assert token_f1("Jack Ma", ["jack ma"]) == 1.0
    assert token_f1("founded by Jack Ma", ["Jack Ma"]) == pytest.approx(
        2 * 0.5 * 1 / (0.5 + 1)
    )  # precision 2/4, recall 2/2
    assert token_f1("Zhang Yong", ["Jack Ma", "Zhang Yong"]) == 1.0
    assert token_f1("nobody", ["Jack Ma"]) == 0.0


def test_has_evidence_ignores_case_and_spacing():
    assert has_evidence("It opened in  Liege,\nBelgium in 2021.", ["opened in liege, Belgium"])
    assert not has_evidence("It opened in Liege.", ["opened in Brussels"])
    assert not has_evidence("anything", [])


def _citation(text: str, n: int = 1) -> Citation:
    return Citation(n=n, doc_id="d", title="t", text=text, start=0, end=len(text), score=0.5)


ANSWERABLE = Question(
    "q1", "How many?", answers=["583,000"], evidence=["sold 583,000 units"], doc_ids=["d"], type="single"
)
UNANSWERABLE = Question("q2", "Who founded Lazada?", type="unanswerable")


def test_score_answer_counts_supported_citations_and_answer_match():
    answer = Answer(
        question="How many?",
        answer="It sold 583000 units [1] in total [2].",
        abstained=False,
        citations=[_citation("Last year it sold 583,000 units."), _citation("Unrelated.", 2)],
        latency_ms=12.0,
    )
    score = score_answer(ANSWERABLE, answer)
    assert score.correct and not score.abstained
    assert (score.citations, score.supported_citations) == (2, 1)
    assert 0 < score.f1 < 1


def test_abstaining_is_right_only_for_unanswerable_questions():
    abstain = Answer(question="?", answer="I don't know.", abstained=True)
    assert not score_answer(ANSWERABLE, abstain).correct
    assert score_answer(UNANSWERABLE, abstain).correct
    wrong = Answer(
        question="?",
        answer="Lazada was founded by Rocket Internet [1].",
        abstained=False,
        citations=[_citation("Rocket Internet founded Lazada.")],
    )
    assert not score_answer(UNANSWERABLE, wrong).correct


def test_summarize_computes_every_set_metric():
    q3 = Question(
        "q3", "Where?", answers=["Liege"], evidence=["warehouse in Liege"], doc_ids=["e"], type="single"
    )
    results = [
        (
            ANSWERABLE,
            Answer(
                question="",
                answer="583,000 units [1]",
                abstained=False,
                latency_ms=10,
                citations=[_citation("sold 583,000 units"), _citation("no", 2)],
            ),
        ),
        (q3, Answer(question="", answer="I don't know.", abstained=True, latency_ms=30)),
        (UNANSWERABLE, Answer(question="", answer="I don't know.", abstained=True, latency_ms=20)),
        (
            Question("q4", "Off topic?"),
            Answer(
                question="",
                answer="Paris [1]",
                abstained=False,
                latency_ms=40,
                citations=[_citation("Paris")],
            ),
        ),
    ]
    scores = [score_answer(q, a) for q, a in results]
    m = summarize(scores)
    assert (m["questions"], m["answerable"], m["unanswerable"]) == (4, 2, 2)
    assert m["answer_accuracy"] == 0.5
    assert m["citation_precision"] == 0.5  # one of the two citations of answerable questions holds evidence
    assert m["citation_recall"] == 0.5  # one of two answerable questions has a supported citation
    assert m["abstention_accuracy"] == 0.5
    assert m["false_abstention_rate"] == 0.5
    assert m["overall_accuracy"] == 0.5
    assert m["latency_p50_ms"] == 25.0
    assert m["latency_p95_ms"] == pytest.approx(38.5)
    by_doc = group_accuracy(scores, "doc")
    assert by_doc["d"] == {"questions": 1, "accuracy": 1.0}
    assert by_doc["(unanswerable)"] == {"questions": 2, "accuracy": 0.5}
    assert group_accuracy(scores, "type")["single"]["accuracy"] == 0.5


def test_summarize_reports_none_for_metrics_without_questions():
    m = summarize([score_answer(UNANSWERABLE, Answer(question="", answer="x", abstained=True))])
    assert (
        m["answer_accuracy"] is None and m["citation_precision"] is None and m["abstention_accuracy"] == 1.0
    )
