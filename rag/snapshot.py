"""The index snapshot a Pipeline serves: loaded, kept in step with commits made elsewhere, and committed to."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from rag.embedding import Embedder
from rag.errors import IndexUnavailable
from rag.ingest import plan, prepare, record_for
from rag.progress import EmbedFn, IndexProgress, reporting_embed
from rag.settings import Settings
from rag.stores import (
    ChunkingConfig,
    PreparedDocument,
    Store,
    UpdateStats,
    current_version,
    empty_store,
    load_store,
    write_lock,
)
from rag.types import Document

log = logging.getLogger(__name__)


class SnapshotHolder:
    """Holds the current snapshot of one index.

    Readers take the snapshot reference once per call; writers build a new snapshot, save it atomically, then
    swap the reference, so a concurrent reader never sees a half-updated index. Writers in every process
    serialise on the index's lock file and build on the newest committed version; readers pick up commits
    made elsewhere (another process, another Pipeline) within `index_refresh_seconds`.
    """

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.settings = settings
        self.embedder = embedder
        self._data: Store | None = None
        self._version: str | None = None  # the version `_data` was loaded from or saved as
        self._checked = 0.0  # time.monotonic() of the last look at CURRENT (`refresh`)
        self._follow_disk = True  # False for `derived` holders, which live in memory only
        self._write_lock = threading.Lock()
        self.reload()

    @property
    def index_name(self) -> str:
        """Name of the index held."""
        return self.settings.index_name

    @property
    def path(self) -> Path:
        """Folder of the index held."""
        return self.settings.index_path

    @property
    def chunking(self) -> ChunkingConfig:
        """Chunking configured in the settings."""
        return ChunkingConfig(self.settings.chunk_size, self.settings.chunk_overlap)

    @property
    def snapshot(self) -> Store | None:
        """The snapshot held now (unchecked, possibly None), without looking at the disk."""
        return self._data

    def reload(self) -> None:
        """(Re)load the index from disk if one exists; a missing index leaves the pipeline empty."""
        version = current_version(self.path)
        self._data = load_store(self.settings, self.path, self._data) if version is not None else None
        self._version = version
        self._checked = time.monotonic()

    def refresh(self, *, force: bool = False) -> None:
        """Load the newest committed version when another process (or Pipeline) has committed since this one
        loaded; looks at CURRENT at most every `index_refresh_seconds` unless `force`. Skipped while this
        pipeline is writing (its commit brings the newest version). A newer version that cannot be read is
        logged and the snapshot held now is kept."""
        if not self._follow_disk:
            return
        if not force and time.monotonic() - self._checked < self.settings.index_refresh_seconds:
            return
        if not self._write_lock.acquire(blocking=False):
            return
        try:
            for _ in range(3):
                version = current_version(self.path)
                self._checked = time.monotonic()
                if version == self._version:
                    return
                try:
                    self.reload()
                    return
                except IndexUnavailable as exc:
                    if current_version(self.path) != version:
                        continue  # replaced (and its folder pruned) while being read: read the newer one
                    log.warning("index %r changed on disk but cannot be read: %s", self.index_name, exc)
                    self._version = version
                    return
        finally:
            self._write_lock.release()

    def _compatible(self, data: Store) -> bool:
        return data.model_id == self.embedder.model_id and data.dimension == self.embedder.dimension

    def current(self) -> Store:
        """The current snapshot, checked to match the loaded model; raises IndexUnavailable otherwise."""
        self.refresh()
        data = self._data
        if data is None:
            raise IndexUnavailable(
                f"no index named {self.index_name!r} in {self.settings.index_dir}/; "
                f"build it with: rag index --index {self.index_name} PATHS"
            )
        if not self._compatible(data):
            raise IndexUnavailable(
                f"index {self.index_name!r} was built with model {data.model_id!r} (dimension {data.dimension}) "
                f"but the configured model is {self.embedder.model_id!r} (dimension {self.embedder.dimension}); "
                f"rebuild it with: rag index --index {self.index_name} --rebuild"
            )
        return data

    @property
    def loaded(self) -> bool:
        """True when an index is loaded and matches the model."""
        return self._data is not None and self._compatible(self._data)

    def _base(self, rebuild: bool) -> tuple[Store, bool]:
        data = self._data
        if (
            data is not None
            and not rebuild
            and (not self._compatible(data) or data.chunking != self.chunking)
        ):
            log.warning(
                "index %r was built with other model or chunking settings: rebuilding it", self.index_name
            )
            rebuild = True
        if data is None or rebuild:
            store = empty_store(self.settings, self.embedder.model_id, self.embedder.dimension, self.chunking)
            return store, rebuild
        return data, False

    def commit(
        self,
        upsert: list[Document],
        remove: list[str],
        *,
        rebuild: bool = False,
        roots: list[str] | None = None,
        progress: bool | IndexProgress = False,
        embed_sentences: bool = True,
    ) -> tuple[UpdateStats, bool]:
        embed = self.embedder.embed
        if not isinstance(progress, bool):  # an IndexProgress: embed in batches and tell it after each
            embed, progress = reporting_embed(embed, progress, max(64, self.embedder.bulk_size)), False
        # Serialise with writers in this process (thread lock) and in others (lock file), and build on the
        # newest committed version: another process may have committed since this one loaded.
        with self._write_lock, write_lock(self.path):
            if self._follow_disk and current_version(self.path) != self._version:
                try:
                    self.reload()
                except IndexUnavailable:
                    if not rebuild:
                        raise
                    self._data, self._version = None, current_version(self.path)
            base, rebuilt = self._base(rebuild)
            new, stats, relabelled = _updated(base, upsert, remove, embed, roots, progress, embed_sentences)
            if stats.modified or relabelled or rebuilt or self._data is None or new.roots != base.roots:
                self._version = new.save(self.path)
                self._data = new
            self._checked = time.monotonic()
            return stats, rebuilt

    def derived(self, upsert: Sequence[Document], remove: Sequence[str]) -> SnapshotHolder:
        """A holder of this snapshot with `upsert` added and `remove` dropped, in memory only (never saved)."""
        new = _updated(self.current(), upsert, remove, self.embedder.embed, None, False, True)[0]
        clone = SnapshotHolder.__new__(SnapshotHolder)
        clone.__dict__.update(self.__dict__)
        clone._data, clone._follow_disk, clone._write_lock = new, False, threading.Lock()
        return clone


def _updated(
    base: Store,
    upsert: Sequence[Document],
    remove: Sequence[str],
    embed: EmbedFn,
    roots: list[str] | None,
    progress: bool,
    embed_sentences: bool,
) -> tuple[Store, UpdateStats, bool]:
    """`base` with `upsert` and `remove` applied, embedding only new text: the new snapshot, what changed,
    and whether records changed without new text (a new source or metadata)."""
    todo = plan(base.records, upsert, remove)
    fresh = prepare(todo.fresh, base.chunking, embed, embed_sentences=embed_sentences, progress=progress)
    todo.stats.embedded_chunks = sum(len(p.chunks) for p in fresh)
    todo.stats.embedded_sentences = sum(len(p.sentence_spans) for p in fresh) if embed_sentences else 0
    moved = [_relabelled(base.export(doc.doc_id), doc) for doc in todo.relabelled]
    new = base.update(upsert=[*fresh, *moved], remove=todo.remove, roots=roots)
    return new, todo.stats, bool(moved)


def _relabelled(stored: PreparedDocument, doc: Document) -> PreparedDocument:
    """A stored document with the new source and metadata of `doc` (same text: its vectors are kept)."""
    return PreparedDocument(
        document=doc,
        record=record_for(doc, len(stored.chunks)),
        chunks=stored.chunks,
        chunk_vectors=stored.chunk_vectors,
        sentence_spans=stored.sentence_spans,
        sentence_vectors=stored.sentence_vectors,
    )
