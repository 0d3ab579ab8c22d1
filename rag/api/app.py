"""The FastAPI application: routers, error handling, request-size limit, optional API key and chat page."""

from __future__ import annotations

import logging

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag import __version__
from rag.api import routes_ask, routes_documents, routes_health, routes_metrics, routes_openai, routes_view
from rag.api.deps import require_api_key
from rag.api.docs import install_redoc
from rag.api.guard import OriginHostGuard
from rag.api.limits import BodyLimitMiddleware
from rag.errors import RagError
from rag.pipeline import Pipeline
from rag.settings import Settings

try:
    from ui.page import mount_ui
except ImportError:
    mount_ui = None

log = logging.getLogger(__name__)

DESCRIPTION = """
Ask questions of your documents and get answers cited to the exact passage.

* `POST /api/ask` answers with `[n]` citations (character spans into the documents); `POST /api/search`
  returns ranked passages.
* `/api/documents` lists, adds (file upload or JSON text) and deletes documents; the index updates at once.
* `/v1/chat/completions` and `/v1/models` speak OpenAI's protocol (use the `openai` client with
  `base_url="http://HOST:PORT/v1"`); citations travel in the extra top-level fields `citations` and `rag`.

Errors are JSON `{"detail": ...}` with the status code saying what went wrong. When `RAG_API_KEY` is set, every
route except `/api/health` needs `Authorization: Bearer <key>`.
"""


def _error(
    request: Request, status_code: int, detail: object, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, object] = {"detail": detail}
    if request.url.path.startswith("/v1/"):  # what the openai client reads
        kind = "invalid_request_error" if status_code < 500 else "server_error"
        message = (
            detail
            if isinstance(detail, str)
            else "invalid request: "
            + "; ".join(
                f"{'.'.join(map(str, p.get('loc', ())))}: {p.get('msg', '')}"
                for p in detail
                if isinstance(p, dict)
            )
        )
        body["error"] = {"message": message, "type": kind, "code": status_code}
    return JSONResponse(body, status_code=status_code, headers=headers)


def _scrub(value: object) -> object:
    """`value` with every string made valid UTF-8 (a lone surrogate echoed from the input becomes '?')."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    return value


def _validation_detail(exc: RequestValidationError) -> list:
    """Pydantic's list of problems, JSON-safe; the echoed input is dropped if it cannot be encoded."""
    try:
        return _scrub(jsonable_encoder(exc.errors()))
    except (TypeError, ValueError):
        return [{k: v for k, v in e.items() if k in ("type", "loc", "msg")} for e in exc.errors()]


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RagError)
    async def rag_error(request: Request, exc: RagError) -> JSONResponse:
        return _error(request, exc.status_code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(request, 422, _validation_detail(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":  # e.g. not UTF-8
            return _error(
                request,
                422,
                [{"type": "json_invalid", "loc": ["body"], "msg": "the body is not valid JSON in UTF-8"}],
            )
        if isinstance(exc.detail, str) and request.url.path.startswith("/v1/"):
            return _error(request, exc.status_code, exc.detail, getattr(exc, "headers", None))
        return await http_exception_handler(request, exc)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(request, 500, "internal server error; the details are in the server log")


def create_app(pipeline: Pipeline, settings: Settings | None = None, *, with_ui: bool = True) -> FastAPI:
    """The API over `pipeline` (already loaded); mounts the chat page at `/` when `ui.page` is importable."""
    settings = settings or pipeline.settings
    app = FastAPIOffline(  # /docs: Swagger UI from the package, never from a CDN; /redoc: see install_redoc
        redoc_url=None,
        title="rag",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=[
            {"name": "ask", "description": "Answers with citations, and passage search."},
            {"name": "documents", "description": "The indexed documents."},
            {"name": "openai", "description": "OpenAI-compatible chat completions."},
            {"name": "health", "description": "Liveness; open even when an API key is set."},
        ],
    )
    install_redoc(app)
    app.state.pipeline = pipeline
    app.state.settings = settings
    _install_error_handlers(app)
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_upload_bytes + routes_documents.MULTIPART_OVERHEAD
    )
    app.add_middleware(OriginHostGuard, settings=settings)  # foreign Host / cross-site writes first (only the
    # request metrics below wrap it)
    routes_metrics.install_metrics(app, pipeline)  # counts and times every request, refused ones included

    protected = [Depends(require_api_key)] if settings.api_key is not None else []
    app.include_router(routes_health.router)
    for module in (routes_ask, routes_documents, routes_openai, routes_metrics):
        app.include_router(module.router, dependencies=protected)
    app.include_router(routes_view.router)  # the document page checks the key itself (a browser can log in)

    app.state.ui = bool(with_ui and mount_ui is not None)
    if app.state.ui:
        mount_ui(app, pipeline)
    else:

        @app.get("/", include_in_schema=False)
        def root() -> RedirectResponse:
            return RedirectResponse("/docs")

    return app
