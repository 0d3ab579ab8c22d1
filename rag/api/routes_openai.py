"""OpenAI-compatible chat: POST /v1/chat/completions (streaming or not) and GET /v1/models."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from rag.api.annotations import WordLimiter, limit_words, url_citations
from rag.api.deps import PipelineDep
from rag.api.responses import errors
from rag.api.schemas import (
    AssistantMessage,
    ChatChoice,
    ChatCompletion,
    ChatCompletionRequest,
    ModelCard,
    ModelList,
)
from rag.errors import InvalidInput, RagError
from rag.settings import AnswerMode
from rag.types import Answer

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["openai"])

# Model names and the answer mode each selects (None: the server's RAG_ANSWER_MODE).
MODELS: dict[str, AnswerMode | None] = {
    "rag": None,
    "rag-extractive": AnswerMode.extractive,
    "rag-generative": AnswerMode.generative,
}
_DESCRIPTIONS = {
    "rag": "Answers in the server's default mode (RAG_ANSWER_MODE).",
    "rag-extractive": "Answers by quoting the best-supported sentences of the retrieved passages.",
    "rag-generative": "Answers written by a local language model from the retrieved passages (if configured).",
}
_STARTED = int(time.time())
# One Server-Sent Event of a streamed completion (OpenAPI 3.1: `schema` describes each event).
_SSE_EVENT = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "data": {
            "type": "string",
            "description": "A `chat.completion.chunk` as JSON, or `[DONE]` at the end.",
        },
        "event": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer", "minimum": 0},
    },
}
_RETRIEVAL_ROLES = ("user", "assistant")


class ModelNotFound(RagError):
    """A `model` this server does not offer."""

    status_code = 404


def _mode(request: ChatCompletionRequest) -> AnswerMode | None:
    if request.model not in MODELS:
        raise ModelNotFound(f"the model {request.model!r} does not exist; use one of: {', '.join(MODELS)}")
    return request.mode or MODELS[request.model]


def _question_and_history(request: ChatCompletionRequest) -> tuple[str, list[dict[str, str]]]:
    """The last message is the question; earlier user/assistant messages are the history (system ignored)."""
    *earlier, last = request.messages
    if last.role != "user":
        raise InvalidInput(f"the last message must be the user's question (role 'user'), not {last.role!r}")
    history = [
        {"role": m.role, "content": m.text()} for m in earlier if m.role in _RETRIEVAL_ROLES and m.text()
    ]
    return last.text(), history


def _completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def _chunk(
    cid: str, created: int, model: str, delta: dict, finish: str | None = None, **extra: object
) -> str:
    body = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        **extra,
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def _events(
    pieces: Iterator[str | Answer], cid: str, created: int, model: str, limit: int | None, base_url: str
) -> Iterator[str]:
    """SSE lines: a role chunk, one chunk per piece as the pipeline yields it (up to `limit` words), a final
    chunk whose delta carries the `url_citation` annotations (plus `citations` and `rag`), then [DONE]."""
    yield _chunk(cid, created, model, {"role": "assistant", "content": ""})
    limiter = WordLimiter(limit)
    try:
        for piece in pieces:
            if isinstance(piece, Answer):
                answer = piece.model_dump(mode="json")
                delta = {"annotations": url_citations(limiter.sent, piece.citations, base_url)}
                yield _chunk(
                    cid,
                    created,
                    model,
                    delta,
                    "length" if limiter.truncated else "stop",
                    citations=answer["citations"],
                    rag=answer,
                )
            elif piece and (text := limiter.feed(piece)):
                yield _chunk(cid, created, model, {"content": text})
    except RagError as exc:
        yield f"data: {json.dumps({'error': {'message': str(exc), 'type': 'invalid_request_error'}})}\n\n"
        return
    except Exception:  # the response has started: report in-band, never a traceback
        log.exception("error while streaming a chat completion")
        yield f"data: {json.dumps({'error': {'message': 'internal error', 'type': 'server_error'}})}\n\n"
        return
    yield "data: [DONE]\n\n"


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={
        **errors(401, 404, 413, 422, 503),
        200: {
            "content": {"text/event-stream": {"schema": _SSE_EVENT}},
            "description": "The completion; with `stream: true`, Server-Sent Events of `chat.completion.chunk` "
            "objects ending with `data: [DONE]` (the last chunk carries "
            "`delta.annotations`, `citations` and `rag`).",
        },
    },
)
async def chat_completions(body: ChatCompletionRequest, pipeline: PipelineDep, request: Request):
    """Answer the last user message, OpenAI style; earlier user/assistant messages are the conversation.

    `model` selects the answer mode (`rag`, `rag-extractive`, `rag-generative`; see GET /v1/models) and the
    extra body field `mode` overrides it. Each `[n]` in the content is also a `url_citation` entry of
    `message.annotations` (OpenAI's shape) whose URL opens the cited span. The response is an OpenAI
    `chat.completion` (or a stream of `chat.completion.chunk`) with two extra top-level fields: `citations`
    (the `[n]` citations) and `rag` (the whole answer exactly as POST /api/ask returns it). `max_tokens`
    limits the answer; in generative mode system messages are appended to the grounding instructions.
    """
    mode = _mode(body)
    question, history = _question_and_history(body)
    cid, created = _completion_id(), int(time.time())
    limit, base_url = body.answer_limit(), str(request.base_url)
    options = {"extra_system": body.system_prompt(), "max_tokens": limit}
    if body.stream:
        # Validation and retrieval happen here, so errors get a proper status before the stream starts.
        pieces = await run_in_threadpool(pipeline.ask_stream, question, history, body.top_k, mode, **options)
        return StreamingResponse(
            _events(pieces, cid, created, body.model, limit, base_url),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    answer = await run_in_threadpool(pipeline.ask, question, history, body.top_k, mode, **options)
    content = limit_words(answer.answer, limit)
    annotations = url_citations(content, answer.citations, base_url)
    message = AssistantMessage(content=content, annotations=annotations)
    finish = "length" if answer.answer[len(content) :].strip() else "stop"
    return ChatCompletion(
        id=cid,
        created=created,
        model=body.model,
        choices=[ChatChoice(message=message, finish_reason=finish)],
        citations=answer.citations,
        rag=answer,
    )


@router.get("/models", response_model=ModelList, responses=errors(401))
def list_models() -> ModelList:
    """The model names `model` accepts; each selects an answer mode."""
    return ModelList(data=[ModelCard(id=m, created=_STARTED, description=_DESCRIPTIONS[m]) for m in MODELS])


@router.get("/models/{model}", response_model=ModelCard, responses=errors(401, 404))
def get_model(model: str) -> ModelCard:
    """One model by name."""
    if model not in MODELS:
        raise ModelNotFound(f"the model {model!r} does not exist; use one of: {', '.join(MODELS)}")
    return ModelCard(id=model, created=_STARTED, description=_DESCRIPTIONS[model])
