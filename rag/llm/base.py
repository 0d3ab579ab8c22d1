"""What every text-generation backend offers: chat messages in, text (whole or streamed) out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, TypedDict

from rag.errors import ModelUnavailable


class Message(TypedDict):
    """One chat message in the OpenAI shape: role is "system", "user" or "assistant"."""

    role: str
    content: str


class LLMUnavailable(ModelUnavailable):
    """The language model cannot answer right now (server down, timeout, model file missing, bad reply)."""


class ChatModel(Protocol):
    """A chat model backend. Both methods raise LLMUnavailable when the model cannot be reached or loaded."""

    @property
    def description(self) -> str:
        """Short human-readable name of the backend and model, for notices and logs."""
        ...

    def complete(self, messages: list[Message], *, max_tokens: int | None = None) -> str:
        """The whole reply to `messages` (`max_tokens`, when given, lowers the backend's cap)."""
        ...

    def stream(self, messages: list[Message], *, max_tokens: int | None = None) -> Iterator[str]:
        """The reply to `messages` in pieces as they are generated; closing the iterator stops generation.

        `max_tokens` lowers the backend's own limit on new tokens for this reply (it never raises it).
        """
        ...
