"""Answer metrics for question sets: normalised answer matching, token F1, citation precision/recall, abstention."""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from rag.evaluation.questions import Question
from rag.types import Answer

_MARKER = re.compile(r"\[\d+\]")
_THOUSANDS = re.compile(r"(?<=\d)[,\u202f\u2009'](?=\d{3}(?!\d))")
_PERCENT = re.compile(r"\s*%|\bper\s*cent\b")
_DECIMAL = re.compile(r"(?<=\d)\.(?=\d)")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans({ch: " " for ch in string.punctuation + "“”‘’«»–—…·•"})
_WS = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Lower-cased, accent-folded text without punctuation, articles or citation markers; numbers unified.

    "583,000" and "583000" become the same token, "70%" and "70 per cent" both read "70 percent", decimal points
    are kept ("14.3"), and curly quotes and dashes count as punctuation.
    """
    text = unicodedata.normalize("NFKD", _MARKER.sub(" ", text))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = _THOUSANDS.sub("", text)
    text = _PERCENT.sub(" percent ", text)
    text = _DECIMAL.sub("\x00", text)
    text = text.translate(_PUNCT).replace("\x00", ".")
    text = _ARTICLES.sub(" ", text)
    return _WS.sub(" ", text).strip()


def tokens(text: str) -> list[str]:
    """The normalised tokens of `text`."""
    return normalize(text).split()


def contains_answer(text: str, answers: Sequence[str]) -> bool:
    """True when some accepted answer occurs in `text` as a whole-token sequence, after normalisation."""
    hay = f" {normalize(text)} "
    return any(needle and f" {needle} " in hay for needle in (normalize(a) for a in answers))


def token_f1(prediction: str, answers: Sequence[str]) -> float:
    """SQuAD-style token F1 of `prediction` against the best-matching accepted answer (0 when none)."""
    pred = tokens(prediction)
    best = 0.0
    for answer in answers:
        gold = tokens(answer)
        common = sum((Counter(pred) & Counter(gold)).values())
        if common:
            precision, recall = common / len(pred), common / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def _squash(text: str) -> str:
    return _WS.sub(" ", text).strip().lower()


def has_evidence(passage: str, evidence: Sequence[str]) -> bool:
    """True when `passage` contains one of the evidence strings (ignoring case and spacing)."""
    hay = _squash(passage)
    return any(e.strip() and _squash(e) in hay for e in evidence)


@dataclass
class QuestionScore:
    """How one answer scored."""

    id: str
    answerable: bool
    abstained: bool
    correct: bool  # answerable: an accepted answer is in the answer; unanswerable: it abstained
    f1: float
    citations: int
    supported_citations: int  # citations whose passage holds an evidence string
    latency_ms: float
    type: str = ""
    has_evidence: bool = False  # the question lists evidence strings
    doc_ids: tuple[str, ...] = ()
    evidence_rank: int | None = (
        None  # rank of the first retrieved passage holding evidence (1-based), if known
    )
    confidence: float = 0.0  # the answer's calibrated confidence that it is answered
    outcome: str = ""  # answered / related / none
    style: str = ""  # how the question is phrased (natural set)
    rewrite_f1: float | None = (
        None  # follow-ups: token F1 of the system's standalone question vs. the reference
    )

    def as_dict(self) -> dict:
        """Plain-JSON form."""
        return asdict(self)


def score_answer(question: Question, answer: Answer, evidence_rank: int | None = None) -> QuestionScore:
    """Score one answer against its question."""
    if question.answerable:
        correct = not answer.abstained and contains_answer(answer.answer, question.answers)
        f1 = 0.0 if answer.abstained else token_f1(answer.answer, question.answers)
    else:
        correct, f1 = answer.abstained, float(answer.abstained)
    citations = [] if answer.abstained else answer.citations
    supported = sum(has_evidence(c.text, question.evidence) for c in citations) if question.evidence else 0
    rewrite = None
    if question.standalone:
        rewrite = token_f1(answer.standalone_question or answer.question, [question.standalone])
    return QuestionScore(
        question.id,
        question.answerable,
        answer.abstained,
        correct,
        f1,
        len(citations),
        supported,
        answer.latency_ms,
        question.type,
        bool(question.evidence),
        tuple(question.doc_ids),
        evidence_rank,
        answer.confidence,
        answer.outcome,
        question.style,
        rewrite,
    )


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def summarize(scores: Sequence[QuestionScore]) -> dict[str, float | int | None]:
    """Set-level metrics; a metric with no questions to measure it on is None.

    answer_accuracy and f1 are over answerable questions; citation_precision is over the citations of
    answerable questions that list evidence, citation_recall the share of those questions with at least one
    citation holding evidence; abstention_accuracy is over unanswerable questions, false_abstention_rate over
    answerable ones; overall_accuracy counts an unanswerable question right when the system abstained.
    """
    answerable = [s for s in scores if s.answerable]
    unanswerable = [s for s in scores if not s.answerable and s.type != "removal"]
    removed = [s for s in scores if s.type == "removal"]
    with_evidence = [s for s in answerable if s.has_evidence]
    cited = sum(s.citations for s in with_evidence)
    latencies = [s.latency_ms for s in scores]
    rewrites = [s.rewrite_f1 for s in scores if s.rewrite_f1 is not None]
    return {
        "questions": len(scores),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "answer_accuracy": _mean([float(s.correct) for s in answerable]),
        "f1": _mean([s.f1 for s in answerable]),
        "citation_precision": (sum(s.supported_citations for s in with_evidence) / cited) if cited else None,
        "citation_recall": _mean([float(s.supported_citations > 0) for s in with_evidence]),
        "abstention_accuracy": _mean([float(s.abstained) for s in unanswerable]),
        "false_abstention_rate": _mean([float(s.abstained) for s in answerable]),
        "removal_abstention": _mean([float(s.abstained) for s in removed]),
        "overall_accuracy": _mean([float(s.correct) for s in scores]),
        "answerability_auc": answerability_auc(scores),
        "related_rate": _mean([float(s.outcome == "related") for s in scores if s.abstained]),
        "rewrite_f1": _mean(rewrites),
        "latency_p50_ms": float(np.percentile(latencies, 50)) if latencies else None,
        "latency_p95_ms": float(np.percentile(latencies, 95)) if latencies else None,
    }


def group_accuracy(scores: Sequence[QuestionScore], key: str) -> dict[str, dict[str, float | int]]:
    """Accuracy per question type (`key="type"`) or per document (`key="doc"`: a question counts for each doc)."""
    groups: dict[str, list[QuestionScore]] = {}
    for s in scores:
        if key == "doc":
            names = s.doc_ids or (("(no document)" if s.answerable else "(unanswerable)"),)
        else:
            names = (getattr(s, key) or ("answerable" if s.answerable else "unanswerable"),)
        for name in names:
            groups.setdefault(name, []).append(s)
    return {
        name: {"questions": len(items), "accuracy": float(np.mean([x.correct for x in items]))}
        for name, items in sorted(groups.items())
    }


def evidence_recall_at_k(ranks: Sequence[int | None], ks: Sequence[int]) -> dict[int, float]:
    """Share of questions whose first evidence passage is within the top k, for each k."""
    if not ranks:
        return {}
    return {k: float(np.mean([r is not None and r <= k for r in ranks])) for k in ks}


def answerability_auc(scores: Sequence[QuestionScore]) -> float | None:
    """ROC AUC of the answers' confidence separating answerable from unanswerable questions (None if one lacks)."""
    from rag.evaluation.answerability import roc_auc

    return roc_auc([s.confidence for s in scores], [s.answerable for s in scores])
