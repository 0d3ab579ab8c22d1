"""Index backends behind one `Store` protocol: the embedded one (default) and Milvus; `open_store` picks one."""

from __future__ import annotations

from pathlib import Path

from rag.settings import Settings, StoreBackend
from rag.stores.embedded import EmbeddedStore
from rag.stores.locking import current_version, write_lock
from rag.stores.protocol import (
    ChunkingConfig,
    DocumentRecord,
    PreparedDocument,
    Store,
    UpdateStats,
    content_hash,
    passage_text,
)

__all__ = [
    "ChunkingConfig",
    "DocumentRecord",
    "EmbeddedStore",
    "PreparedDocument",
    "Store",
    "UpdateStats",
    "content_hash",
    "current_version",
    "empty_store",
    "load_store",
    "passage_text",
    "write_lock",
]


def empty_store(settings: Settings, model_id: str, dimension: int, chunking: ChunkingConfig) -> Store:
    """A new, empty index of the configured backend."""
    if settings.store is StoreBackend.milvus:
        raise NotImplementedError("the Milvus backend is not available yet")
    return EmbeddedStore.empty(model_id, dimension, chunking, ann_min_chunks=settings.ann_min_chunks)


def load_store(settings: Settings, path: Path, reuse: Store | None = None) -> Store:
    """The current version of the index at `path` (parts already in `reuse` are not read again)."""
    if settings.store is StoreBackend.milvus:
        raise NotImplementedError("the Milvus backend is not available yet")
    return EmbeddedStore.load(
        path,
        reuse=reuse if isinstance(reuse, EmbeddedStore) else None,
        ann_min_chunks=settings.ann_min_chunks,
    )
