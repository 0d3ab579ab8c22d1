"""GET/POST /api/documents and GET/DELETE /api/documents/{doc_id}: the index, updated incrementally and persisted."""

from __future__ import annotations

import asyncio
import json
import mimetypes
import threading
from pathlib import PurePath

from fastapi import APIRouter, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from rag.api.deps import PipelineDep, SettingsDep
from rag.api.responses import errors
from rag.api.schemas import DocumentAdded, DocumentDetail, DocumentInfo, DocumentList, TextDocument
from rag.documents import SUPPORTED_SUFFIXES, load_bytes, load_text
from rag.errors import IndexUnavailable, InvalidInput, RagError, UnsupportedFile
from rag.parsing import ParseLimits
from rag.pipeline import Pipeline
from rag.stores import DocumentRecord
from rag.types import Document

router = APIRouter(prefix="/api", tags=["documents"])

# Room for the multipart envelope around a file of the maximum size.
MULTIPART_OVERHEAD = 64 * 1024
_DISCONNECT_POLL = 0.25  # seconds
_SUFFIX_BY_TYPE = {
    "text/plain": ".txt",
    "text/markdown": ".md",
    "text/html": ".html",
    "application/pdf": ".pdf",
}


class PayloadTooLarge(RagError):
    """An uploaded file or text over RAG_MAX_UPLOAD_BYTES."""

    status_code = 413


def _info(record: DocumentRecord) -> dict:
    return {
        "doc_id": record.doc_id,
        "title": record.title,
        "source": record.source,
        "chunks": record.chunks,
        "chars": record.chars,
        "metadata": dict(record.metadata),
    }


def _added(pipeline: Pipeline, doc: Document, replaced: bool) -> DocumentAdded:
    try:
        record = pipeline.data.records.get(doc.doc_id)
    except IndexUnavailable:
        record = None
    if record is None:  # deleted again by a concurrent request in the meantime
        return DocumentAdded(
            doc_id=doc.doc_id,
            title=doc.title,
            source=doc.source,
            chunks=0,
            chars=len(doc.text),
            metadata=dict(doc.metadata),
            replaced=replaced,
        )
    return DocumentAdded(**_info(record), replaced=replaced)


def _too_large(what: str, size: int | None, limit: int) -> PayloadTooLarge:
    got = f" ({size:,} bytes)" if size is not None else ""
    return PayloadTooLarge(f"{what}{got} is over the upload limit of {limit:,} bytes (RAG_MAX_UPLOAD_BYTES)")


def _upload_name(upload: UploadFile) -> str:
    """The uploaded file's base name; a name without extension gets one from the part's content type."""
    name = PurePath((upload.filename or "").replace("\\", "/")).name.strip() or "upload"
    if not PurePath(name).suffix:
        part_type = (upload.content_type or "").split(";")[0].strip().lower()
        suffix = _SUFFIX_BY_TYPE.get(part_type) or mimetypes.guess_extension(part_type) or ""
        name += suffix
    return name


def _validation_error(exc: ValidationError) -> RequestValidationError:
    problems = exc.errors(include_url=False, include_context=False, include_input=False)
    for problem in problems:
        problem["loc"] = ("body", *problem["loc"])
    return RequestValidationError(problems)


_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": f"The file: {', '.join(SUPPORTED_SUFFIXES)}.",
                    },
                    "title": {
                        "type": "string",
                        "maxLength": 300,
                        "description": "Title (default: from the file).",
                    },
                },
            }
        },
        "application/json": {"schema": TextDocument.model_json_schema()},
    },
}


@router.get("/documents", response_model=DocumentList, responses=errors(401))
def list_documents(pipeline: PipelineDep) -> DocumentList:
    """The indexed documents, sorted by id."""
    records = pipeline.documents()
    return DocumentList(
        index=pipeline.index_name, count=len(records), documents=[DocumentInfo(**_info(r)) for r in records]
    )


