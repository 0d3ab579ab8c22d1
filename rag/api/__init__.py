"""The HTTP API: FastAPI app (`create_app`) over one Pipeline, served by uvicorn (`rag serve`)."""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    """`create_app`, imported on first use: the chat page imports helpers of this package (document locations,
    citation URLs) while rag.api.app imports the chat page, so importing the package must not import the app."""
    if name == "create_app":
        from rag.api.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
