"""Answerability: three outcomes with a calibrated confidence, decided by the trained model on real evidence."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from rag.answer import ABSTAIN_TEXT, RELATED_TEXT
from rag.answer.answerability import (
    FEATURES,
    MODEL_PATH,
    READER_MODEL_PATH,
    Answerability,
    AnswerabilityModel,
    build_answerability,
    reader_picks,
)
from rag.answer.reader import Reader
from rag.embedding import Embedder
from rag.evaluation.answerability import Example, best_threshold, confidences, fit, roc_auc, tradeoff
from rag.pipeline import Pipeline
from rag.settings import Settings
from tests.conftest import make_settings


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


def test_the_confidence_combines_the_best_logit_with_the_readers_best_candidate(
    seed_index_dir: Path, embedder: Embedder
) -> None:
    """With RAG_ANSWER_READER the bundled reader model has the answer reader read its best-ranked candidates; the
    decision's confidence is the question-level model of the best logit and the reader's best logit over them."""
    model = AnswerabilityModel.load(READER_MODEL_PATH)
    assert model.reader_candidates > 0 and model.reader_weight > 0
    pipeline = Pipeline(make_settings(seed_index_dir, answer_reader=True), embedder=embedder)
    question = "how big is alibaba's warehouse in belgium"
    _, _, decision = pipeline.assess(question)
    rows = np.array([[c.features[f] for f in model.features] for c in decision.candidates])
    logits = model.logits(rows)
    picks = reader_picks(logits, model.reader_candidates)
    read = Reader().scores(question, [decision.candidates[i].sentence.text for i in picks])
    expected = model.confidence(float(logits.max()), float(read.max()))
    assert decision.confidence == pytest.approx(expected, abs=1e-3)
    assert model.confidence(float(logits.max()), 0.0) != pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("answer_reader", [False, True])
def test_a_question_whose_subject_is_only_a_pronoun_is_not_answered(
    seed_index_dir: Path, embedder: Embedder, answer_reader: bool
) -> None:
    """ "How big is it?" with no conversation: the reader scores the Liège warehouse's size as an answer, but
    nothing says the user means that warehouse; the related passages are offered instead. With the
    conversation the same question is answered."""
    pipeline = Pipeline(make_settings(seed_index_dir, answer_reader=answer_reader), embedder=embedder)
    alone = pipeline.ask("How big is it?")
    assert alone.abstained and alone.outcome in {"related", "none"}
    history = [{"role": "user", "content": "when did alibaba start building the warehouse at liege airport?"}]
    followed = pipeline.ask("How big is it?", history=history)
    assert not followed.abstained and "220000" in followed.answer


def test_reader_picks_are_the_best_logits_first() -> None:
    assert reader_picks(np.array([0.1, 2.0, -1.0, 1.5]), 2).tolist() == [1, 3]
    assert reader_picks(np.array([0.1, 2.0]), 8).tolist() == [1, 0]
    assert reader_picks(np.array([0.1, 2.0]), 0).tolist() == []


def test_a_model_that_reads_needs_the_reader() -> None:
    model = dataclasses.replace(AnswerabilityModel.load(MODEL_PATH), reader_candidates=2)
    with pytest.raises(ValueError, match="needs the answer reader"):
        Answerability(model, 0.5, 0.2)


def test_fitting_uses_the_reader_where_the_candidate_features_cannot_tell() -> None:
    """Answerable and unanswerable questions whose candidate features look alike, but whose reader logits
    differ: only the model with the reader separates them."""
    rng = np.random.default_rng(1)
    examples = []
    for i in range(80):
        answerable = i % 2 == 0
        rows = rng.normal(0, 1, (4, len(FEATURES)))
        rows[0, FEATURES.index("semantic")] += 3.0  # every question has a strong-looking best candidate
        labels = np.zeros(4, dtype=int)
        labels[0] = int(answerable)
        reads = rng.normal(-3.0, 1.0, 4)
        if answerable:
            reads[0] += 6.0
        examples.append(Example(f"q{i}", answerable, rows, labels, reads=reads))
    answerable = [e.answerable for e in examples]
    with_reader = fit(examples, reader_candidates=2)
    assert with_reader.reader_candidates == 2 and with_reader.reader_weight > 0
    assert roc_auc(confidences(with_reader, examples), answerable) > 0.95
    assert roc_auc(confidences(fit(examples), examples), answerable) < 0.75
    with pytest.raises(ValueError, match="collected with the reader"):
        fit([dataclasses.replace(e, reads=None) for e in examples], reader_candidates=2)


def test_the_reader_is_switched_on_by_setting_and_the_threshold_follows_the_model() -> None:
    """By default the bundled model without the reader, at the threshold it was trained with (the settings
    default); RAG_ANSWER_READER=true takes the reader model at its own threshold; an explicit threshold wins."""
    default = build_answerability(Settings(_env_file=None))
    assert default.reader is None and default.model.reader_candidates == 0
    assert default.answer_threshold == AnswerabilityModel.load(MODEL_PATH).meta["threshold"]
    assert Settings(_env_file=None).answer_threshold == default.answer_threshold
    read = build_answerability(Settings(_env_file=None, answer_reader=True))
    assert read.reader is not None and read.model.reader_candidates > 0
    assert read.answer_threshold == AnswerabilityModel.load(READER_MODEL_PATH).meta["threshold"]
    assert read.answer_threshold != default.answer_threshold
    explicit = Settings(_env_file=None, answer_reader=True, answer_threshold=0.7)
    assert build_answerability(explicit).answer_threshold == 0.7
