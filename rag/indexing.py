"""Indexing files: read them, then commit the documents in batches to the index held by a SnapshotHolder."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rag.documents import iter_files, load_paths
from rag.errors import InvalidInput
from rag.parsing import ParseLimits
from rag.progress import IndexProgress
from rag.snapshot import SnapshotHolder
from rag.stores import UpdateStats


@dataclass
class IndexReport:
    """Outcome of indexing paths: what changed, and the files that could not be read."""

    stats: UpdateStats
    failures: list[tuple[str, str]] = field(default_factory=list)
    documents: int = 0
    chunks: int = 0
    seconds: float = 0.0
    rebuilt: bool = False


class _Cumulative:
    """An IndexProgress for a run committed in batches: embedding counts add up over the batches."""

    def __init__(self, inner: IndexProgress) -> None:
        self.inner = inner
        self.before: dict[str, int] = {}

    def reading(self, files: int) -> None:
        self.inner.reading(files)

    def read(self, documents: int, failures: int) -> None:
        self.inner.read(documents, failures)

    def embedding(self, kind: str, done: int, total: int) -> None:
        before = self.before.get(kind, 0)
        self.inner.embedding(kind, before + done, before + total)
        if done >= total:
            self.before[kind] = before + total


def index_paths(
    holder: SnapshotHolder,
    paths: Sequence[Path] = (),
    *,
    rebuild: bool = False,
    progress: bool | IndexProgress = False,
    embed_sentences: bool = True,
) -> IndexReport:
    """Sync the index with the files under `paths` (default: the paths it was built from, or the corpus).

    New and changed files are embedded; files gone from those paths are removed; unchanged ones cost nothing.
    Unreadable files are reported in the result and skipped. `progress`: True shows the embedding model's
    progress bars; an IndexProgress is told the files read and the texts embedded as it goes.
    The documents are committed `index_batch_size` at a time, so a run that is killed keeps what it
    committed and a rerun embeds only the rest; a `rebuild` of an existing index commits once, at the end
    (the old index serves until then).
    """
    started = time.perf_counter()
    holder.refresh(force=True)
    roots = [Path(p) for p in paths]
    if not roots:
        previous = holder.snapshot.roots if holder.snapshot is not None else []
        roots = [Path(r) for r in previous] or [holder.settings.corpus_dir]
    missing = [str(r) for r in roots if not r.exists()]
    if missing:
        raise InvalidInput(f"no such file or folder: {', '.join(missing)}")
    reporter = None if isinstance(progress, bool) else progress
    if reporter is not None:
        reporter.reading(len(iter_files(roots)))
    loaded = load_paths(roots, ParseLimits.from_settings(holder.settings))
    if reporter is not None:
        reporter.read(len(loaded.documents), len(loaded.failures))
    if not loaded.documents:
        detail = f" ({len(loaded.failures)} unreadable)" if loaded.failures else ""
        raise InvalidInput(
            f"no readable documents under {', '.join(map(str, roots))}{detail}; index left as it was"
        )
    resolved = [str(r.resolve()) for r in roots]
    current = holder.snapshot
    stale: list[str] = []
    if current is not None and not rebuild:
        found = {d.doc_id for d in loaded.documents}
        failed = {str(Path(f).resolve()) for f, _ in loaded.failures}
        for doc_id, record in current.records.items():
            under = any(record.source == r or record.source.startswith(r.rstrip("/") + "/") for r in resolved)
            if under and doc_id not in found and record.source not in failed:
                stale.append(doc_id)
    docs = loaded.documents
    size = len(docs) if rebuild and current is not None else holder.settings.index_batch_size
    batch_progress = progress if reporter is None else _Cumulative(reporter)
    stats, rebuilt = UpdateStats(), False
    for start in range(0, len(docs), size):
        batch, first = docs[start : start + size], start == 0
        done, rebuilt_now = holder.commit(
            batch,
            stale if first else [],
            rebuild=rebuild and first,
            roots=resolved,
            progress=batch_progress,
            embed_sentences=embed_sentences,
        )
        rebuilt = rebuilt or rebuilt_now
        for name in ("added", "changed", "removed", "unchanged"):
            getattr(stats, name).extend(getattr(done, name))
        stats.embedded_chunks += done.embedded_chunks
        stats.embedded_sentences += done.embedded_sentences
    data = holder.current()
    return IndexReport(
        stats=stats,
        failures=loaded.failures,
        documents=len(data.documents),
        chunks=data.chunk_count,
        seconds=time.perf_counter() - started,
        rebuilt=rebuilt,
    )
