"""Extractive answers: quote the retrieved sentences that best answer the question, each with its `[n]`."""

from __future__ import annotations

import re

import numpy as np

from rag.answer import ABSTAIN_TEXT, RELATED_TEXT
from rag.answer.answerability import Candidate, Decision, Outcome
from rag.answer.evidence import AnswerType, ScoredSentence, answer_type, holds_type, score_sentences  # noqa: F401 - re-exported for callers
from rag.answer.tidy import tidy
from rag.retrieval import Retrieval
from rag.stores.protocol import Store
from rag.types import Answer, Citation, Passage

RELATED_PASSAGES = 3  # passages offered when the documents touch the subject but do not state the answer


class ExtractiveAnswerer:
    """Composes a short answer from the sentences the answerability model scored best, each cited as `[n]`."""

    def __init__(
        self,
        max_sentences: int = 2,
        explain_sentences: int = 3,
        close: float = 0.85,
        explain_close: float = 0.5,
        redundant: float = 0.85,
    ) -> None:
        if max_sentences < 1 or explain_sentences < 1:
            raise ValueError("max_sentences must be at least 1")
        self.max_sentences = max_sentences
        self.explain_sentences = explain_sentences
        self.close = close  # a further sentence must reach this share of the best one's probability
        self.explain_close = explain_close  # ... for why/how/summary questions, which want several
        self.redundant = redundant  # cosine above which a further sentence repeats one already chosen

    def choose(self, question: str, decision: Decision, data: Store) -> list[Candidate]:
        """The candidates to quote: the best one, then close ones from elsewhere that add something new."""
        if not decision.candidates:
            return []
        explain = asks_explanation(question)
        limit = self.explain_sentences if explain else self.max_sentences
        floor = (self.explain_close if explain else self.close) * decision.candidates[0].probability
        chosen: list[Candidate] = [decision.candidates[0]]
        for candidate in decision.candidates[1:]:
            if len(chosen) >= limit or candidate.probability < floor:
                break
            s = candidate.sentence
            if any(
                c.sentence.passage.chunk.doc_id == s.passage.chunk.doc_id
                and c.sentence.start < s.end
                and s.start < c.sentence.end
                for c in chosen
            ):
                continue
            if any(_similarity(c.sentence, s, data) > self.redundant for c in chosen):
                continue
            chosen.append(candidate)
        return chosen

    def run(self, question: str, decision: Decision, retrieval: Retrieval, data: Store) -> Answer:
        """The answer for `decision`: quoted sentences when answered; otherwise no claim, with the related
        passages when there are some."""
        if decision.outcome is not Outcome.answered:
            return not_answered(question, decision, retrieval, data, "extractive")
        parts: list[str] = []
        citations: list[Citation] = []
        for n, candidate in enumerate(self.choose(question, decision, data), start=1):
            s = candidate.sentence
            parts.append(f"{tidy(s.text)} [{n}]")
            citations.append(citation_for(n, s.passage, s.start, s.end, candidate.probability, data))
        return Answer(
            question=question,
            answer=" ".join(parts),
            abstained=False,
            citations=citations,
            mode="extractive",
            outcome="answered",
            confidence=decision.confidence,
        )


_EXPLAIN = re.compile(
    r"^\W*(?:(?:ok|so|and|hey|hi)\W+)*(?:why|how (?!many|much|large|big|long|far|fast|high|old|often)|"
    r"explain|summari[sz]e|describe|what (?:happened|went wrong|are the (?:main )?(?:reasons|problems|"
    r"challenges))|tell me (?:about|more)|give me (?:an overview|a summary))\b|"
    r"\b(?:in short|overview|summary|reasons?|challenges|problems|compared?|comparison|versus|vs\.?|"
    r"differ(?:ence|ent)?|both|same (?:as|person|guy|one))\b",
    re.IGNORECASE,
)


def asks_explanation(question: str) -> bool:
    """True for why/how/summary and comparison questions, which get a few sentences from several passages."""
    return bool(_EXPLAIN.search(question))


def _similarity(a: ScoredSentence, b: ScoredSentence, data: Store) -> float:
    vectors = data.sentence_vectors(
        [(a.passage.chunk.doc_id, a.start, a.end), (b.passage.chunk.doc_id, b.start, b.end)]
    )
    return 0.0 if vectors is None else float(vectors[0] @ vectors[1])


def not_answered(question: str, decision: Decision, retrieval: Retrieval, data: Store, mode: str) -> Answer:
    """No claim: "related" lists the closest passages (each with its best sentence), "none" says nothing found."""
    if decision.outcome is not Outcome.related:
        return Answer(
            question=question,
            answer=ABSTAIN_TEXT,
            abstained=True,
            mode=mode,
            outcome="none",
            confidence=decision.confidence,
        )
    best: dict[int, Candidate] = {}
    for candidate in decision.candidates:
        best.setdefault(candidate.sentence.passage.row, candidate)
    related: list[Citation] = []
    for passage in retrieval.passages:
        if len(related) == RELATED_PASSAGES:
            break
        candidate = best.get(passage.row)
        if candidate is None:
            continue
        s = candidate.sentence
        related.append(citation_for(len(related) + 1, passage, s.start, s.end, candidate.probability, data))
    return Answer(
        question=question,
        answer=RELATED_TEXT,
        abstained=True,
        mode=mode,
        outcome="related",
        confidence=decision.confidence,
        related=related,
    )


def citation_for(n: int, passage: Passage, start: int, end: int, score: float, data: Store) -> Citation:
    """The citation `[n]` quoting `document.text[start:end]` from `passage` (which must contain the span), with
    the page it is on for a document with pages (PDF)."""
    chunk = passage.chunk
    if not (chunk.start <= start < end <= chunk.end):
        raise ValueError("a citation must quote a span inside its passage")
    document = data.documents[chunk.doc_id]
    return Citation(
        n=n,
        doc_id=chunk.doc_id,
        title=chunk.title,
        text=chunk.text,
        start=start,
        end=end,
        score=round(float(np.clip(score, 0.0, 1.0)), 4),
        quote=document.text[start:end],
        passage_start=chunk.start,
        page=document.page_at(start),
    )
