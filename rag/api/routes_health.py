"""GET /api/health: is the model loaded, which index, how many documents and chunks (never needs the API key)."""

from __future__ import annotations

from fastapi import APIRouter

from rag import __version__
from rag.api.deps import PipelineDep
from rag.api.schemas import Health
from rag.errors import IndexUnavailable

router = APIRouter(prefix="/api", tags=["health"])


@router.get("/health", response_model=Health)
def health(pipeline: PipelineDep) -> Health:
    """Liveness and what is loaded; `status` is `no_index` while there is no usable index."""
    try:
        data = pipeline.data
        documents, chunks, loaded = len(data.documents), data.chunk_count, True
    except IndexUnavailable:
        documents, chunks, loaded = 0, 0, False
    return Health(
        status="ok" if loaded else "no_index",
        model_loaded=True,
        model=pipeline.embedder.model_id,
        index=pipeline.index_name,
        index_loaded=loaded,
        documents=documents,
        chunks=chunks,
        answer_mode=pipeline.settings.answer_mode.value,
        version=__version__,
    )
