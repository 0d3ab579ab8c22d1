"""The natural-phrasing question set is well-formed, its evidence and answers are really in the cleaned corpus, and
its dev/test split follows the documented rule (no embedding model needed)."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict

import pytest

from rag.documents import load_paths
from rag.evaluation.metrics import contains_answer, normalize
from rag.evaluation.questions import Question, load_questions
from tests.conftest import CORPUS, REPO

NATURAL = REPO / "evals" / "natural_questions.jsonl"
STYLES = {"paraphrase", "chatty", "keyword", "why_how", "summary", "followup", "near_miss", "off_topic"}
TYPES = {"single", "multi", "unanswerable"}
SPLITS = {"dev", "test"}
KEY_PHRASE_STYLES = {"why_how", "summary"}  # answers are key phrases; they must be in the document text


@pytest.fixture(scope="module")
def questions() -> list[Question]:
    return load_questions(NATURAL)


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    with open(NATURAL, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    loaded = load_paths([CORPUS])
    assert not loaded.failures
    return {d.doc_id: d.text for d in loaded.documents}


def test_loads_with_the_question_loader_and_matches_the_raw_lines(questions, rows):
    assert len(questions) == len(rows) >= 150
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"n\d{3}", i) for i in ids)
    assert [q.id for q in questions] == ids


def test_fields_take_only_the_documented_values(rows):
    for r in rows:
        assert r["style"] in STYLES, r["id"]
        assert r["type"] in TYPES, r["id"]
        assert r["split"] in SPLITS, r["id"]
        assert r["question"].strip(), r["id"]
        is_followup = r["style"] == "followup"
        assert ("history" in r) == is_followup, r["id"]
        assert ("standalone" in r) == is_followup, r["id"]
        if r["style"] in {"near_miss", "off_topic"}:
            assert r["type"] == "unanswerable", r["id"]


def test_answerable_iff_evidence_iff_documents(questions):
    for q in questions:
        assert q.answerable == (q.type != "unanswerable"), q.id
        assert q.answerable == bool(q.evidence) == bool(q.doc_ids), q.id
        assert len(set(q.doc_ids)) == len(q.doc_ids) == (2 if q.type == "multi" else int(q.answerable)), q.id


def test_every_evidence_string_is_verbatim_in_the_cleaned_text_of_its_documents(questions, texts):
    unknown = [(q.id, d) for q in questions for d in q.doc_ids if d not in texts]
    assert not unknown
    missing = [(q.id, e) for q in questions for e in q.evidence if not any(e in texts[d] for d in q.doc_ids)]
    assert not missing
    bad_length = [(q.id, e) for q in questions for e in q.evidence if not 5 <= len(e.split()) <= 20]
    assert not bad_length


def test_multi_document_questions_have_evidence_in_each_document(questions, texts):
    for q in (q for q in questions if q.type == "multi"):
        for doc_id in q.doc_ids:
            assert any(e in texts[doc_id] for e in q.evidence), (q.id, doc_id)


def test_an_accepted_answer_is_in_the_evidence_or_for_key_phrases_in_the_document(questions, rows, texts):
    style = {r["id"]: r["style"] for r in rows}
    wrong = []
    for q in (q for q in questions if q.answerable):
        if style[q.id] in KEY_PHRASE_STYLES:
            hay = " ".join(texts[d] for d in q.doc_ids)
        else:
            hay = " ".join(q.evidence)
        if not contains_answer(hay, q.answers):
            wrong.append(q.id)
    assert not wrong
    empty = [q.id for q in questions for a in q.answers if not normalize(a)]
    assert not empty


def test_followups_carry_a_conversation_and_a_standalone_rewrite(rows):
    followups = [r for r in rows if r["style"] == "followup"]
    assert len(followups) >= 20
    for r in followups:
        history = r["history"]
        assert history, r["id"]
        assert [turn["role"] for turn in history] == ["user", "assistant"] * (len(history) // 2), r["id"]
        assert all(turn["content"].strip() for turn in history), r["id"]
        assert r["standalone"].strip() and r["standalone"] != r["question"], r["id"]
    assert any(r["type"] == "unanswerable" for r in followups)
    assert sum(r["type"] != "unanswerable" for r in followups) > len(followups) / 2


def test_the_mix_covers_every_document_and_the_wanted_kinds(rows, texts):
    styles = Counter(r["style"] for r in rows)
    plain = {"paraphrase", "chatty", "keyword"}
    answerable_single = sum(r["type"] == "single" and r["style"] in plain for r in rows)
    assert answerable_single >= 70
    assert sum(r["type"] != "unanswerable" and r["style"] in KEY_PHRASE_STYLES for r in rows) >= 15
    assert sum(r["type"] == "multi" for r in rows) >= 10
    assert styles["near_miss"] >= 30
    assert styles["off_topic"] >= 12
    assert {d for r in rows for d in r["doc_ids"]} == set(texts), "every seed document has questions"


def test_both_splits_hold_answerable_and_unanswerable_items_of_every_style(rows):
    for split in SPLITS:
        part = [r for r in rows if r["split"] == split]
        assert {r["style"] for r in part} == STYLES, split
        assert any(r["answers"] for r in part) and any(not r["answers"] for r in part), split
        assert {r["type"] for r in part} == TYPES, split
    sizes = Counter(r["split"] for r in rows)
    assert abs(sizes["dev"] - sizes["test"]) <= len(rows) * 0.1


def test_split_follows_the_documented_rule(rows):
    """Within each (style, type) group, in file order, items alternate dev, test, dev, ... (evals/README.md)."""
    seen: dict[tuple[str, str], int] = defaultdict(int)
    for r in rows:
        key = (r["style"], r["type"])
        assert r["split"] == ("dev" if seen[key] % 2 == 0 else "test"), r["id"]
        seen[key] += 1
