"""Question-set evaluation: ask every question through the Pipeline, score the answers and summarise the set."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from rag.errors import RagError
from rag.evaluation.metrics import (
    QuestionScore,
    evidence_recall_at_k,
    group_accuracy,
    has_evidence,
    score_answer,
    summarize,
)
from rag.evaluation.questions import Question, run_questions, write_answers
from rag.types import Answer

RECALL_DEPTH = 20  # passages retrieved to find the rank of the first one holding evidence


@dataclass
class QuestionSetResult:
    """Answers, per-question scores and the set's metrics."""

    answers: list[Answer]
    scores: list[QuestionScore]
    metrics: dict
    by_type: dict
    by_document: dict
    by_style: dict
    recall_at_k: dict[int, float]


def evidence_rank(pipeline, item: Question, depth: int = RECALL_DEPTH) -> int | None:
    """1-based rank of the first retrieved passage holding one of the question's evidence strings, or None."""
    try:
        passages = pipeline.search(item.question, top_k=depth, history=item.history or None)
    except RagError:
        return None
    for rank, passage in enumerate(passages, start=1):
        if has_evidence(passage.chunk.text, item.evidence):
            return rank
    return None


def removal_answers(
    pipeline, items: list[Question], *, top_k: int | None = None, mode=None, progress: bool = False
) -> tuple[list[Question], list[Answer]]:
    """Each answerable question asked again over the index without the sentences holding its answer."""
    from rag.evaluation.answerability import removal_pairs

    variants, answers = [], []
    for item in tqdm([q for q in items if q.answerable], desc="removal", unit="q", disable=not progress):
        for variant, derived in removal_pairs(pipeline, [item]):
            variants.append(variant)
            answers += run_questions(derived, [variant], top_k=top_k, mode=mode)
    return variants, answers


def evaluate_questions(
    pipeline,
    items: list[Question],
    *,
    top_k: int | None = None,
    mode=None,
    out: Path | None = None,
    progress: bool = False,
    removal: bool = False,
) -> QuestionSetResult:
    """Run and score a question set (with `removal`, also its removal-based unanswerable twins, typed
    "removal"); per-question answers go to `out` when given."""
    answers = run_questions(pipeline, items, top_k=top_k, mode=mode, progress=progress)
    if removal:
        variants, extra = removal_answers(pipeline, items, top_k=top_k, mode=mode, progress=progress)
        items, answers = items + variants, answers + extra
    if out is not None:
        write_answers(answers, out)
    ranks: dict[str, int | None] = {}
    for item in tqdm(
        [q for q in items if q.answerable and q.evidence and q.type != "removal"],
        desc="evidence ranks",
        unit="q",
        disable=not progress,
    ):
        ranks[item.id] = evidence_rank(pipeline, item)
    scores = [score_answer(item, answer, ranks.get(item.id)) for item, answer in zip(items, answers)]
    metrics = summarize(scores)
    curve = evidence_recall_at_k(list(ranks.values()), range(1, RECALL_DEPTH + 1))
    for k in (1, 5, 10):
        if k in curve:
            metrics[f"evidence_recall@{k}"] = curve[k]
    return QuestionSetResult(
        answers,
        scores,
        metrics,
        group_accuracy(scores, "type"),
        group_accuracy(scores, "doc"),
        group_accuracy(scores, "style"),
        curve,
    )
