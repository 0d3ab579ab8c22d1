"""The Milvus Lite mode of bench/scale.py: the synthetic store written to a Milvus Lite file, read back."""

from __future__ import annotations

import time
from pathlib import Path

from bench.scale_data import MODEL_ID, synthetic_segment
from rag.stores.milvus import MilvusStore
from rag.stores.milvus_collections import BATCH, Collections, collection_prefix, connect
from rag.stores.protocol import ChunkingConfig

NAME = "scale"


def collections(folder: Path) -> Collections:
    """The benchmark index's collections in `folder/milvus.db` (Milvus Lite)."""
    return Collections(connect(str(folder / "milvus.db")), collection_prefix(NAME))


def build(size: int, inputs: dict, folder: Path) -> dict:
    """Write a synthetic store of `size` chunks into Milvus Lite, `BATCH` documents per write (as `rag
    migrate` does); returns the synthetic data's build time and the write time."""
    started = time.perf_counter()
    segment = synthetic_segment(size, inputs, 0)
    data_s = time.perf_counter() - started
    store = MilvusStore.empty(
        collections(folder), NAME, MODEL_ID, inputs["dimension"], ChunkingConfig(600, 1), True
    )
    ids = list(segment.documents)
    started = time.perf_counter()
    for lo in range(0, len(ids), BATCH):
        store = store.update(upsert=[segment.export(d) for d in ids[lo : lo + BATCH]], remove=[])
        store.save(folder)
    return {"data_s": data_s, "ann_s": 0.0, "save_s": time.perf_counter() - started}


def load(folder: Path) -> MilvusStore:
    """The committed benchmark index (Milvus Lite, exact FLAT search)."""
    return MilvusStore.open(collections(folder), NAME, True)
