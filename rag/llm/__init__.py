"""Text-generation backends for generative answers: any OpenAI-compatible server, or a local transformers model."""

from __future__ import annotations

from rag.llm.base import ChatModel, LLMUnavailable, Message
from rag.settings import LLMBackend, Settings

__all__ = ["ChatModel", "LLMUnavailable", "Message", "make_llm"]


def make_llm(settings: Settings) -> ChatModel:
    """The backend selected by `settings.llm_backend`; nothing is loaded or contacted until first use."""
    if settings.llm_backend is LLMBackend.openai:
        from rag.llm.openai_compat import OpenAICompatLLM

        return OpenAICompatLLM(
            settings.llm_base_url,
            settings.llm_model,
            api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
            timeout=settings.llm_timeout,
            retries=settings.llm_retries,
            max_tokens=settings.max_new_tokens,
            temperature=settings.temperature,
        )
    from rag.llm.local import LocalLLM

    return LocalLLM(
        settings.local_model_path, max_new_tokens=settings.max_new_tokens, temperature=settings.temperature
    )
