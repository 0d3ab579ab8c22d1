"""The team's seed question set is well-formed and its evidence and answers really are in the cleaned corpus."""

from __future__ import annotations

from collections import Counter

import pytest

from rag.documents import load_paths
from rag.evaluation.metrics import contains_answer
from rag.evaluation.questions import Question, load_questions
from tests.conftest import CORPUS, REPO

SEED = REPO / "evals" / "seed_questions.jsonl"


@pytest.fixture(scope="module")
def questions() -> list[Question]:
    return load_questions(SEED)


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    loaded = load_paths([CORPUS])
    assert not loaded.failures
    return {d.doc_id: d.text for d in loaded.documents}


def test_set_covers_the_corpus_with_multi_document_and_unanswerable_questions(questions, texts):
    types = Counter(q.type for q in questions)
    assert len(questions) >= 40
    assert types["unanswerable"] >= 6
    assert types["multi"] >= 3
    assert set(types) <= {"single", "multi", "unanswerable"}
    assert {d for q in questions for d in q.doc_ids} == set(texts), "every seed document has questions"
    for q in questions:
        assert q.answerable == (q.type != "unanswerable"), q.id
        assert q.answerable == bool(q.evidence) == bool(q.doc_ids), q.id
        assert len(set(q.doc_ids)) == (2 if q.type == "multi" else len(q.doc_ids)), q.id


def test_every_evidence_string_is_verbatim_in_the_cleaned_text_of_its_documents(questions, texts):
    missing = [
        (q.id, e)
        for q in questions
        for e in q.evidence
        if not any(e in texts[d] for d in q.doc_ids if d in texts)
    ]
    assert not missing
    unknown = [(q.id, d) for q in questions for d in q.doc_ids if d not in texts]
    assert not unknown


def test_multi_document_questions_have_evidence_in_each_document(questions, texts):
    for q in (q for q in questions if q.type == "multi"):
        for doc_id in q.doc_ids:
            assert any(e in texts[doc_id] for e in q.evidence), (q.id, doc_id)


def test_an_accepted_answer_appears_in_the_evidence_after_normalisation(questions):
    wrong = [q.id for q in questions if q.answerable and not contains_answer(" ".join(q.evidence), q.answers)]
    assert not wrong
