"""Request-body size limit: rejects by Content-Length before reading, and counts bytes while reading (413, JSON)."""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """Raised from `receive` when the body grows past the limit; FastAPI's handlers turn it into a JSON 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=too_large_message(limit))


def too_large_message(limit: int) -> str:
    """The 413 message for a body limit of `limit` bytes."""
    return (
        f"the request body is over the limit of {limit:,} bytes "
        "(RAG_MAX_UPLOAD_BYTES plus room for the multipart envelope)"
    )


class BodyLimitMiddleware:
    """Pure ASGI middleware limiting every HTTP request body to `max_bytes`.

    Starlette's own limiter answers in plain text; this one keeps the API's `{"detail": ...}` JSON errors.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.max_bytes:
            await _reject(send, self.max_bytes)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited, send)


async def _reject(send: Send, limit: int) -> None:
    body = json.dumps({"detail": too_large_message(limit)}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
