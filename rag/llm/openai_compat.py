"""Client for any OpenAI-compatible chat-completions server (Ollama, vLLM, llama.cpp server, LM Studio, OpenAI)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx

from rag.llm.base import LLMUnavailable, Message

log = logging.getLogger(__name__)

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
MAX_BACKOFF = 8.0


class OpenAICompatLLM:
    """`POST {base_url}/chat/completions`, whole or streamed as server-sent events, with timeouts and retries.

    Connection failures, timeouts, 429 and 5xx replies are retried `retries` times with exponential backoff
    (honouring Retry-After up to 8 s) as long as no text has been received; anything else, or running out of
    retries, raises LLMUnavailable with a one-line reason.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        retries: int = 2,
        max_tokens: int = 256,
        temperature: float = 0.0,
        backoff: float = 0.5,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http:// or https:// URL")
        if not model.strip():
            raise ValueError("model must be named")
        if timeout <= 0 or retries < 0 or max_tokens < 1 or not 0.0 <= temperature <= 2.0:
            raise ValueError("timeout must be positive, retries >= 0, max_tokens >= 1, temperature in 0..2")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.retries = retries
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.backoff = backoff
        headers = {"Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 5.0))
        self._headers = headers
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def description(self) -> str:
        """E.g. "llama3.2 at http://127.0.0.1:11434/v1"."""
        return f"{self.model} at {self.base_url}"

    @property
    def client(self) -> httpx.Client:
        """The shared connection pool (created on first use; httpx clients are thread-safe)."""
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self._timeout, headers=self._headers)
            return self._client

    def close(self) -> None:
        """Close the connection pool."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _payload(
        self, messages: list[Message], stream: bool, max_tokens: int | None = None
    ) -> dict[str, Any]:
        cap = min(self.max_tokens, max_tokens or self.max_tokens)
        return {
            "model": self.model,
            "messages": list(messages),
            "max_tokens": cap,
            "temperature": self.temperature,
            "stream": stream,
        }

    def _send(self, payload: dict[str, Any]) -> httpx.Response:
        """The response to `payload` with a 2xx status (streamed: the caller must close it), after retries."""
        url = f"{self.base_url}/chat/completions"
        attempt = 0
        while True:
            delay = self.backoff * 2**attempt
            try:
                request = self.client.build_request("POST", url, json=payload)
                response = self.client.send(request, stream=True)
            except httpx.TimeoutException as exc:
                reason = f"no reply from {self.base_url} within the timeout ({exc.__class__.__name__})"
            except httpx.TransportError as exc:
                reason = f"cannot reach {self.base_url} ({_first_line(exc) or exc.__class__.__name__})"
            else:
                if response.is_success:
                    return response
                body = _read_error(response)
                response.close()
                reason = f"{self.base_url} answered HTTP {response.status_code}{': ' + body if body else ''}"
                if response.status_code not in RETRY_STATUS:
                    raise LLMUnavailable(f"the language model server refused the request: {reason}")
                delay = max(delay, _retry_after(response))
            if attempt >= self.retries:
                raise LLMUnavailable(
                    f"the language model server is unavailable: {reason}"
                    + (f" (after {attempt + 1} attempts)" if attempt else "")
                )
            attempt += 1
            log.warning(
                "LLM request failed (%s); retry %d of %d in %.1fs", reason, attempt, self.retries, delay
            )
            time.sleep(min(delay, MAX_BACKOFF))

    def complete(self, messages: list[Message], *, max_tokens: int | None = None) -> str:
        """The whole reply (non-streamed request; `max_tokens` lowers the configured cap)."""
        response = self._send(self._payload(messages, stream=False, max_tokens=max_tokens))
        try:
            response.read()
            data = response.json()
            content = data["choices"][0]["message"].get("content") or ""
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise LLMUnavailable(
                f"the language model server sent an unreadable reply ({_first_line(exc)})"
            ) from None
        finally:
            response.close()
        return str(content)

    def stream(self, messages: list[Message], *, max_tokens: int | None = None) -> Iterator[str]:
        """The reply's text pieces as the server streams them (`"stream": true`, server-sent events)."""
        response = self._send(self._payload(messages, stream=True, max_tokens=max_tokens))
        try:
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                # Some servers ignore "stream": send whatever whole reply they gave as one piece.
                response.read()
                try:
                    yield str(response.json()["choices"][0]["message"].get("content") or "")
                except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
                    raise LLMUnavailable(
                        f"the language model server sent an unreadable reply ({exc})"
                    ) from None
                return
            for data in iter_sse_data(response.iter_lines()):
                if data.strip() == "[DONE]":
                    return
                try:
                    event = json.loads(data)
                except ValueError:
                    raise LLMUnavailable(
                        "the language model server sent an unreadable stream event"
                    ) from None
                if isinstance(event, dict) and event.get("error"):
                    raise LLMUnavailable(f"the language model server reported an error: {_error_text(event)}")
                for choice in (event.get("choices") or [])[:1] if isinstance(event, dict) else []:
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        yield str(piece)
        except httpx.HTTPError as exc:
            raise LLMUnavailable(
                f"the language model stream broke off ({_first_line(exc) or exc.__class__.__name__})"
            ) from None
        finally:
            response.close()


def iter_sse_data(lines: Iterator[str]) -> Iterator[str]:
    """The `data` payloads of a server-sent-event stream (multi-line data joined by newlines; comments skipped)."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value.removeprefix(" "))
    if data:
        yield "\n".join(data)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _error_text(data: Any) -> str:
    if isinstance(data, dict):
        error = data.get("error", data.get("detail"))
        if isinstance(error, dict):
            return str(error.get("message") or error)[:300]
        if error is not None:
            return str(error)[:300]
    return str(data)[:300]


def _read_error(response: httpx.Response) -> str:
    try:
        response.read()
        return _error_text(response.json())
    except (httpx.HTTPError, ValueError):
        try:
            return response.text.strip()[:300]
        except (httpx.HTTPError, UnicodeDecodeError):
            return ""


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(float(response.headers.get("retry-after", "0")), MAX_BACKOFF)
    except ValueError:
        return 0.0
