"""Answerability: three outcomes with a calibrated confidence, decided by the trained model on real evidence."""

from __future__ import annotations

import numpy as np
import pytest

from rag.answer import ABSTAIN_TEXT, RELATED_TEXT
from rag.answer.answerability import FEATURES, MODEL_PATH, AnswerabilityModel
from rag.evaluation.answerability import Example, best_threshold, confidences, fit, roc_auc, tradeoff
from rag.pipeline import Pipeline


def test_an_answered_question_carries_its_confidence(seed_pipeline: Pipeline) -> None:
    answer = seed_pipeline.ask("How large is the warehouse at Liège airport?")
    assert answer.outcome == "answered" and not answer.abstained
    assert seed_pipeline.settings.answer_threshold <= answer.confidence <= 1.0
    assert answer.related == []


@pytest.mark.parametrize("question", ["how do i bake sourdough", "What is the capital of Australia?"])
def test_nothing_relevant_abstains_without_passages(seed_pipeline: Pipeline, question: str) -> None:
    answer = seed_pipeline.ask(question)
    assert answer.outcome == "none" and answer.abstained
    assert answer.answer == ABSTAIN_TEXT and answer.citations == [] and answer.related == []
    assert 0.0 <= answer.confidence < seed_pipeline.settings.answer_threshold


def test_related_passages_are_offered_without_a_claim(seed_pipeline: Pipeline) -> None:
    answer = seed_pipeline.ask("how much did alibaba pay for its stake in lazada?")
    assert answer.abstained and answer.citations == []
    assert answer.outcome == "related", "the passage about Lazada exists; the price is in no article"
    assert answer.answer == RELATED_TEXT
    assert answer.related and any("Lazada" in r.text for r in answer.related)
    for r in answer.related:
        doc = seed_pipeline.document(r.doc_id)
        assert doc.text[r.start : r.end] == r.quote and r.quote in r.text


def test_the_related_outcome_never_hides_a_top_ranked_passage(seed_pipeline: Pipeline) -> None:
    """A question the index cannot answer but whose passages rank well is never a bare 'not found'."""
    _, retrieval, decision = seed_pipeline.assess("when will the liege warehouse be finished?")
    assert decision.relatedness == max(p.dense_score for p in retrieval.passages)
    answer = seed_pipeline.ask("when will the liege warehouse be finished?")
    assert answer.outcome in ("answered", "related")


def test_the_bundled_model_loads_and_round_trips(tmp_path) -> None:
    model = AnswerabilityModel.load(MODEL_PATH)
    assert model.features == FEATURES and len(model.weights) == len(FEATURES)
    model.save(tmp_path / "m.json")
    again = AnswerabilityModel.load(tmp_path / "m.json")
    rows = np.ones((2, len(FEATURES)))
    assert np.allclose(again.logits(rows), model.logits(rows))
    assert 0.0 < again.confidence(0.0) < 1.0


def test_fitting_learns_which_candidates_answer() -> None:
    rng = np.random.default_rng(0)
    examples = []
    for i in range(60):
        answerable = i % 2 == 0
        rows = rng.normal(0, 1, (4, len(FEATURES)))
        labels = np.zeros(4, dtype=int)
        if answerable:
            rows[0, FEATURES.index("semantic")] += 3.0
            labels[0] = 1
        examples.append(Example(f"q{i}", answerable, rows, labels))
    model = fit(examples)
    assert model.weights[FEATURES.index("semantic")] > 0
    scores = confidences(model, examples)
    assert roc_auc(scores, [e.answerable for e in examples]) > 0.9
    threshold = best_threshold(scores, [e.answerable for e in examples])
    ((_, abstained, false_abstention),) = tradeoff(scores, [e.answerable for e in examples], [threshold])
    assert abstained > 0.8 and false_abstention < 0.2