@router.post(
    "/documents",
    status_code=status.HTTP_201_CREATED,
    response_model=DocumentAdded,
    responses=errors(401, 403, 413, 415, 422, 503),
    openapi_extra={"requestBody": _UPLOAD_BODY},
)
async def add_document(
    request: Request, response: Response, pipeline: PipelineDep, settings: SettingsDep
) -> DocumentAdded:
    """Add a document (or replace the one with the same id), then persist the index.

    Send either a file as `multipart/form-data` (field `file`, optional `title`; .txt .md .html .pdf) or JSON
    `{"text", "title", "doc_id"?}`. The new document is searchable as soon as this returns. A failed upload
    leaves the index exactly as it was. Without `doc_id`, the id comes from the file name or title (made
    unique with a short hash when they are not already a valid id); `replaced` says whether it replaced one.
    """
    limit = settings.max_upload_bytes
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        name, data, title = await _read_upload(request, limit)
        cancel = threading.Event()  # set when the client goes away: its parse is killed
        watcher = asyncio.create_task(_cancel_on_disconnect(request, cancel))
        try:
            doc = await run_in_threadpool(
                load_bytes,
                name,
                data,
                title=title,
                source=f"upload:{name}",
                limits=ParseLimits.from_settings(settings),
                cancel=cancel,
            )
        finally:
            watcher.cancel()
    elif content_type == "application/json" or content_type.endswith("+json"):
        body = await _read_text(request, limit)
        doc = await run_in_threadpool(
            load_text, body.text, body.title, body.doc_id, source=f"text:{body.title}"
        )
    else:
        raise UnsupportedFile(
            'send a file as multipart/form-data (field \'file\') or JSON {"text", "title"}; '
            f"got content type {content_type or '(none)'}"
        )
    stats = await run_in_threadpool(pipeline.add_documents, [doc])
    response.headers["Location"] = f"/api/documents/{doc.doc_id}"
    return _added(pipeline, doc, replaced=doc.doc_id not in stats.added)  # decided under the write lock


async def _cancel_on_disconnect(request: Request, cancel: threading.Event) -> None:
    """Set `cancel` once the client disconnects (checked a few times a second while a file is parsed)."""
    while not await request.is_disconnected():
        await asyncio.sleep(_DISCONNECT_POLL)
    cancel.set()


async def _read_upload(request: Request, limit: int) -> tuple[str, bytes, str | None]:
    """The (file name, bytes, title) of a multipart upload; raises 413 over `limit`, 422 for a bad form."""
    try:
        form = await request.form(max_files=1, max_fields=4)
    except HTTPException as exc:  # malformed multipart or too many parts (a 413 passes through)
        if exc.status_code != 400:
            raise
        raise InvalidInput(f"invalid multipart form: {exc.detail}") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("the multipart form needs a file in the field 'file'")
        title = form.get("title")
        title = title.strip() if isinstance(title, str) and title.strip() else None
        if title is not None and len(title) > 300:
            raise InvalidInput("the title is longer than 300 characters")
        name = _upload_name(upload)
        if upload.size is not None and upload.size > limit:
            raise _too_large(name, upload.size, limit)
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise _too_large(name, None, limit)
        return name, data, title
    finally:
        await form.close()


async def _read_text(request: Request, limit: int) -> TextDocument:
    """The JSON body as a TextDocument; raises 422 when invalid, 413 when the text is over `limit` bytes."""
    try:
        payload = json.loads(await request.body())
    except ValueError as exc:  # includes UnicodeDecodeError
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body",),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": str(exc)},
                }
            ]
        ) from None
    except RecursionError:  # nested deeper than the decoder's recursion limit
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": "JSON nested too deeply", "input": {}}]
        ) from None
    try:
        body = TextDocument.model_validate(payload)
    except ValidationError as exc:
        raise _validation_error(exc) from None
    size = len(body.text.encode("utf-8"))
    if size > limit:
        raise _too_large("the text", size, limit)
    return body


@router.get("/documents/{doc_id:path}", response_model=DocumentDetail, responses=errors(401, 404, 503))
def get_document(doc_id: str, pipeline: PipelineDep) -> DocumentDetail:
    """One document with its cleaned text; citation offsets (`start`, `end`) point into this `text`."""
    doc = pipeline.document(doc_id)
    record = pipeline.data.records.get(doc_id)
    info = (
        _info(record)
        if record is not None
        else {
            "doc_id": doc.doc_id,
            "title": doc.title,
            "source": doc.source,
            "chunks": 0,
            "chars": len(doc.text),
            "metadata": dict(doc.metadata),
        }
    )
    return DocumentDetail(**info, text=doc.text)


@router.delete(
    "/documents/{doc_id:path}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 404, 503)
)
def delete_document(doc_id: str, pipeline: PipelineDep) -> Response:
    """Remove a document and its vectors and persist the index; it is never cited again."""
    pipeline.delete_document(doc_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
