"""GET /documents/{doc_id}?start=S&end=E: the document page a citation opens (HTML), guarded like the API."""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from rag.api.deps import PipelineDep, SettingsDep
from rag.api.document_view import document_page, message_page
from rag.errors import DocumentNotFound, IndexUnavailable
from rag.settings import Settings

router = APIRouter(include_in_schema=False)

MAX_OFFSET_DIGITS = 12
# `app.state.page_user`, set by the chat page when it asks for the key: request -> logged-in user or None.
PageUser = Callable[[Request], str | None]


def _content_policy(nonce: str) -> str:
    return (
        f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    )


def _page(
    body_of: Callable[[str], str], status_code: int = 200, headers: dict[str, str] | None = None
) -> HTMLResponse:
    """An HTML response whose inline style and script run only with this response's nonce (CSP)."""
    nonce = secrets.token_urlsafe(16)
    return HTMLResponse(
        body_of(nonce),
        status_code=status_code,
        headers={
            "content-security-policy": _content_policy(nonce),
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
            "cache-control": "no-store",
            **(headers or {}),
        },
    )


def _error(status_code: int, title: str, message: str, headers: dict[str, str] | None = None) -> HTMLResponse:
    return _page(lambda nonce: message_page(title, message, nonce), status_code, headers)


def _given_key(request: Request) -> str | None:
    """The key an `Authorization` header carries: `Bearer <key>`, or `Basic` with the key as password."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2]
    return None


def authorized(request: Request, settings: Settings) -> bool:
    """Whether the request may read documents: always without RAG_API_KEY; with it, the key as a Bearer token or
    Basic password (a browser's login prompt), or a chat-page session logged in with the key."""
    if settings.api_key is None:
        return True
    given = _given_key(request)
    expected = settings.api_key.get_secret_value().encode()
    if given is not None and secrets.compare_digest(given.encode("utf-8", "replace"), expected):
        return True
    page_user: PageUser | None = getattr(request.app.state, "page_user", None)
    return page_user is not None and page_user(request) is not None


def _offset(value: str | None, name: str) -> int | None:
    """A span offset from the query string: None when absent; ValueError unless a non-negative integer."""
    if value is None:
        return None
    if not value.isdigit() or not value.isascii() or len(value) > MAX_OFFSET_DIGITS:
        raise ValueError(f"{name} must be a whole number of characters (0 or more), not {value[:40]!r}")
    return int(value)


def _span(start: str | None, end: str | None, length: int) -> tuple[int, int] | None:
    """The quoted span (start, end) in a text of `length` characters, or None for none; ValueError when wrong."""
    lo, hi = _offset(start, "start"), _offset(end, "end")
    if lo is None and hi is None:
        return None
    if lo is None or hi is None:
        raise ValueError("give both start and end, or neither")
    if not lo < hi <= length:
        raise ValueError(f"the span {lo}–{hi} is not inside this document (0–{length}, start before end)")
    return lo, hi


@router.get("/documents/{doc_id:path}", response_class=HTMLResponse)
def document_view(
    doc_id: str,
    request: Request,
    pipeline: PipelineDep,
    settings: SettingsDep,
    start: str | None = None,
    end: str | None = None,
) -> HTMLResponse:
    """The whole document as a page, the span `start`–`end` (offsets into its cleaned text, as in a citation)
    highlighted and scrolled to. Errors are short pages too: 401 (asking a browser for the key), 404, 422, 503.
    A plain function: FastAPI runs it in its thread pool, so a long document never blocks the event loop."""
    if not authorized(request, settings):
        return _error(
            401,
            "The API key is needed",
            "This server requires its API key: log in to the chat page first, or enter any user name and "
            "RAG_API_KEY as the password.",
            {"www-authenticate": 'Basic realm="rag documents", charset="UTF-8"'},
        )
    try:
        document = pipeline.document(doc_id)
    except DocumentNotFound:
        return _error(404, "No such document", f"No document with id {doc_id[:200]!r} is indexed.")
    except IndexUnavailable as exc:
        return _error(503, "No index", str(exc))
    try:
        span = _span(start, end, len(document.text))
    except ValueError as exc:
        return _error(422, "Cannot show this span", str(exc))
    return _page(lambda nonce: document_page(document, span, nonce))
