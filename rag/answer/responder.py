"""The answer layer: decide answerability from the evidence, then answer extractively or generatively."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from rag.answer.answerability import Answerability, Decision, Outcome
from rag.answer.evidence import score_sentences
from rag.answer.extractive import ExtractiveAnswerer, not_answered
from rag.answer.generative import GenerativeAnswerer
from rag.embedding import Embedder
from rag.llm import LLMUnavailable
from rag.retrieval import Retrieval
from rag.settings import AnswerMode
from rag.stages import timed, timed_iter
from rag.stores.protocol import Store
from rag.types import Answer

log = logging.getLogger(__name__)
_PIECE = re.compile(r"\S+\s*")


class Responder:
    """Turns a retrieval into an Answer: one answerability decision, then the composer of the mode.

    No language model is called unless the decision is `answered`; a generative answer that cannot be produced
    falls back to the extractive one with a notice.
    """

    def __init__(
        self,
        answerability: Answerability,
        extractive: ExtractiveAnswerer,
        generative: GenerativeAnswerer,
        embedder: Embedder,
    ) -> None:
        self.answerability = answerability
        self.extractive = extractive
        self.generative = generative
        self.embedder = embedder

    def decide(self, query: str, retrieval: Retrieval, data: Store) -> Decision:
        """Score the retrieved sentences and decide: answered, related passages only, or nothing."""
        scored = score_sentences(query, retrieval, data, self.embedder)
        return self.answerability.run(query, retrieval, scored, data)

    def stream(
        self,
        mode: AnswerMode,
        query: str,
        retrieval: Retrieval,
        data: Store,
        *,
        extra_system: str | None = None,
        max_tokens: int | None = None,
    ) -> Iterator[str | Answer]:
        """The answer text in pieces as it is produced, then the final Answer (pieces concatenate to its text)."""
        with timed("answer"):
            decision = self.decide(query, retrieval, data)
        if mode is AnswerMode.extractive or decision.outcome is not Outcome.answered:
            with timed("answer"):
                answer = (
                    self.extractive.run(query, decision, retrieval, data)
                    if mode is AnswerMode.extractive
                    else not_answered(query, decision, retrieval, data, mode.value)
                )
            answer.answer = _truncate(answer.answer, max_tokens)
            yield from (m.group() for m in _PIECE.finditer(answer.answer))
            yield answer
            return
        stream = timed_iter(
            "generate",
            self.generative.stream(
                query, retrieval, data, self.embedder, extra_system=extra_system, max_tokens=max_tokens
            ),
        )
        try:
            first = next(stream)
        except LLMUnavailable as exc:
            log.warning("generative answer unavailable, answering extractively: %s", exc)
            answer = self.extractive.run(query, decision, retrieval, data)
            answer.notice = f"Generative answer unavailable ({exc}); this is the extractive answer."
            yield from (m.group() for m in _PIECE.finditer(answer.answer))
            yield answer
            return
        for item in _chain(first, stream):
            if isinstance(item, Answer):
                item.confidence = decision.confidence
            yield item


def _chain(first: str | Answer, rest: Iterator[str | Answer]) -> Iterator[str | Answer]:
    yield first
    yield from rest


def _truncate(text: str, max_tokens: int | None) -> str:
    """`text` cut to about `max_tokens` words (a caller's limit on the answer's length), markers kept whole."""
    if max_tokens is None:
        return text
    words = text.split(" ")
    return text if len(words) <= max_tokens else " ".join(words[:max_tokens]).rstrip() + " …"
