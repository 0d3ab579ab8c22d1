"""Request and response bodies of the HTTP API; answers reuse rag.types.Answer and Citation as they are."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from rag.settings import AnswerMode
from rag.types import Answer, Citation


def _encodable(text: str) -> str:
    """Reject strings that cannot be encoded as UTF-8 (lone surrogates from JSON escapes like "\\ud800")."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains an unpaired surrogate; send valid Unicode text") from None
    return text


Text = Annotated[str, AfterValidator(_encodable)]
DOC_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$"
TopK = Annotated[
    int | None, Field(None, ge=1, le=100, description="Passages to retrieve (default RAG_TOP_K).")
]


class ErrorResponse(BaseModel):
    """Every error body: `detail` is a message, or pydantic's list of problems for a 422 on an invalid body."""

    detail: str | list[dict[str, Any]]


class HistoryTurn(BaseModel):
    """One earlier turn of the conversation."""

    role: Literal["user", "assistant", "system"] = "user"
    content: Text = Field(max_length=100_000)


History = Annotated[
    list[Text | HistoryTurn] | None,
    Field(
        None,
        max_length=200,
        description="Earlier turns, oldest first: plain strings (user questions) or "
        "{role, content} objects. A follow-up question is resolved against the last user turn.",
    ),
]


class AskRequest(BaseModel):
    """POST /api/ask."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"question": "How large is the warehouse at Liège airport?"},
                {
                    "question": "How big is it?",
                    "history": ["Where is Alibaba building a warehouse in Europe?"],
                },
            ]
        },
    )

    question: Text = Field(
        min_length=1,
        max_length=100_000,
        description="The question (limit RAG_MAX_QUESTION_CHARS, 2000 by default).",
    )
    top_k: TopK = None
    history: History = None
    mode: AnswerMode | None = Field(None, description="Answer mode (default RAG_ANSWER_MODE).")


class SearchRequest(BaseModel):
    """POST /api/search."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"query": "Liège warehouse size"}]}
    )

    query: Text = Field(min_length=1, max_length=100_000)
    top_k: TopK = None
    history: History = None


class SearchHit(BaseModel):
    """One retrieved passage with its scores."""

    rank: int = Field(description="1 = best.")
    doc_id: str
    title: str
    chunk_id: str
    start: int = Field(description="Offset of the passage in the document's cleaned text.")
    end: int = Field(description="End offset (exclusive) of the passage.")
    text: str
    score: float = Field(description="Fused (reciprocal-rank-fusion) score; higher is better.")
    dense_score: float | None = Field(
        None, description="Cosine similarity from the vector index, if it found it."
    )
    bm25_score: float | None = Field(None, description="BM25 score, if the keyword index found it.")


class SearchResponse(BaseModel):
    """Ranked passages, no answer."""

    query: str
    passages: list[SearchHit]
    latency_ms: float


class DocumentInfo(BaseModel):
    """An indexed document (without its text)."""

    doc_id: str
    title: str
    source: str
    chunks: int
    chars: int
    metadata: dict[str, str] = Field(default_factory=dict)


class DocumentAdded(DocumentInfo):
    """The document an upload created or replaced."""

    replaced: bool = Field(description="True when a document with this id existed and was replaced.")


class DocumentDetail(DocumentInfo):
    """An indexed document with its cleaned text (citation offsets point into `text`)."""

    text: str


class DocumentList(BaseModel):
    """GET /api/documents."""

    index: str
    count: int
    documents: list[DocumentInfo]


class TextDocument(BaseModel):
    """POST /api/documents as JSON: a document given as plain text."""

    model_config = ConfigDict(extra="forbid")

    text: Text = Field(min_length=1, description="The document text.")
    title: Text = Field(min_length=1, max_length=300)
    doc_id: str | None = Field(
        None,
        pattern=DOC_ID_PATTERN,
        max_length=200,
        description="Id to use (default: derived from the title); an existing id is replaced.",
    )


