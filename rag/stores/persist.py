"""Saving and loading the embedded store: immutable segment folders, a manifest per version, one CURRENT.

Layout of `index/<name>/`: `segments/s-*/` (written once, never changed), `versions/v-*.json` (the model,
chunking, roots and the list of segments with their dead documents) and `CURRENT`, naming the live version.
A save writes the segments that are not on disk yet, then the version file, then replaces `CURRENT` in one
`os.replace`: a crash at any point leaves the previous version intact and loadable. Segments and versions
that `CURRENT` no longer reaches (or that a crash left behind) are removed when no writer is at work.
An index in the earlier single-folder format (`v-*/manifest.json`) is read as one segment and written in
this format at its next save.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path

import faiss
import numpy as np

from rag.errors import IndexUnavailable
from rag.stores.embedded import DEFAULT_ANN_MIN_CHUNKS, EmbeddedStore
from rag.stores.keyword import TermMatrix
from rag.stores.locking import current_version, fsync_dir, set_current, write_durably, write_lock
from rag.stores.protocol import ChunkingConfig, DocumentRecord, passage_text
from rag.stores.segment import Segment, new_name, read_chunks, read_documents
from rag.text import tokenize

FORMAT_VERSION = 2
SEGMENTS = "segments"
VERSIONS = "versions"


def save(store: EmbeddedStore, path: Path) -> str:
    """Write `store` as the new current version of the index at `path`; returns the version name."""
    path.mkdir(parents=True, exist_ok=True)
    with write_lock(path):
        segments_dir, versions_dir = path / SEGMENTS, path / VERSIONS
        segments_dir.mkdir(exist_ok=True)
        versions_dir.mkdir(exist_ok=True)
        for segment in store.segments:
            final = segments_dir / segment.name
            # Known before writing: a background HNSW build that finishes later adds its file there.
            segment.folders.add(final)
            if segment.name in store.saved and (final / "segment.json").is_file():
                continue
            staging = segments_dir / f".tmp-{segment.name}"
            shutil.rmtree(staging, ignore_errors=True)
            try:
                segment.write(staging)
                fsync_dir(staging)
                shutil.rmtree(final, ignore_errors=True)
                staging.rename(final)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        fsync_dir(segments_dir)
        version = f"v-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
        write_durably(
            versions_dir / f"{version}.json", json.dumps(_manifest(store), indent=1, ensure_ascii=False)
        )
        set_current(path, version)
        store.saved.update(s.name for s in store.segments)
        _prune(path, version)
        return version


def _manifest(store: EmbeddedStore) -> dict:
    return {
        "format": FORMAT_VERSION,
        "model": store.model_id,
        "dimension": store.dimension,
        "chunking": store.chunking.__dict__,
        "roots": store.roots,
        "chunks": store.chunk_count,
        "documents": len(store.documents),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "segments": [{"name": s.name, "dead": sorted(store.dead[s.name])} for s in store.segments],
    }


def load(
    path: Path, *, reuse: EmbeddedStore | None = None, ann_min_chunks: int | None = None
) -> EmbeddedStore:
    """The current version at `path`; raises IndexUnavailable with the reason and the command that fixes it."""
    name = path.name
    remove_partial_versions(path)
    version = current_version(path)
    if version is None:
        raise IndexUnavailable(
            f"no index named {name!r} in {path.parent}/; build it with: rag index --index {name}"
        )
    ann = (
        ann_min_chunks
        if ann_min_chunks is not None
        else (reuse.ann_min_chunks if reuse else DEFAULT_ANN_MIN_CHUNKS)
    )
    try:
        if (path / version).is_dir():
            return _load_legacy(path / version, ann)
        manifest = json.loads((path / VERSIONS / f"{version}.json").read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT_VERSION:
            raise ValueError(f"format {manifest.get('format')} (expected {FORMAT_VERSION})")
        known = {s.name: s for s in reuse.segments} if reuse is not None else {}
        segments = []
        for entry in manifest["segments"]:
            segment = known.get(entry["name"]) or Segment.read(path / SEGMENTS / entry["name"])
            segment.folders.add(path / SEGMENTS / entry["name"])
            if segment.dimension != manifest["dimension"]:
                raise ValueError(f"segment {segment.name} has dimension {segment.dimension}")
            segments.append(segment)
        return EmbeddedStore(
            model_id=manifest["model"],
            dimension=manifest["dimension"],
            chunking=ChunkingConfig(**{"version": 0, **manifest["chunking"]}),
            roots=manifest.get("roots", []),
            segments=segments,
            dead={e["name"]: frozenset(e["dead"]) for e in manifest["segments"]},
            saved={s.name for s in segments},
            ann_min_chunks=ann,
        )
    except Exception as exc:  # noqa: BLE001 - whatever broke, the index is unusable: one clear line
        raise IndexUnavailable(
            f"index {name!r} is corrupt or unreadable ({exc.__class__.__name__}: {exc}); "
            f"rebuild it with: rag index --index {name} --rebuild"
        ) from None


def _load_legacy(folder: Path, ann_min_chunks: int) -> EmbeddedStore:
    """An index saved in the single-folder format 1, as one (unsaved) segment."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("format") != 1:
        raise ValueError(f"format {manifest.get('format')} (expected 1 or {FORMAT_VERSION})")
    documents = read_documents(folder / "documents.jsonl")[0]
    chunks = read_chunks(folder / "chunks.jsonl", documents)
    index = faiss.read_index(str(folder / "faiss.index"))
    dimension = int(manifest["dimension"])
    vectors = index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, dimension), np.float32)
    spans = np.load(folder / "sentence_spans.npy").astype(np.int64).reshape(-1, 2)
    sentence_doc = json.loads((folder / "sentence_doc.json").read_text(encoding="utf-8"))
    sent_file = folder / "sentence_vectors.npy"
    if len(chunks) != index.ntotal or len(spans) != len(sentence_doc):
        raise ValueError("row counts disagree between files")
    segment = Segment(
        name=new_name(),
        dimension=dimension,
        documents=documents,
        records={d: DocumentRecord(**r) for d, r in manifest["documents"].items()},
        chunks=chunks,
        vectors=np.ascontiguousarray(vectors, np.float32),
        sentence_spans=spans,
        sentence_doc=sentence_doc,
        sentence_vectors=np.load(sent_file) if sent_file.is_file() else None,
        terms=TermMatrix.from_tokens(tokenize([passage_text(c) for c in chunks])),
    )
    segment.ensure_ann(ann_min_chunks)
    return EmbeddedStore(
        model_id=manifest["model"],
        dimension=dimension,
        chunking=ChunkingConfig(**{"version": 0, **manifest["chunking"]}),
        roots=manifest.get("roots", []),
        segments=[segment] if chunks else [],
        ann_min_chunks=ann_min_chunks,
    )


