"""Extractive answers: quote the retrieved sentences that best answer the question, each with its `[n]`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.answer import ABSTAIN_TEXT
from rag.embedding import Embedder
from rag.retrieval import Retrieval
from rag.store import IndexData, tokenize
from rag.types import Answer, Citation, Passage

SEMANTIC_WEIGHT = 0.7  # the rest is lexical overlap with the question's content words


@dataclass(frozen=True)
class ScoredSentence:
    """A candidate sentence of a retrieved passage with its support score for the question."""

    passage: Passage
    start: int
    end: int
    text: str
    semantic: float
    lexical: float

    @property
    def score(self) -> float:
        """Support score in 0..1 (cosine clipped at 0, blended with lexical overlap)."""
        return SEMANTIC_WEIGHT * max(0.0, self.semantic) + (1 - SEMANTIC_WEIGHT) * self.lexical


def lexical_overlap(question_tokens: set[str], sentence: str) -> float:
    """Share of the question's content words (stemmed) that occur in `sentence`."""
    if not question_tokens:
        return 0.0
    return len(question_tokens & set(tokenize([sentence])[0])) / len(question_tokens)


def score_sentences(question: str, retrieval: Retrieval, data: IndexData, embedder: Embedder) -> list[ScoredSentence]:
    """Every distinct sentence of the retrieved passages, scored against the question, best first."""
    q_tokens = set(tokenize([question])[0])
    seen: set[tuple[str, int, int]] = set()
    candidates: list[tuple[Passage, int, int, int | None]] = []
    for passage in retrieval.passages:
        for start, end in passage.chunk.sentences:
            key = (passage.chunk.doc_id, start, end)
            if key not in seen:
                seen.add(key)
                candidates.append((passage, start, end, data.sentence_row(*key)))
    if not candidates:
        return []
    texts = [data.documents[p.chunk.doc_id].text[s:e] for p, s, e, _ in candidates]
    if data.sentence_vectors is not None and all(row is not None for *_, row in candidates):
        vectors = data.sentence_vectors[[row for *_, row in candidates]]
    else:
        vectors = embedder.embed(texts)
    semantic = vectors @ retrieval.query_vector
    scored = [ScoredSentence(p, s, e, text, float(sem), lexical_overlap(q_tokens, text))
              for (p, s, e, _), text, sem in zip(candidates, texts, semantic)]
    scored.sort(key=lambda x: (-x.score, x.passage.row, x.start))
    return scored


class ExtractiveAnswerer:
    """Composes a short answer from the best-supported sentences, or abstains when support is weak."""

    def __init__(self, threshold: float, max_sentences: int = 2, relative_cutoff: float = 0.85) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError("threshold must lie in 0..1")
        if max_sentences < 1:
            raise ValueError("max_sentences must be at least 1")
        self.threshold = threshold
        self.max_sentences = max_sentences
        self.relative_cutoff = relative_cutoff

    def run(self, question: str, retrieval: Retrieval, data: IndexData, embedder: Embedder) -> Answer:
        """Answer `question` from `retrieval`; `abstained` is true (and nothing is cited) when support is weak."""
        scored = score_sentences(question, retrieval, data, embedder)
        if not scored or scored[0].score < self.threshold:
            return Answer(question=question, answer=ABSTAIN_TEXT, abstained=True, citations=[], mode="extractive")
        floor = max(self.threshold, self.relative_cutoff * scored[0].score)
        chosen = [s for s in scored if s.score >= floor][: self.max_sentences]
        parts: list[str] = []
        citations: list[Citation] = []
        for n, sentence in enumerate(chosen, start=1):
            parts.append(f"{sentence.text} [{n}]")
            citations.append(citation_for(n, sentence.passage, sentence.start, sentence.end, sentence.score,
                                          data))
        return Answer(question=question, answer=" ".join(parts), abstained=False, citations=citations,
                      mode="extractive")


def citation_for(n: int, passage: Passage, start: int, end: int, score: float, data: IndexData) -> Citation:
    """The citation `[n]` quoting `document.text[start:end]` from `passage` (which must contain the span)."""
    chunk = passage.chunk
    if not (chunk.start <= start < end <= chunk.end):
        raise ValueError("a citation must quote a span inside its passage")
    return Citation(n=n, doc_id=chunk.doc_id, title=chunk.title, text=chunk.text, start=start, end=end,
                    score=round(float(np.clip(score, 0.0, 1.0)), 4), quote=data.documents[chunk.doc_id].text[start:end],
                    passage_start=chunk.start)