class Health(BaseModel):
    """GET /api/health."""

    status: Literal["ok", "no_index"]
    model_loaded: bool
    model: str
    index: str
    index_loaded: bool
    documents: int
    chunks: int
    answer_mode: str
    version: str


# ---- OpenAI-compatible chat ------------------------------------------------------------------------------
class ContentPart(BaseModel):
    """A part of a multi-part message; only `text` parts are read."""

    model_config = ConfigDict(extra="allow")

    type: str
    text: Text | None = None


class ChatMessage(BaseModel):
    """One message of an OpenAI chat request."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: Text | list[ContentPart] | None = None
    name: str | None = None

    def text(self) -> str:
        """The message's text (text parts joined by newlines)."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(p.text for p in self.content if p.type == "text" and p.text)


class ChatCompletionRequest(BaseModel):
    """POST /v1/chat/completions. OpenAI's other sampling options (temperature, top_p, ...) are ignored."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "model": "rag",
                    "messages": [{"role": "user", "content": "How large is the warehouse at Liège airport?"}],
                },
            ]
        },
    )

    model: str = Field("rag", description="`rag` (default mode), `rag-extractive` or `rag-generative`.")
    messages: list[ChatMessage] = Field(
        min_length=1, max_length=500, description="The conversation; the last message is the user's question."
    )
    stream: bool | None = Field(False, description="Stream Server-Sent Events in OpenAI's chunk format.")
    mode: AnswerMode | None = Field(
        None, description="Extra field: answer mode; overrides the one `model` selects."
    )
    top_k: TopK = None
    max_tokens: int | None = Field(
        None,
        ge=1,
        description="Longest answer: in generative mode the model's "
        "limit on new tokens (never above RAG_MAX_NEW_TOKENS); the text is also cut "
        "after this many words (finish_reason `length`).",
    )
    max_completion_tokens: int | None = Field(
        None, ge=1, description="OpenAI's newer name for `max_tokens`; wins when both are given."
    )

    def answer_limit(self) -> int | None:
        """The requested limit on the answer's length, if any."""
        return self.max_completion_tokens or self.max_tokens

    def system_prompt(self) -> str | None:
        """The text of the system (and developer) messages, joined by blank lines; None without any."""
        parts = [m.text().strip() for m in self.messages if m.role in ("system", "developer")]
        return "\n\n".join(p for p in parts if p) or None


class URLCitation(BaseModel):
    """Where a `[n]` marker sits in the content, and the URL that opens the cited span of the document."""

    start_index: int = Field(description="Offset of the marker's `[` in `content`.")
    end_index: int = Field(description="Offset just past the marker's `]` in `content` (exclusive).")
    title: str = Field(description="Title of the cited document.")
    url: str = Field(description="`{server}/documents/{doc_id}?start=S&end=E`: the document at the quote.")


class Annotation(BaseModel):
    """OpenAI's `url_citation` annotation: one per passage a `[n]` marker cites."""

    type: Literal["url_citation"] = "url_citation"
    url_citation: URLCitation


class AssistantMessage(BaseModel):
    """The answer as the assistant's message."""

    role: Literal["assistant"] = "assistant"
    content: str
    annotations: list[Annotation] = Field(
        default_factory=list,
        description="A `url_citation` for each `[n]` marker in `content` (OpenAI's shape).",
    )
    refusal: None = None


class ChatChoice(BaseModel):
    """The single choice of a completion."""

    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"] = Field("stop", description="`length`: `max_tokens` cut it.")
    logprobs: None = None


class ChatCompletion(BaseModel):
    """OpenAI `chat.completion`, plus `citations` and `rag` (the full /api/ask answer object)."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: None = Field(None, description="Not reported (no token counts for retrieval answers).")
    citations: list[Citation] = Field(
        description="Extra field: the answer's citations ([n] markers in the text)."
    )
    rag: Answer = Field(description="Extra field: the answer exactly as POST /api/ask returns it.")


class ModelCard(BaseModel):
    """An entry of GET /v1/models."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "rag"
    description: str = ""


class ModelList(BaseModel):
    """GET /v1/models."""

    object: Literal["list"] = "list"
    data: list[ModelCard]
