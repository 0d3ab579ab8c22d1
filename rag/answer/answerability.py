"""Answerability: score each candidate sentence as an answer, and decide answered / related only / nothing."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import numpy as np

from rag.answer.evidence import AnswerType, ScoredSentence, answer_type, holds_type
from rag.answer.reader import Reader
from rag.conversation import unresolved_reference
from rag.retrieval import Retrieval
from rag.settings import Settings
from rag.stores.protocol import SentenceKey, Store
from rag.text import tokens

# The bundled models: the default (no reader), and the same recipe with the answer reader (RAG_ANSWER_READER).
MODEL_PATH = Path(__file__).with_name("answerability.json")
READER_MODEL_PATH = Path(__file__).with_name("answerability_reader.json")
CANDIDATES = 8  # best-ranked candidate sentences scored by the model

FEATURES = (
    "semantic",  # cosine of question and sentence
    "lexical",  # IDF-weighted share of the question's terms in the sentence
    "window_lexical",  # ... in the sentence with its neighbours and the document title
    "window_semantic",  # cosine of question and the mean vector of the sentence and its neighbours
    "unmatched_idf",  # the most specific question term missing from the window (normalised IDF, 0 when none)
    "absent_share",  # IDF-weighted share of question terms the index never uses
    "passage_dense",  # cosine of question and the sentence's passage
    "passage_first",  # 1 when the sentence comes from the best passage
    "retrievers_agree",  # 1 when dense and BM25 rank the same passage first among those retrieved
    "asks_type",  # the question asks for a number, date or person
    "type_missing",  # ... and the sentence holds none
    "semantic_gap",  # how far this sentence's cosine lies below the best candidate's
    "question_terms",  # log(1 + number of content terms in the question)
)


class Outcome(str, Enum):
    """What the answer layer decided."""

    answered = "answered"  # a claim with citations
    related = "related"  # not stated, but related passages exist: shown, no claim made
    none = "none"  # nothing relevant


@dataclass(frozen=True)
class Candidate:
    """A candidate sentence with its features and the model's probability that it answers the question."""

    sentence: ScoredSentence
    features: dict[str, float]
    probability: float = 0.0


@dataclass(frozen=True)
class Decision:
    """Outcome, calibrated confidence (0..1) and the candidates, best first."""

    outcome: Outcome
    confidence: float
    candidates: list[Candidate] = field(default_factory=list)
    relatedness: float = 0.0


@dataclass(frozen=True)
class AnswerabilityModel:
    """Logistic regression over standardised candidate features (which sentence answers), then a question-level
    logistic regression over the best candidate's logit and, optionally, the answer reader's best logit over the
    `reader_candidates` best-ranked candidates (is the question answered at all)."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    platt: tuple[float, float] = (1.0, 0.0)  # confidence = sigmoid(a * best_logit + reader_weight * read + b)
    reader_weight: float = 0.0
    reader_candidates: int = 0  # best-ranked candidates the answer reader reads; 0 = the reader is not used
    meta: dict = field(default_factory=dict)

    def logits(self, rows: np.ndarray) -> np.ndarray:
        """Candidate logits for rows of features (in `self.features` order)."""
        z = (rows - np.asarray(self.mean)) / np.asarray(self.scale)
        return z @ np.asarray(self.weights) + self.bias

    def confidence(self, best_logit: float, read: float = 0.0) -> float:
        """Calibrated probability that the question is answered, from its best candidate's logit and (when the
        model uses the reader) the reader's best logit `read`."""
        a, b = self.platt
        z = a * best_logit + self.reader_weight * read + b
        return float(1.0 / (1.0 + math.exp(-max(-500.0, min(500.0, z)))))

    def save(self, path: Path) -> None:
        """Write the model as JSON."""
        body = {k: getattr(self, k) for k in (*_MODEL_FIELDS, "meta")}
        path.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> AnswerabilityModel:
        """Read a model written by `save`."""
        body = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            features=tuple(body["features"]),
            mean=tuple(body["mean"]),
            scale=tuple(body["scale"]),
            weights=tuple(body["weights"]),
            bias=float(body["bias"]),
            platt=tuple(body["platt"]),
            reader_weight=float(body.get("reader_weight", 0.0)),
            reader_candidates=int(body.get("reader_candidates", 0)),
            meta=body.get("meta", {}),
        )


_MODEL_FIELDS = (
    "features",
    "mean",
    "scale",
    "weights",
    "bias",
    "platt",
    "reader_weight",
    "reader_candidates",
)


def reader_picks(logits: np.ndarray, k: int) -> np.ndarray:
    """Indices of the `k` candidates with the highest model logits, best first: the ones the reader reads."""
    return np.argsort(-np.asarray(logits), kind="stable")[: max(0, k)]


def sentence_window(sentence: ScoredSentence, data: Store) -> tuple[str, list[SentenceKey]]:
    """The sentence with its neighbours inside its passage: text and sentence keys."""
    chunk = sentence.passage.chunk
    spans = chunk.sentences
    inside = [i for i, (s, e) in enumerate(spans) if s < sentence.end and sentence.start < e] or [0]
    lo, hi = max(0, inside[0] - 1), min(len(spans) - 1, inside[-1] + 1)
    text = data.documents[chunk.doc_id].text[spans[lo][0] : spans[hi][1]] if spans else chunk.text
    return text, [(chunk.doc_id, *spans[i]) for i in range(lo, hi + 1)]


def reader_input(reader: Reader, sentence: ScoredSentence, data: Store) -> str:
    """What the reader reads for a candidate: the sentence, or its window (`Reader.input`)."""
    return sentence.text if reader.input == "sentence" else sentence_window(sentence, data)[0]


