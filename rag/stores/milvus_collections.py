"""The Milvus collections of one named index: connection, schema, batched reads and writes, deletes by write."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pymilvus import DataType, Function, FunctionType, MilvusClient

from rag.stores.keyword import K1, B

CHUNKS, SENTENCES, DOCUMENTS, BLOBS, META = "chunks", "sentences", "documents", "blobs", "meta"
KINDS = (CHUNKS, SENTENCES, DOCUMENTS, BLOBS, META)
VARCHAR_MAX = 65_535  # bytes, Milvus's limit for one VARCHAR value
PIECE_CHARS = 16_000  # document text and term counts are stored in pieces of at most this many characters
ID_MAX = 2_048
BATCH = 256  # rows per insert request
PAD = [0.0, 0.0]  # Milvus needs a vector field in every collection: the bookkeeping ones get this one

# Milvus Lite has no MVCC timestamp for iterators: its gRPC stub logs the unimplemented call and pymilvus warns
# before falling back to its own clock, on every scan. Neither is news to the user.
logging.getLogger("pymilvus.client.iterator.query_iterator").addFilter(
    lambda record: "mvccTs" not in record.getMessage()
)
logging.getLogger("grpc._server").addFilter(
    lambda record: not (record.exc_info and isinstance(record.exc_info[1], NotImplementedError))
)

_clients: dict[tuple[str, str], MilvusClient] = {}
_clients_lock = threading.Lock()
_loaded: set[tuple[int, str]] = set()  # (client, collection) pairs loaded by this process


def is_local(uri: str) -> bool:
    """True when `uri` is a Milvus Lite file (run in-process) rather than a server address."""
    return not re.match(r"^[a-z][a-z0-9+.-]*://", uri)


def connect(uri: str, token: str | None = None) -> MilvusClient:
    """One shared client per (uri, token) in this process (Milvus Lite opens a file once)."""
    key = (uri, token or "")
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            if is_local(uri):
                Path(uri).parent.mkdir(parents=True, exist_ok=True)
            client = MilvusClient(uri=uri, token=token or "")
            _clients[key] = client
        return client


def collection_prefix(index_name: str) -> str:
    """`rag_<name>` with characters Milvus refuses replaced (plus a hash of the name when any were)."""
    safe = re.sub(r"[^A-Za-z0-9_]", "_", index_name)
    if safe != index_name:
        safe += "_" + hashlib.sha1(index_name.encode()).hexdigest()[:6]
    return f"rag_{safe}"


def new_write_id() -> str:
    """A unique id tagging every row one write inserts."""
    return uuid.uuid4().hex[:16]


def quoted(values: Iterable[str]) -> str:
    """A Milvus filter list literal of strings."""
    return json.dumps(list(values), ensure_ascii=False)


def clip(text: str, limit: int = VARCHAR_MAX - 64) -> str:
    """`text` cut (at a space when possible) to fit `limit` UTF-8 bytes."""
    data = text.encode()
    if len(data) <= limit:
        return text
    cut = data[:limit].decode(errors="ignore")
    return cut[: cut.rfind(" ")] if " " in cut else cut


@dataclass(frozen=True)
class Collections:
    """The five collections of one index: chunks, sentences, documents, blobs (long text pieces), meta."""

    client: MilvusClient
    prefix: str

    def name(self, kind: str) -> str:
        """Collection name of one kind."""
        return f"{self.prefix}_{kind}"

    def exists(self) -> bool:
        """True when every collection exists."""
        return all(self.client.has_collection(self.name(k)) for k in KINDS)

    def load(self) -> None:
        """Load every collection into memory (a reopened Milvus Lite file or a restarted server has them
        released); done once per process and collection."""
        for kind in KINDS:
            key = (id(self.client), self.name(kind))
            if key not in _loaded:
                self.client.load_collection(self.name(kind))
                _loaded.add(key)

    def drop(self) -> None:
        """Drop every collection of the index."""
        for kind in KINDS:
            if self.client.has_collection(self.name(kind)):
                self.client.drop_collection(self.name(kind))
            _loaded.discard((id(self.client), self.name(kind)))

    def create(self, dimension: int, exact: bool) -> None:
        """(Re)create every collection empty; dense vectors get a FLAT index when `exact`, else AUTOINDEX."""
        self.drop()
        c = self.client
        s = c.create_schema(auto_id=False)
        s.add_field("row", DataType.INT64, is_primary=True)
        s.add_field("doc_id", DataType.VARCHAR, max_length=ID_MAX)
        s.add_field("write", DataType.VARCHAR, max_length=32)
        s.add_field("start", DataType.INT64)
        s.add_field("end", DataType.INT64)
        s.add_field("sentences", DataType.JSON)
        s.add_field("text", DataType.VARCHAR, max_length=VARCHAR_MAX)
        # Our own analysis (rag.text.tokenize: folded, stop words out, Snowball-stemmed) joined by spaces;
        # Milvus's standard tokenizer splits it back, so its BM25 sees exactly our terms.
        s.add_field(
            "terms",
            DataType.VARCHAR,
            max_length=VARCHAR_MAX,
            enable_analyzer=True,
            analyzer_params={"tokenizer": "standard"},
        )
        s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        s.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        s.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["terms"],
                output_field_names=["sparse"],
            )
        )
        index = c.prepare_index_params()
        index.add_index("vector", index_type="FLAT" if exact else "AUTOINDEX", metric_type="IP")
        index.add_index(
            "sparse",
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            params={"bm25_k1": K1, "bm25_b": B},
        )
        index.add_index("doc_id", index_type="INVERTED")
        c.create_collection(self.name(CHUNKS), schema=s, index_params=index)
        s = c.create_schema(auto_id=False)
        s.add_field("key", DataType.VARCHAR, is_primary=True, max_length=ID_MAX + 64)
        s.add_field("doc_id", DataType.VARCHAR, max_length=ID_MAX)
        s.add_field("write", DataType.VARCHAR, max_length=32)
        s.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        index = c.prepare_index_params()
        index.add_index("vector", index_type="FLAT" if exact else "AUTOINDEX", metric_type="IP")
        c.create_collection(self.name(SENTENCES), schema=s, index_params=index)
        for kind, fields in (
            (
                DOCUMENTS,
                [("doc_id", DataType.VARCHAR), ("write", DataType.VARCHAR), ("record", DataType.JSON)],
            ),
            (BLOBS, [("key", DataType.VARCHAR), ("doc_id", DataType.VARCHAR), ("write", DataType.VARCHAR)]),
            (META, [("key", DataType.VARCHAR), ("value", DataType.JSON)]),
        ):
            s = c.create_schema(auto_id=False)
            for i, (field, dtype) in enumerate(fields):
                extra = {"max_length": ID_MAX + 64} if dtype is DataType.VARCHAR else {}
                s.add_field(field, dtype, is_primary=i == 0, **extra)
            if kind == BLOBS:
                s.add_field("kind", DataType.VARCHAR, max_length=8)
                s.add_field("part", DataType.INT64)
                s.add_field("data", DataType.VARCHAR, max_length=VARCHAR_MAX)
            s.add_field("pad", DataType.FLOAT_VECTOR, dim=len(PAD))
            index = c.prepare_index_params()
            index.add_index("pad", index_type="FLAT", metric_type="L2")
            c.create_collection(self.name(kind), schema=s, index_params=index)

    # ---- reads ---------------------------------------------------------------------------------------
    def meta(self, key: str) -> dict | None:
        """A bookkeeping record of the meta collection, or None."""
        rows = self.client.get(self.name(META), ids=[key], output_fields=["value"])
        return dict(rows[0]["value"]) if rows else None

    def scan(self, kind: str, expr: str, fields: list[str]) -> list[dict]:
        """Every row of a collection matching `expr` (batched)."""
        out: list[dict] = []
        iterator = self.client.query_iterator(
            self.name(kind), batch_size=1000, filter=expr, output_fields=fields
        )
        try:
            while batch := iterator.next():
                out.extend(batch)
        finally:
            iterator.close()
        return out

    def blobs(self, doc_ids: Sequence[str] | None, writes: dict[str, str], kind: str) -> dict[str, str]:
        """The reassembled `kind` blob ("text" or "terms") of each document's live write (None: all)."""
        if doc_ids is not None and not doc_ids:
            return {}
        expr = f"kind == {json.dumps(kind)}"
        if doc_ids is not None:
            expr += f" and doc_id in {quoted(doc_ids)}"
        rows = self.scan(BLOBS, expr, ["doc_id", "write", "part", "data"])
        parts: dict[str, list[tuple[int, str]]] = {}
        for r in rows:
            if writes.get(r["doc_id"]) == r["write"]:
                parts.setdefault(r["doc_id"], []).append((r["part"], r["data"]))
        return {d: "".join(text for _, text in sorted(p)) for d, p in parts.items()}

    # ---- writes --------------------------------------------------------------------------------------
    def set_meta(self, key: str, value: dict) -> None:
        """Write a bookkeeping record."""
        self.client.upsert(self.name(META), [{"key": key, "value": value, "pad": PAD}])

    def insert(self, kind: str, rows: list[dict], *, upsert: bool = False) -> None:
        """Insert (or upsert) `rows` in batches."""
        call = self.client.upsert if upsert else self.client.insert
        for start in range(0, len(rows), BATCH):
            call(self.name(kind), rows[start : start + BATCH])

    def sweep(self, keep: dict[str, str | None]) -> None:
        """Delete every chunk, sentence and blob of these documents but those of the write each keeps
        (None: all of them), and the document rows of those mapped to None."""
        gone = [d for d, w in keep.items() if w is None]
        by_write: dict[str, list[str]] = {}
        for d, w in keep.items():
            if w is not None:
                by_write.setdefault(w, []).append(d)
        for kind in (CHUNKS, SENTENCES, BLOBS):
            for start in range(0, len(gone), BATCH):
                self.client.delete(self.name(kind), filter=f"doc_id in {quoted(gone[start : start + BATCH])}")
            for write, ids in by_write.items():
                for start in range(0, len(ids), BATCH):
                    part = quoted(ids[start : start + BATCH])
                    self.client.delete(
                        self.name(kind), filter=f"doc_id in {part} and write != {json.dumps(write)}"
                    )
        if gone:
            for start in range(0, len(gone), BATCH):
                self.client.delete(self.name(DOCUMENTS), ids=gone[start : start + BATCH])


def sentence_key(doc_id: str, start: int, end: int, write: str) -> str:
    """Primary key of a stored sentence vector."""
    return f"{write}:{start}:{end}:{doc_id}"
