"""Answerability data and figures: labelled candidates, removal-based unanswerable pairs, model fitting, ROC AUC."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from rag.answer.answerability import FEATURES, AnswerabilityModel, reader_input, reader_picks
from rag.answer.reader import Reader
from rag.chunking import split_sentences
from rag.errors import RagError
from rag.evaluation.metrics import normalize
from rag.evaluation.questions import Question
from rag.types import Document


@dataclass
class Example:
    """One question's candidates: feature rows, which candidates hold its evidence, and the question's label."""

    qid: str
    answerable: bool
    rows: np.ndarray  # (candidates, len(FEATURES))
    labels: np.ndarray  # 1 where the candidate overlaps an evidence span
    source: str = ""
    reads: np.ndarray | None = None  # the answer reader's logit for each candidate (None: not read)

    def read(self, model: AnswerabilityModel) -> float:
        """The reader's best logit over the candidates `model` has it read (0 when it uses no reader)."""
        if not model.reader_candidates or self.reads is None:
            return 0.0
        return float(np.max(self.reads[reader_picks(model.logits(self.rows), model.reader_candidates)]))


def evidence_spans(text: str, evidence: Sequence[str]) -> list[tuple[int, int]]:
    """Where each evidence string occurs in `text` (case and spacing ignored)."""
    spans = []
    for item in evidence:
        words = item.split()
        if not words:
            continue
        pattern = r"\s+".join(re.escape(w) for w in words)
        spans += [(m.start(), m.end()) for m in re.finditer(pattern, text, re.IGNORECASE)]
    return spans


def collect(
    pipeline, items: Sequence[Question], source: str = "", reader: Reader | None = None
) -> list[Example]:
    """Features and labels of every question's candidates, from the pipeline's own decision step; with `reader`,
    also the reader's logit for every candidate."""
    examples = []
    for item in items:
        try:
            question, _, decision = pipeline.assess(item.question, item.history or None)
        except RagError:
            continue
        spans = {
            d: evidence_spans(pipeline.document(d).text, item.evidence)
            for d in item.doc_ids
            if item.answerable
        }
        rows, labels = [], []
        for candidate in decision.candidates:
            s = candidate.sentence
            hit = any(a < s.end and s.start < b for a, b in spans.get(s.passage.chunk.doc_id, []))
            rows.append([candidate.features[f] for f in FEATURES])
            labels.append(int(item.answerable and hit))
        if rows:
            reads = None
            if reader is not None:
                texts = [reader_input(reader, c.sentence, pipeline.data) for c in decision.candidates]
                reads = reader.scores(question, texts).astype(np.float64)
            examples.append(
                Example(item.id, item.answerable, np.array(rows), np.array(labels), source, reads)
            )
    return examples


def _without_answer(text: str, item: Question) -> str:
    """`text` without the sentences that hold the item's evidence or one of its accepted answers."""
    spans = evidence_spans(text, item.evidence)
    answers = [f" {normalize(a)} " for a in item.answers if normalize(a)]
    cursor, parts = 0, []
    for start, end in split_sentences(text):
        holds = any(a < end and start < b for a, b in spans) or any(
            a in f" {normalize(text[start:end])} " for a in answers
        )
        if holds:
            parts.append(text[cursor:start])
            cursor = end
    parts.append(text[cursor:])
    return "".join(parts)


def removal_pairs(pipeline, items: Sequence[Question]) -> list[tuple[Question, object]]:
    """For each answerable item with evidence: the item made unanswerable, and a pipeline over the index with the
    sentences holding its evidence (or an accepted answer) removed from its documents. Nothing is saved."""
    pairs = []
    for item in items:
        if not (item.answerable and item.evidence and item.doc_ids):
            continue
        docs = []
        for doc_id in item.doc_ids:
            doc = pipeline.document(doc_id)
            text = _without_answer(doc.text, item)
            docs.append(
                Document(doc.doc_id, doc.title, text if text.strip() else ".", doc.source, dict(doc.metadata))
            )
        variant = replace(
            item,
            id=f"{item.id}-removed",
            answers=[],
            evidence=[],
            doc_ids=[],
            type="removal",
            style="removal",
        )
        pairs.append((variant, pipeline.derived(upsert=docs)))
    return pairs


