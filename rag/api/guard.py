"""Host and Origin checks: no answers to foreign Host names (DNS rebinding), no writes from other sites (CSRF)."""

from __future__ import annotations

import ipaddress
import json
import socket
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from rag.settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
TEST_CLIENT_HOST = "testserver"  # the Host that Starlette's and httpx's in-process test clients send
_WILDCARD_ADDRESSES = ("0.0.0.0", "::", "")


def _split_host(value: str) -> tuple[str, str]:
    """(host name in lower case without brackets, port or '') of a Host header value or an origin's netloc."""
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:8000
        host, _, rest = value[1:].partition("]")
        return host, rest.removeprefix(":")
    if value.count(":") == 1:
        host, _, port = value.partition(":")
        return host, port
    return value, ""


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _origin_netloc(origin: str) -> tuple[str, str] | None:
    """The (host, port) an Origin header names, default ports dropped; None for 'null' or a malformed one."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    host, port = _split_host(parts.netloc)
    return host, "" if port in ("80", "443") else port


def allowed_host_names(settings: Settings) -> frozenset[str]:
    """Host names accepted in the Host header besides IP literals: localhost, the bound name, RAG_ALLOWED_HOSTS."""
    names = {"localhost", TEST_CLIENT_HOST, *(_split_host(h)[0] for h in settings.allowed_hosts)}
    bound = settings.host.strip().lower().strip("[]")
    if bound in _WILDCARD_ADDRESSES:
        names.add(socket.gethostname().lower())  # no DNS lookup: start-up must not wait on a resolver
    else:
        names.add(bound)
    return frozenset(n for n in names if n)


class OriginHostGuard:
    """Pure ASGI middleware in front of the whole app (API, docs and chat page).

    * Host: the request's Host header must be an IP literal, `localhost` (or `*.localhost`), the bound host
      name, or one of RAG_ALLOWED_HOSTS (`*` admits any); otherwise 400. A DNS-rebinding page reaches the server
      under its own domain name, so this keeps it out even for reads.
    * Origin: a state-changing request (anything but GET/HEAD/OPTIONS/TRACE, and every WebSocket) that carries
      an Origin header must come from the server's own origin (same host and port as the Host header) or one
      of RAG_ALLOWED_ORIGINS; otherwise 403. Browsers always send Origin on cross-site writes; clients that are
      not browsers (curl, the openai client) send none and are not affected.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.any_host = "*" in settings.allowed_hosts
        self.host_names = allowed_host_names(settings)
        self.origins = frozenset(
            n for n in (_origin_netloc(o) for o in settings.allowed_origins) if n is not None
        )
        self.any_origin = "*" in settings.allowed_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host_header = headers.get("host", "")
        host, port = _split_host(host_header)
        if not self._host_ok(host):
            await _refuse(
                scope,
                send,
                400,
                f"the Host header {host_header[:100]!r} is not one this server answers "
                "to; add the name to RAG_ALLOWED_HOSTS to use it",
            )
            return
        origin = headers.get("origin")
        writes = scope["type"] == "websocket" or scope.get("method", "GET").upper() not in SAFE_METHODS
        if writes and origin is not None and not self._origin_ok(origin, host, port):
            await _refuse(
                scope,
                send,
                403,
                f"cross-site request refused: origin {origin[:100]!r} may not change "
                "anything here; add it to RAG_ALLOWED_ORIGINS to allow it",
            )
            return
        await self.app(scope, receive, send)

    def _host_ok(self, host: str) -> bool:
        return self.any_host or host in self.host_names or host.endswith(".localhost") or _is_ip(host)

    def _origin_ok(self, origin: str, host: str, port: str) -> bool:
        netloc = _origin_netloc(origin)
        if netloc is None:
            return False
        own = (host, "" if port in ("80", "443") else port)
        return netloc == own or netloc in self.origins or self.any_origin


async def _refuse(scope: Scope, send: Send, status: int, detail: str) -> None:
    """A JSON error response (or, for a WebSocket, a refused handshake)."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008, "reason": detail[:120]})
        return
    payload: dict[str, object] = {"detail": detail}
    if scope.get("path", "").startswith("/v1/"):  # what the openai client reads
        payload["error"] = {"message": detail, "type": "invalid_request_error", "code": status}
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
