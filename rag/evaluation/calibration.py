"""Abstention calibration: choose the evidence-score threshold that best separates answerable questions."""

from __future__ import annotations

from dataclasses import dataclass

from rag.answer.extractive import score_sentences
from rag.conversation import contextualize
from rag.evaluation.questions import Question


@dataclass
class Calibration:
    """Best threshold and how it splits the question set."""

    threshold: float
    balanced_accuracy: float
    answerable_kept: int
    answerable: int
    unanswerable_abstained: int
    unanswerable: int
    scores: list[tuple[str, bool, float]]

    def summary(self) -> str:
        """Human-readable result, with the setting to apply."""
        return (f"best abstain_threshold = {self.threshold:.3f} (balanced accuracy {self.balanced_accuracy:.3f}): "
                f"answers {self.answerable_kept}/{self.answerable} answerable questions, abstains on "
                f"{self.unanswerable_abstained}/{self.unanswerable} unanswerable ones. "
                f"Apply with RAG_ABSTAIN_THRESHOLD={self.threshold:.3f}")


def evidence_scores(pipeline, items: list[Question], top_k: int | None = None) -> list[tuple[str, bool, float]]:  # noqa: ANN001
    """(id, answerable, best sentence support score) for each question."""
    data = pipeline.data
    k = top_k or pipeline.settings.top_k
    out = []
    for item in items:
        query = contextualize(item.question, None)
        retrieval = pipeline.retriever.run(data, query, k)
        scored = score_sentences(query, retrieval, data, pipeline.embedder)
        out.append((item.id, item.answerable, scored[0].score if scored else 0.0))
    return out


def calibrate_threshold(pipeline, items: list[Question], top_k: int | None = None) -> Calibration:  # noqa: ANN001
    """The threshold maximising balanced accuracy (answer the answerable, abstain on the rest).

    Ties go to the midpoint of the widest gap, so the threshold sits between the two score populations.
    """
    scores = evidence_scores(pipeline, items, top_k)
    pos = sorted(s for _, a, s in scores if a)
    neg = sorted(s for _, a, s in scores if not a)
    if not pos or not neg:
        raise ValueError("calibration needs both answerable and unanswerable questions")
    values = sorted({s for *_, s in scores})
    cuts = [values[0] - 1e-6] + [(a + b) / 2 for a, b in zip(values, values[1:])] + [values[-1] + 1e-6]
    best: tuple[float, float, float] | None = None
    for cut in cuts:
        kept = sum(s >= cut for s in pos)
        abstained = sum(s < cut for s in neg)
        bal = 0.5 * (kept / len(pos) + abstained / len(neg))
        below = max([s for *_, s in scores if s < cut], default=cut)
        above = min([s for *_, s in scores if s >= cut], default=cut)
        key = (bal, above - below, -cut)
        if best is None or key > best[:3]:
            best = (bal, above - below, -cut)
            chosen = cut
    kept = sum(s >= chosen for s in pos)
    abstained = sum(s < chosen for s in neg)
    return Calibration(round(chosen, 4), 0.5 * (kept / len(pos) + abstained / len(neg)), kept, len(pos), abstained,
                       len(neg), scores)