def remove_partial_versions(path: Path) -> None:
    """Remove what a killed save leaves behind (staging folders, segments and versions CURRENT does not
    reach). Done only when no writer holds the lock, so a save in progress elsewhere is never touched."""
    if not path.is_dir():
        return
    with write_lock(path, blocking=False) as locked:
        if locked:
            _prune(path, current_version(path) or "")


def _prune(path: Path, keep: str) -> None:
    """Remove every version but `keep`, the segments it does not list, and staging leftovers."""
    referenced: set[str] | None = None
    kept = path / VERSIONS / f"{keep}.json"
    if kept.is_file():
        try:
            referenced = {e["name"] for e in json.loads(kept.read_text(encoding="utf-8"))["segments"]}
        except (ValueError, KeyError):
            referenced = None
    for child in path.iterdir():
        if child.is_dir() and child.name != keep and child.name.startswith(("v-", ".tmp-")):
            shutil.rmtree(child, ignore_errors=True)
    versions = path / VERSIONS
    if versions.is_dir():
        for child in versions.iterdir():
            if child.name != f"{keep}.json":
                child.unlink(missing_ok=True)
    segments = path / SEGMENTS
    if segments.is_dir():
        for child in segments.iterdir():
            stale = child.name.startswith(".tmp-") or (
                referenced is not None and child.name not in referenced
            )
            if stale or (referenced is None and (path / keep).is_dir()):
                shutil.rmtree(child, ignore_errors=True)
