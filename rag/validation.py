"""Checks on a request's question, top-k and answer mode, shared by every Pipeline verb that takes them."""

from __future__ import annotations

from rag.errors import InvalidInput
from rag.settings import AnswerMode


def check_question(question: str, limit: int) -> str:
    """The question stripped; raises InvalidInput when empty or longer than `limit` characters."""
    if not isinstance(question, str) or not question.strip():
        raise InvalidInput("the question is empty")
    if len(question) > limit:
        raise InvalidInput(f"the question is {len(question)} characters long; the limit is {limit}")
    return question.strip()


def check_top_k(top_k: int | None, default: int) -> int:
    """`top_k`, or `default` when None; raises InvalidInput outside 1..100."""
    k = default if top_k is None else top_k
    if not 1 <= k <= 100:
        raise InvalidInput("top_k must be between 1 and 100")
    return k


def check_mode(mode: AnswerMode | str | None, default: AnswerMode | str) -> AnswerMode:
    """The answer mode named by `mode` (or `default`); raises InvalidInput for an unknown one."""
    try:
        return AnswerMode(mode or default)
    except ValueError:
        raise InvalidInput(
            f"unknown answer mode {mode!r}; use one of: {', '.join(m.value for m in AnswerMode)}"
        ) from None
