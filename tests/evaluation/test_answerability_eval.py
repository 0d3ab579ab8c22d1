"""Removal-based unanswerable pairs, split selection, history in question sets and the answerability report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.answer.reader import Reader
from rag.errors import InvalidInput
from rag.evaluation.answerability import collect, removal_pairs
from rag.evaluation.metrics import has_evidence
from rag.evaluation.qa import evaluate_questions
from rag.evaluation.questions import Question, load_questions
from rag.evaluation.report import build_metrics, write_report
from rag.evaluation.training import parse_source
from rag.pipeline import Pipeline
from tests.conftest import REPO

NATURAL = REPO / "evals" / "natural_questions.jsonl"
LIEGE = Question(
    "t1",
    "how big is the belgian warehouse",
    ["220000"],
    ["covering an area of 220000 square meters"],
    ["2020-alibaba-europe-expansion"],
    "single",
)


def test_removal_takes_the_answer_out_of_the_index_and_leaves_the_original(seed_pipeline: Pipeline) -> None:
    ((variant, derived),) = removal_pairs(seed_pipeline, [LIEGE])
    assert variant.answers == [] and variant.type == "removal" and variant.id == "t1-removed"
    text = derived.document("2020-alibaba-europe-expansion").text
    assert "220000" not in text and "Liege Airport" in text, "only the sentence holding the answer goes"
    assert not any(has_evidence(p.chunk.text, LIEGE.evidence) for p in derived.search("liege warehouse", 20))
    assert "220000" in seed_pipeline.document("2020-alibaba-europe-expansion").text, "nothing saved"
    assert not derived.ask(LIEGE.question).citations or "220000" not in derived.ask(LIEGE.question).answer


def test_evaluation_scores_removal_twins_and_reports_the_answerability_curve(
    seed_pipeline: Pipeline, tmp_path: Path
) -> None:
    off_topic = Question("t2", "how do i bake sourdough", type="unanswerable")
    result = evaluate_questions(seed_pipeline, [LIEGE, off_topic], removal=True)
    assert [s.type for s in result.scores] == ["single", "unanswerable", "removal"]
    assert result.metrics["removal_abstention"] in (0.0, 1.0)
    assert result.metrics["abstention_accuracy"] == 1.0, "removal twins are counted apart"
    assert result.metrics["answerability_auc"] is not None
    doc = build_metrics("questions", "t", result.metrics, settings={"answer_threshold": 0.5})
    files = write_report(tmp_path, doc, per_item=[s.as_dict() for s in result.scores])
    assert tmp_path / "answerability.png" in files and (tmp_path / "answerability.png").stat().st_size > 1000


def test_follow_ups_in_a_question_set_are_asked_with_their_history(seed_pipeline: Pipeline) -> None:
    item = Question(
        "t3",
        "who runs it?",
        ["Zhang Jianfeng"],
        history=[
            {"role": "user", "content": "what is alicloud?"},
            {"role": "assistant", "content": "A cloud [1]."},
        ],
        standalone="who runs alicloud?",
    )
    result = evaluate_questions(seed_pipeline, [item])
    assert result.answers[0].standalone_question == "who runs alicloud?"
    assert result.scores[0].rewrite_f1 == 1.0 and result.metrics["rewrite_f1"] == 1.0


def test_splits_select_items_and_the_test_split_is_refused_for_training() -> None:
    dev, test = load_questions(NATURAL, "dev"), load_questions(NATURAL, "test")
    assert {q.split for q in dev} == {"dev"} and {q.split for q in test} == {"test"}
    assert not {q.id for q in dev} & {q.id for q in test}
    assert any(q.history for q in dev)
    with pytest.raises(InvalidInput, match="no questions in split"):
        load_questions(NATURAL, "train")
    with pytest.raises(InvalidInput, match="held out"):
        parse_source(f"{NATURAL}:test")
    assert parse_source(f"{NATURAL}:dev") == (NATURAL, "dev")


@pytest.mark.parametrize("name", ["answerability.json", "answerability_reader.json"])
def test_the_bundled_model_was_trained_without_the_test_split(name: str) -> None:
    meta = json.loads((REPO / "rag" / "answer" / name).read_text())["meta"]
    assert meta["sources"] and not any(s.endswith(":test") for s in meta["sources"])
    assert any("natural_questions.jsonl:dev" in s for s in meta["sources"])


def test_training_examples_carry_the_readers_logit_for_every_candidate(seed_pipeline: Pipeline) -> None:
    """With a reader, each collected candidate gets its logit, and the evidence sentence is read as the best."""
    (example,) = collect(seed_pipeline, [LIEGE], "t", Reader())
    assert example.reads is not None and example.reads.shape == (len(example.rows),)
    assert example.labels.sum() >= 1
    assert example.labels[int(example.reads.argmax())] == 1
    (plain,) = collect(seed_pipeline, [LIEGE], "t")
    assert plain.reads is None and (plain.rows == example.rows).all()
