"""Writing a pending MilvusStore to Milvus: new rows first, then the document rows, then the old rows.

The guarantee: a document is never half visible. Its new chunks, sentences and text are inserted under a new
write id; upserting its document row (which names the live write id) is the switch; the replaced rows are
deleted last. Reads drop rows whose write id is not the live one. A write that fails before the switch deletes
what it inserted; one cut short after it (a crash, a lost connection) is finished by the next write, which
finds the unfinished one in the meta collection ("pending") and deletes the rows no document row names.
Writers are serialised by the index folder's lock file (see rag.stores.locking), so processes that write to
one Milvus index must share that folder.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pymilvus import MilvusException

from rag.errors import IndexUnavailable
from rag.stores.locking import set_current, write_lock
from rag.stores.milvus_collections import (
    BLOBS,
    CHUNKS,
    DOCUMENTS,
    META,
    PAD,
    PIECE_CHARS,
    SENTENCES,
    VARCHAR_MAX,
    Collections,
    clip,
    new_write_id,
    quoted,
    sentence_key,
)
from rag.stores.protocol import PreparedDocument, passage_text
from rag.text import tokenize

if TYPE_CHECKING:
    from rag.stores.milvus import MilvusStore


def index_meta(store: MilvusStore, sentences: bool, **extra: object) -> dict:
    """The index's bookkeeping record: model, dimension, chunking, roots, sentence vectors, next row."""
    return {
        "model": store.model_id,
        "dimension": store.dimension,
        "chunking": store.chunking.__dict__,
        "roots": store.roots,
        "sentences": sentences,
        "next_row": store.next_row,
        **extra,
    }


def recover(cols: Collections) -> None:
    """Finish a write that was cut short: delete the rows of its documents that no document row names."""
    pending = cols.meta("pending")
    if pending is None:
        return
    ids = list(pending["documents"])
    live = {}
    for start in range(0, len(ids), 1000):
        expr = f"doc_id in {quoted(ids[start : start + 1000])}"
        live |= {r["doc_id"]: r["write"] for r in cols.scan(DOCUMENTS, expr, ["doc_id", "write"])}
    cols.sweep({d: live.get(d) for d in ids})
    meta = cols.meta("index")
    if meta is not None and int(meta.get("next_row", 0)) < int(pending["next_row"]):
        cols.set_meta("index", meta | {"next_row": int(pending["next_row"])})
    cols.client.delete(cols.name(META), ids=["pending"])


def apply(store: MilvusStore) -> None:
    """Write the pending changes of `store` to Milvus and make it a committed store."""
    assert store.changes is not None
    cols = store.cols
    upsert, remove = store.changes
    base = store.base
    if base is None:  # a new (or rebuilt) index: start from empty collections
        cols.create(store.dimension, store.exact)
        records, writes, df, sentences, next_row = {}, {}, Counter(), True, 0
        store.next_row = 0
        cols.set_meta("index", index_meta(store, True))
    else:
        cols.load()
        recover(cols)
        records, writes, df = dict(base.records), dict(base.writes), Counter(base.document_frequencies())
        sentences = base.has_sentence_vectors
        next_row = max(base.next_row, int((cols.meta("index") or {}).get("next_row", 0)))
    upserted = [p.document.doc_id for p in upsert]
    drop = [d for d in remove if d in records and d not in set(upserted)]
    for terms in cols.blobs([*drop, *(d for d in upserted if d in records)], writes, "terms").values():
        df.subtract(Counter(json.loads(terms)))
    write = new_write_id()
    rows: dict[str, list[dict]] = {CHUNKS: [], SENTENCES: [], BLOBS: [], DOCUMENTS: []}
    row = next_row
    for p in upsert:
        parts, terms = document_rows(p, write, row)
        row += len(p.chunks)
        for kind, part in parts.items():
            rows[kind].extend(part)
        df.update(terms)
        sentences = sentences and p.sentence_vectors is not None
    cols.set_meta("pending", {"write": write, "documents": [*upserted, *drop], "next_row": row})
    try:
        for kind in (CHUNKS, SENTENCES, BLOBS):
            cols.insert(kind, rows[kind])
    except BaseException:
        with contextlib.suppress(Exception):  # when Milvus is gone this fails too: the next write recovers
            for kind in (CHUNKS, SENTENCES, BLOBS):
                cols.client.delete(cols.name(kind), filter=f'write == "{write}"')
            cols.client.delete(cols.name(META), ids=["pending"])
        raise
    cols.insert(DOCUMENTS, rows[DOCUMENTS], upsert=True)  # the switch: these documents now read the new rows
    cols.sweep({d: write for d in upserted} | {d: None for d in drop})
    for d in drop:
        records.pop(d, None)
        writes.pop(d, None)
    for p in upsert:
        records[p.document.doc_id] = p.record
        writes[p.document.doc_id] = write
    store.next_row = row
    store.commit(dict(sorted(records.items())), writes, {t: c for t, c in df.items() if c > 0}, sentences)
    cols.set_meta("index", index_meta(store, sentences))
    cols.client.delete(cols.name(META), ids=["pending"])


