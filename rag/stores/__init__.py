"""Index backends behind one `Store` protocol: the embedded one (default) and Milvus; `open_store` picks one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import IndexUnavailable
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

if TYPE_CHECKING:  # pymilvus takes a second to import: only the Milvus backend loads it
    from rag.stores.milvus import MilvusStore
    from rag.stores.milvus_collections import Collections

__all__ = [
    "ChunkingConfig",
    "DocumentRecord",
    "EmbeddedStore",
    "MilvusStore",
    "PreparedDocument",
    "Store",
    "UpdateStats",
    "content_hash",
    "current_version",
    "empty_store",
    "load_store",
    "open_milvus",
    "passage_text",
    "write_lock",
]


def open_milvus(settings: Settings, index_name: str) -> tuple[Collections, bool]:
    """The Milvus collections of a named index and whether searches are exact (Milvus Lite: FLAT index)."""
    from rag.stores.milvus_collections import Collections, collection_prefix, connect, is_local

    uri = settings.milvus_uri or str(settings.index_dir / "milvus.db")
    token = settings.milvus_token.get_secret_value() if settings.milvus_token else None
    try:
        client = connect(uri, token)
    except Exception as exc:  # noqa: BLE001 - whatever the client raises, the index is out of reach
        raise IndexUnavailable(f"cannot reach Milvus at {uri} ({exc.__class__.__name__}: {exc})") from None
    return Collections(client, collection_prefix(index_name)), is_local(uri)


def empty_store(settings: Settings, model_id: str, dimension: int, chunking: ChunkingConfig) -> Store:
    """A new, empty index of the configured backend."""
    if settings.store is StoreBackend.milvus:
        from rag.stores.milvus import MilvusStore

        cols, exact = open_milvus(settings, settings.index_name)
        return MilvusStore.empty(cols, settings.index_name, model_id, dimension, chunking, exact)
    return EmbeddedStore.empty(model_id, dimension, chunking, ann_min_chunks=settings.ann_min_chunks)


def load_store(settings: Settings, path: Path, reuse: Store | None = None) -> Store:
    """The current version of the index at `path` (parts already in `reuse` are not read again)."""
    if settings.store is StoreBackend.milvus:
        from rag.stores.milvus import MilvusStore

        cols, exact = open_milvus(settings, path.name)
        return MilvusStore.open(cols, path.name, exact)
    return EmbeddedStore.load(
        path,
        reuse=reuse if isinstance(reuse, EmbeddedStore) else None,
        ann_min_chunks=settings.ann_min_chunks,
    )


def __getattr__(name: str) -> object:
    if name == "MilvusStore":
        from rag.stores.milvus import MilvusStore

        return MilvusStore
    raise AttributeError(name)
