"""Conversation handling: turn a follow-up question into a self-contained retrieval query."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

Turn = str | Mapping[str, str]

_ANAPHORA = re.compile(
    r"\b(it|its|it's|they|them|their|theirs|this|that|these|those|there|he|him|his|she|her|hers|the same|"
    r"the company|the firm|the platform|the warehouse|the event|one)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+")


def user_turns(history: Sequence[Turn] | None) -> list[str]:
    """The user's earlier questions, oldest first. Plain strings count as user turns."""
    turns: list[str] = []
    for item in history or []:
        if isinstance(item, str):
            text = item
        elif item.get("role", "user") == "user":
            text = str(item.get("content") or "")
        else:
            continue
        if text.strip():
            turns.append(text.strip())
    return turns


def is_follow_up(question: str) -> bool:
    """True when the question leans on earlier turns (a pronoun, or too few words to stand alone)."""
    return bool(_ANAPHORA.search(question)) or len(_WORD.findall(question)) < 4


def contextualize(question: str, history: Sequence[Turn] | None) -> str:
    """The retrieval query for `question`: the question itself, prefixed by the previous user turn for a follow-up."""
    turns = user_turns(history)
    if not turns or not is_follow_up(question):
        return question
    return f"{turns[-1]} {question}"
