"""OpenAPI descriptions of the error responses the routes can return (all bodies are `{"detail": ...}`)."""

from __future__ import annotations

from typing import Any

from rag.api.schemas import ErrorResponse

_TEXT = {
    401: "Missing or wrong API key (only when RAG_API_KEY is set).",
    403: "A state-changing request from another site (Origin not the server's own nor in RAG_ALLOWED_ORIGINS).",
    404: "Unknown document id or model.",
    413: "Request body or uploaded file over the size limit (RAG_MAX_UPLOAD_BYTES), or a file over a parsing "
    "limit (HTML nesting or elements, PDF pages or decompressed size, parse time).",
    415: "Unsupported file type or request content type.",
    422: "Invalid request: bad body or parameter, empty or over-long question, unreadable file.",
    503: "The index is missing or was built with another model, or the model is unavailable.",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry documenting these error status codes."""
    return {code: {"model": ErrorResponse, "description": _TEXT[code]} for code in codes}
