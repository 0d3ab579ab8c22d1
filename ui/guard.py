"""In front of the Gradio page: 404 for unknown endpoints and function indexes, and a rate limit on failed logins."""

from __future__ import annotations

import json
import math
import re
import time
from collections import deque
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_NAMED = re.compile(r"^/gradio_api/(?:run|api|call/v2|call)/([^/]+)(?:/[^/]+)?/?$")
_BODY_CHECKED = re.compile(r"^/gradio_api/(?:queue/join|run/|api/|call/)")
_LOGIN = ("/login", "/login/")
_MAX_CHECKED_BODY = 1024 * 1024  # the page's own requests are a few KB; uploads go to /gradio_api/upload
_MAX_CLIENTS = 10_000


class GradioGuard:
    """Pure ASGI middleware for the routes Gradio serves under the page.

    * `/gradio_api/{run,api,call}/NAME` with a NAME that no page function has, and any request naming a
      function index (`fn_index`) the page does not have, get 404 (Gradio itself answers those with a 500).
    * `POST /login`: a client (by address) with `max_failures` failed logins within `window` seconds gets 429
      with Retry-After until the oldest failure leaves the window; a successful login clears its count.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        api_names: Iterable[str],
        fn_indexes: Iterable[int],
        max_failures: int,
        window: float,
        limit_logins: bool,
    ) -> None:
        self.app = app
        self.api_names = frozenset(api_names)
        self.fn_indexes = frozenset(fn_indexes)
        self.max_failures = max_failures
        self.window = window
        self.limit_logins = limit_logins
        self.failures: dict[str, deque[float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope.get("path", ""), scope.get("method", "GET")
        named = _NAMED.match(path)
        if named and named.group(1) not in self.api_names:
            await _json(send, 404, f"no page endpoint named {named.group(1)[:100]!r}")
            return
        if method == "POST" and path in _LOGIN and self.limit_logins:
            await self._login(scope, receive, send)
            return
        if method == "POST" and _BODY_CHECKED.match(path):
            body = await _read_body(receive, _MAX_CHECKED_BODY)
            if body is None:
                await _json(send, 413, "request body too large for this endpoint")
                return
            if not self._known_fn(body):
                await _json(send, 404, "no page function with that fn_index")
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    def _known_fn(self, body: bytes) -> bool:
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            return True  # not JSON: Gradio's own validation answers 422
        index = payload.get("fn_index") if isinstance(payload, dict) else None
        return index is None or (isinstance(index, int) and index in self.fn_indexes)

    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = (scope.get("client") or ("unknown", 0))[0]
        now = time.monotonic()
        recent = self.failures.get(client)
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        if recent is not None and len(recent) >= self.max_failures:
            retry = max(1, math.ceil(recent[0] + self.window - now))
            await _json(
                send,
                429,
                f"too many failed logins from this address; try again in {retry} s",
                [(b"retry-after", str(retry).encode())],
            )
            return
        status: list[int] = []

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, receive, watch)
        if status and status[0] < 300:
            self.failures.pop(client, None)
        elif status and status[0] in (400, 401, 403):
            self._prune(now)
            self.failures.setdefault(client, deque()).append(now)

    def _prune(self, now: float) -> None:
        """Forget clients whose failures all left the window, once many are remembered."""
        if len(self.failures) >= _MAX_CLIENTS:
            for key in [k for k, v in self.failures.items() if not v or v[-1] <= now - self.window]:
                del self.failures[key]


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None when it is over `limit` bytes."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def _replay(body: bytes, original: Receive) -> Receive:
    """A `receive` that hands `body` on once, then passes through to `original` (which reports a disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await original()

    return receive


async def _json(
    send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