def collect_removal(
    pipeline, items: Sequence[Question], source: str = "removal", reader: Reader | None = None
) -> list[Example]:
    """`collect` over the removal-based unanswerable variants of `items`."""
    examples = []
    for variant, derived in removal_pairs(pipeline, items):
        examples += collect(derived, [variant], source, reader)
    return examples


def fit(
    examples: Sequence[Example],
    *,
    c: float = 1.0,
    meta: dict | None = None,
    reader_candidates: int = 0,
) -> AnswerabilityModel:
    """Logistic regression on candidates (does this sentence answer the question?), then a question-level one
    of each question's best logit (and, with `reader_candidates` > 0, the reader's best logit over that many
    best-ranked candidates: the examples must carry `reads`) against whether the question is answerable."""
    if reader_candidates and any(e.reads is None for e in examples):
        raise ValueError("reader_candidates > 0 needs examples collected with the reader")
    from sklearn.linear_model import LogisticRegression

    x = np.concatenate([e.rows for e in examples])
    y = np.concatenate([e.labels for e in examples])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    clf = LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit((x - mean) / scale, y)
    model = AnswerabilityModel(
        FEATURES,
        tuple(mean.tolist()),
        tuple(scale.tolist()),
        tuple(clf.coef_[0].tolist()),
        float(clf.intercept_[0]),
        reader_candidates=reader_candidates,
        meta=meta or {},
    )
    best = np.array(
        [[model.logits(e.rows).max(), *([e.read(model)] if reader_candidates else [])] for e in examples]
    )
    labels = np.array([int(e.answerable) for e in examples])
    question = LogisticRegression(C=100.0, max_iter=2000).fit(best, labels)
    weights = question.coef_[0]
    return replace(
        model,
        platt=(float(weights[0]), float(question.intercept_[0])),
        reader_weight=float(weights[1]) if reader_candidates else 0.0,
    )


def confidences(model: AnswerabilityModel, examples: Sequence[Example]) -> np.ndarray:
    """Question-level confidence of each example under `model`."""
    return np.array([model.confidence(float(model.logits(e.rows).max()), e.read(model)) for e in examples])


def roc_auc(scores: Sequence[float], answerable: Sequence[bool]) -> float | None:
    """ROC AUC of `scores` separating answerable (positive) from unanswerable questions; None if one is missing."""
    from sklearn.metrics import roc_auc_score

    labels = [int(a) for a in answerable]
    return float(roc_auc_score(labels, list(scores))) if 0 < sum(labels) < len(labels) else None


def tradeoff(
    scores: Sequence[float], answerable: Sequence[bool], thresholds: Sequence[float] | None = None
) -> list[tuple[float, float, float]]:
    """(threshold, abstention on unanswerable, false abstention on answerable) over thresholds."""
    s, a = np.asarray(scores, dtype=float), np.asarray(answerable, dtype=bool)
    grid = np.linspace(0, 1, 101) if thresholds is None else np.asarray(thresholds)
    return [
        (
            float(t),
            float(np.mean(s[~a] < t)) if (~a).any() else 0.0,
            float(np.mean(s[a] < t)) if a.any() else 0.0,
        )
        for t in grid
    ]


def best_threshold(scores: Sequence[float], answerable: Sequence[bool]) -> float:
    """The threshold maximising balanced accuracy (midpoint of the widest tie); choose it on a dev split."""
    curve = tradeoff(scores, answerable, np.round(np.linspace(0.01, 0.99, 99), 2))
    best = max(0.5 * (u + 1 - f) for _, u, f in curve)
    ties = [t for t, u, f in curve if 0.5 * (u + 1 - f) >= best - 1e-12]
    return float(np.round(np.median(ties), 2))
