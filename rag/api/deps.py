"""Dependencies shared by the routes: the Pipeline and settings of the app, and the optional API-key check.

They are `async def` because none of them blocks: FastAPI runs a plain `def` dependency in its thread pool, one
thread hand-off per dependency per request, which under concurrency costs more than the dependency itself.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rag.pipeline import Pipeline
from rag.settings import Settings

_bearer = HTTPBearer(
    auto_error=False, description="The key set in RAG_API_KEY, as `Authorization: Bearer <key>`."
)


async def get_pipeline(request: Request) -> Pipeline:
    """The Pipeline the app was created with (model and index loaded once at start-up)."""
    return request.app.state.pipeline


async def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    return request.app.state.settings


PipelineDep = Annotated[Pipeline, Depends(get_pipeline)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


async def require_api_key(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Reject the request with 401 unless it carries `Authorization: Bearer <RAG_API_KEY>` (no-op when unset)."""
    if settings.api_key is None:
        return
    expected = settings.api_key.get_secret_value().encode()
    given = credentials.credentials.encode("utf-8", "replace") if credentials is not None else b""
    if credentials is None or not secrets.compare_digest(given, expected):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing or invalid API key: send the header 'Authorization: Bearer <RAG_API_KEY>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
