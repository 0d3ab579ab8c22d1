"""Candidate evidence: every sentence of the retrieved passages, scored against the question."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from rag.embedding import Embedder
from rag.retrieval import Retrieval
from rag.stores.protocol import SentenceKey, Store
from rag.text import tokens
from rag.types import Passage

SEMANTIC_WEIGHT = 0.7  # the rest is IDF-weighted lexical overlap with the question's content words
TYPE_BONUS = 0.05  # ranking boost for a sentence holding the kind of answer asked for (not used to abstain)
FRAGMENT_WORDS = (
    8  # a neighbouring "sentence" shorter than this is a fragment and is quoted with its neighbour
)

_WORD = re.compile(r"\w+")
_ASKS_NUMBER = re.compile(
    r"^\W*(?:by )?how (?:many|much|large|big|long|far|fast|high|old|often)\b|"
    r"\bwhat (?:share|percentage|proportion|percent|number|amount|size|area)\b",
    re.IGNORECASE,
)
_ASKS_DATE = re.compile(r"\b(?:when|what year|which year|what month|which month|what date)\b", re.IGNORECASE)
_ASKS_PERSON = re.compile(r"^\W*(?:who|whom|whose)\b", re.IGNORECASE)
_HAS_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|hundred|thousand|million|billion|percent|half|dozen)\b",
    re.IGNORECASE,
)
_HAS_DATE = re.compile(
    r"\b(?:1[89]\d\d|20\d\d|january|february|march|april|may|june|july|august|september|"
    r"october|november|december)\b",
    re.IGNORECASE,
)
_HAS_NAME = re.compile(
    r"\b(?!(?:The|A|An|In|On|At|As|But|And|For|Of|To|By|With|From|This|That|It|Its|If|When|"
    r"According|Although|However)\b)[A-Z][a-z]+(?: [A-Z][a-z]+){1,2}\b"
)


class AnswerType(str, Enum):
    """The kind of answer a question asks for, guessed from its wording."""

    number = "number"
    date = "date"
    person = "person"
    other = "other"


def answer_type(question: str) -> AnswerType:
    """Guess what kind of answer `question` wants (number, date, person, or other)."""
    if _ASKS_NUMBER.search(question):
        return AnswerType.number
    if _ASKS_DATE.search(question):
        return AnswerType.date
    if _ASKS_PERSON.search(question):
        return AnswerType.person
    return AnswerType.other


def holds_type(text: str, kind: AnswerType) -> bool:
    """True when `text` contains something of the asked kind (a number, a date, a personal name)."""
    pattern = {AnswerType.number: _HAS_NUMBER, AnswerType.date: _HAS_DATE, AnswerType.person: _HAS_NAME}.get(
        kind
    )
    return bool(pattern and pattern.search(text))


@dataclass(frozen=True)
class ScoredSentence:
    """A candidate quote (a sentence, plus any adjacent fragment) of a retrieved passage, with its scores."""

    passage: Passage
    start: int
    end: int
    text: str
    semantic: float
    lexical: float
    typed: bool = False

    @property
    def score(self) -> float:
        """Support score in 0..1 (cosine clipped at 0, blended with lexical overlap); compared to the threshold."""
        return SEMANTIC_WEIGHT * max(0.0, self.semantic) + (1 - SEMANTIC_WEIGHT) * self.lexical

    @property
    def rank(self) -> float:
        """Ranking key: support plus a small bonus when the quote holds the kind of answer asked for."""
        return self.score + (TYPE_BONUS if self.typed else 0.0)


def lexical_overlap(question_tokens: set[str], text: str, data: Store) -> float:
    """IDF-weighted share of the question's content words (stemmed) that occur in `text`."""
    if not question_tokens:
        return 0.0
    present = question_tokens & tokens(text)
    total = sum(data.idf(t) for t in question_tokens)
    return sum(data.idf(t) for t in present) / total if total > 0 else 0.0


def _quote_span(doc_text: str, sentences: tuple[tuple[int, int], ...], i: int) -> tuple[int, int]:
    """Sentence `i` widened to take in a fragment right before or after it (e.g. "Including A, B and C.")."""
    start, end = sentences[i]
    if i + 1 < len(sentences) and len(_WORD.findall(doc_text[slice(*sentences[i + 1])])) < FRAGMENT_WORDS:
        end = sentences[i + 1][1]
    if i > 0 and len(_WORD.findall(doc_text[slice(*sentences[i - 1])])) < FRAGMENT_WORDS:
        start = sentences[i - 1][0]
    return start, end


def score_sentences(
    question: str, retrieval: Retrieval, data: Store, embedder: Embedder
) -> list[ScoredSentence]:
    """Every distinct sentence of the retrieved passages, scored against the question, best first."""
    q_tokens = set(tokens(question))
    kind = answer_type(question)
    seen: set[tuple[str, int, int]] = set()
    candidates: list[tuple[Passage, int, int, int, SentenceKey]] = []
    for passage in retrieval.passages:
        sentences = passage.chunk.sentences
        doc_text = data.documents[passage.chunk.doc_id].text
        for i, (s, e) in enumerate(sentences):
            key = (passage.chunk.doc_id, s, e)
            if key not in seen:
                seen.add(key)
                qs, qe = _quote_span(doc_text, sentences, i)
                candidates.append((passage, qs, qe, i, key))
    if not candidates:
        return []
    vectors = data.sentence_vectors([c[-1] for c in candidates])
    if vectors is None:
        vectors = embedder.embed(
            [
                data.documents[p.chunk.doc_id].text[slice(*p.chunk.sentences[i])]
                for p, _, _, i, _ in candidates
            ]
        )
    semantic = vectors @ retrieval.query_vector
    scored = []
    for (passage, start, end, _, _), sem in zip(candidates, semantic):
        text = data.documents[passage.chunk.doc_id].text[start:end]
        scored.append(
            ScoredSentence(
                passage,
                start,
                end,
                text,
                float(sem),
                lexical_overlap(q_tokens, text, data),
                holds_type(text, kind),
            )
        )
    scored.sort(key=lambda x: (-x.rank, x.passage.row, x.start))
    return scored
