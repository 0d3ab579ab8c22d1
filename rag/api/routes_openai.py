"""OpenAI-compatible chat: POST /v1/chat/completions (streaming or not) and GET /v1/models."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

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
        "data": {"type": "string", "description": "A `chat.completion.chunk` as JSON, or `[DONE]` at the end."},
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
    history = [{"role": m.role, "content": m.text()} for m in earlier if m.role in _RETRIEVAL_ROLES and m.text()]
    return last.text(), history


def _completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def _chunk(cid: str, created: int, model: str, delta: dict, finish: str | None = None, **extra: object) -> str:
    body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def _events(pieces: Iterator[str | Answer], cid: str, created: int, model: str) -> Iterator[str]:
    """SSE lines: a role chunk, one chunk per piece as the pipeline yields it, a final chunk with citations, [DONE]."""
    yield _chunk(cid, created, model, {"role": "assistant", "content": ""})
    try:
        for piece in pieces:
            if isinstance(piece, Answer):
                answer = piece.model_dump(mode="json")
                yield _chunk(cid, created, model, {}, "stop", citations=answer["citations"], rag=answer)
            elif piece:
                yield _chunk(cid, created, model, {"content": piece})
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
        200: {"content": {"text/event-stream": {"schema": _SSE_EVENT}},
              "description": "The completion; with `stream: true`, Server-Sent Events of `chat.completion.chunk` "
                             "objects ending with `data: [DONE]` (the last chunk carries `citations` and `rag`)."},
    },
)
async def chat_completions(body: ChatCompletionRequest, pipeline: PipelineDep):  # noqa: ANN201 - JSON or SSE
    """Answer the last user message, OpenAI style; earlier user/assistant messages are the conversation.

    `model` selects the answer mode (`rag`, `rag-extractive`, `rag-generative`; see GET /v1/models) and the
    extra body field `mode` overrides it. The response is an OpenAI `chat.completion` (or a stream of
    `chat.completion.chunk`) with two extra top-level fields: `citations` (the `[n]` citations) and `rag`
    (the whole answer exactly as POST /api/ask returns it).
    """
    mode = _mode(body)
    question, history = _question_and_history(body)
    cid, created = _completion_id(), int(time.time())
    if body.stream:
        # Validation and retrieval happen here, so errors get a proper status before the stream starts.
        pieces = await run_in_threadpool(pipeline.ask_stream, question, history, body.top_k, mode)
        return StreamingResponse(_events(pieces, cid, created, body.model), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    answer = await run_in_threadpool(pipeline.ask, question, history, body.top_k, mode)
    return ChatCompletion(id=cid, created=created, model=body.model,
                          choices=[ChatChoice(message=AssistantMessage(content=answer.answer))],
                          citations=answer.citations, rag=answer)


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