def candidate_features(
    question: str,
    retrieval: Retrieval,
    scored: list[ScoredSentence],
    data: Store,
    limit: int = CANDIDATES,
) -> list[Candidate]:
    """Features of the `limit` best-ranked candidate sentences (see FEATURES)."""
    top = scored[:limit]
    if not top:
        return []
    q_terms = sorted(tokens(question))
    n = max(1, data.chunk_count)
    max_idf = math.log(1 + (n + 0.5) / 0.5)
    idf = {t: data.idf(t) for t in q_terms}
    total = sum(idf.values()) or 1.0
    absent = sum(w for t, w in idf.items() if w >= max_idf - 1e-9) / total if q_terms else 0.0
    kind = answer_type(question)
    best_passage = retrieval.passages[0].row if retrieval.passages else -1
    dense_first = (
        max(retrieval.passages, key=lambda p: p.dense_score or -1.0).row if retrieval.passages else -1
    )
    bm25_first = max(retrieval.passages, key=lambda p: p.bm25_score or 0.0).row if retrieval.passages else -1
    best_semantic = max(s.semantic for s in top)
    out = []
    for sentence in top:
        text, rows = sentence_window(sentence, data)
        window_terms = tokens(f"{sentence.passage.chunk.title} {text}")
        covered = sum(w for t, w in idf.items() if t in window_terms) / total if q_terms else 0.0
        missing = [w for t, w in idf.items() if t not in window_terms]
        vectors = data.sentence_vectors(rows) if rows else None
        if vectors is not None:
            mean = vectors.mean(axis=0)
            window_semantic = float(mean @ retrieval.query_vector / (np.linalg.norm(mean) or 1.0))
        else:
            window_semantic = sentence.semantic
        features = {
            "semantic": sentence.semantic,
            "lexical": sentence.lexical,
            "window_lexical": covered,
            "window_semantic": window_semantic,
            "unmatched_idf": max(missing, default=0.0) / max_idf,
            "absent_share": absent,
            "passage_dense": float(sentence.passage.dense_score or 0.0),
            "passage_first": float(sentence.passage.row == best_passage),
            "retrievers_agree": float(dense_first == bm25_first),
            "asks_type": float(kind is not AnswerType.other),
            "type_missing": float(kind is not AnswerType.other and not holds_type(sentence.text, kind)),
            "semantic_gap": best_semantic - sentence.semantic,
            "question_terms": math.log1p(len(q_terms)),
        }
        out.append(Candidate(sentence, features))
    return out


class Answerability:
    """Scores candidate sentences with the trained model and decides the outcome of a question."""

    def __init__(
        self,
        model: AnswerabilityModel,
        answer_threshold: float,
        related_threshold: float,
        reader: Reader | None = None,
    ) -> None:
        """`reader` is required when the model uses it (`model.reader_candidates` > 0), else ignored."""
        if not 0.0 <= answer_threshold <= 1.0 or not 0.0 <= related_threshold <= 1.0:
            raise ValueError("thresholds must lie in 0..1")
        if model.reader_candidates > 0 and reader is None:
            raise ValueError("this answerability model needs the answer reader")
        self.model = model
        self.reader = reader if model.reader_candidates > 0 else None
        self.answer_threshold = answer_threshold
        self.related_threshold = related_threshold

    def score(
        self, question: str, retrieval: Retrieval, scored: list[ScoredSentence], data: Store
    ) -> tuple[list[Candidate], float]:
        """Candidates with probabilities (best first) and the calibrated question-level confidence."""
        candidates = candidate_features(question, retrieval, scored, data)
        if not candidates:
            return [], 0.0
        rows = np.array([[c.features[f] for f in self.model.features] for c in candidates], dtype=np.float64)
        logits = self.model.logits(rows)
        read = 0.0
        if self.reader is not None:
            picks = reader_picks(logits, self.model.reader_candidates)
            texts = [reader_input(self.reader, candidates[i].sentence, data) for i in picks]
            read = float(np.max(self.reader.scores(question, texts)))
        ranked = sorted(
            (
                Candidate(c.sentence, c.features, float(1 / (1 + math.exp(-z))))
                for c, z in zip(candidates, logits)
            ),
            key=lambda c: -c.probability,
        )
        return ranked, self.model.confidence(float(np.max(logits)), read)

    def run(self, question: str, retrieval: Retrieval, scored: list[ScoredSentence], data: Store) -> Decision:
        """Answered when the confidence reaches the answer threshold and the question names its subject (not
        only a pronoun left unresolved); else related when the best passage is close enough to the question
        (dense cosine), else nothing."""
        candidates, confidence = self.score(question, retrieval, scored, data)
        relatedness = max((p.dense_score or 0.0 for p in retrieval.passages), default=0.0)
        if candidates and confidence >= self.answer_threshold and not unresolved_reference(question):
            outcome = Outcome.answered
        elif retrieval.passages and relatedness >= self.related_threshold:
            outcome = Outcome.related
        else:
            outcome = Outcome.none
        return Decision(outcome, round(confidence, 4), candidates, relatedness)


def build_answerability(settings: Settings) -> Answerability:
    """The configured decision step: the model (`RAG_ANSWERABILITY_MODEL`, else the bundled one, with the answer
    reader when `RAG_ANSWER_READER` is true), its threshold (`RAG_ANSWER_THRESHOLD` when set, else the one chosen when
    the model was trained) and the answer reader when the model reads."""
    model = AnswerabilityModel.load(
        settings.answerability_model or (READER_MODEL_PATH if settings.answer_reader else MODEL_PATH)
    )
    threshold = settings.answer_threshold
    if "answer_threshold" not in settings.model_fields_set:
        threshold = float(model.meta.get("threshold", threshold))
    reader = Reader() if model.reader_candidates else None
    return Answerability(model, threshold, settings.related_threshold, reader)