def mark_version(store: MilvusStore, version: str) -> None:
    """Record `version` as the index's current one in the meta collection."""
    store.cols.set_meta("index", index_meta(store, store.has_sentence_vectors, version=version))


def document_rows(
    p: PreparedDocument, write: str, first_row: int
) -> tuple[dict[str, list[dict]], Counter[str]]:
    """The rows of one prepared document for each collection, and its term document frequencies."""
    doc_id = p.document.doc_id
    tokens = tokenize([passage_text(c) for c in p.chunks]) if p.chunks else []
    terms: Counter[str] = Counter()
    chunks = []
    for i, (chunk, vector, words) in enumerate(zip(p.chunks, p.chunk_vectors, tokens)):
        terms.update(set(words))
        text = (
            chunk.text if len(chunk.text.encode()) <= VARCHAR_MAX - 64 else ""
        )  # "" = cut from the document
        chunks.append(
            {
                "row": first_row + i,
                "doc_id": doc_id,
                "write": write,
                "start": chunk.start,
                "end": chunk.end,
                "sentences": [list(s) for s in chunk.sentences],
                "text": text,
                "terms": clip(" ".join(words)),
                "vector": np.asarray(vector, np.float32).tolist(),
            }
        )
    sentences = []
    if p.sentence_vectors is not None:
        for (s, e), vector in zip(p.sentence_spans.tolist(), p.sentence_vectors):
            key = sentence_key(doc_id, s, e, write)
            sentences.append({"key": key, "doc_id": doc_id, "write": write, "vector": vector.tolist()})
    blobs = []
    for kind, data in (("text", p.document.text), ("terms", json.dumps(terms, ensure_ascii=False))):
        pieces = [data[i : i + PIECE_CHARS] for i in range(0, len(data), PIECE_CHARS)] or [""]
        for part, piece in enumerate(pieces):
            blobs.append(
                {
                    "key": f"{write}:{kind}:{part}:{doc_id}",
                    "doc_id": doc_id,
                    "write": write,
                    "kind": kind,
                    "part": part,
                    "data": piece,
                    "pad": PAD,
                }
            )
    r = p.record
    record = {"title": r.title, "source": r.source, "sha256": r.sha256, "chunks": r.chunks, "chars": r.chars}
    document = {"doc_id": doc_id, "write": write, "record": record | {"metadata": r.metadata}, "pad": PAD}
    return {CHUNKS: chunks, SENTENCES: sentences, BLOBS: blobs, DOCUMENTS: [document]}, terms


def check_dimensions(store: MilvusStore, upsert: Sequence[PreparedDocument]) -> None:
    """Refuse documents whose vectors do not have the index's dimension (before anything is sent)."""
    for p in upsert:
        shapes = [p.chunk_vectors] + ([p.sentence_vectors] if p.sentence_vectors is not None else [])
        if any(a.ndim != 2 or (len(a) and a.shape[1] != store.dimension) for a in shapes):
            raise IndexUnavailable(
                f"index {store.name!r} holds {store.dimension}-dimensional vectors but document "
                f"{p.document.doc_id!r} comes with others; rebuild it with: rag index --index {store.name} --rebuild"
            )


def save(store: MilvusStore, path: Path) -> str:
    """Apply `store`'s pending update, then record a new version in Milvus and in `path/CURRENT` (which other
    processes watch to reload); returns the version."""
    with write_lock(path):
        try:
            if store.changes is not None:
                apply(store)
            version = f"milvus-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
            mark_version(store, version)
        except MilvusException as exc:
            raise IndexUnavailable(
                f"index {store.name!r}: Milvus refused the write ({exc.message})"
            ) from None
        set_current(path, version)
        return version
