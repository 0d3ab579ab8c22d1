"""Progress of `Pipeline.index`: files read and texts embedded, told to an IndexProgress (the CLI's bars)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

EmbedFn = Callable[[list[str], bool], np.ndarray]


class IndexProgress(Protocol):
    """Receives the steps of an indexing run as they happen."""

    def reading(self, files: int) -> None:
        """`files` files are about to be read."""
        ...

    def read(self, documents: int, failures: int) -> None:
        """Reading is done: `documents` were read, `failures` could not be."""
        ...

    def embedding(self, kind: str, done: int, total: int) -> None:
        """`done` of `total` texts of `kind` ("chunks", then "sentences") are embedded (first with 0)."""
        ...


def reporting_embed(embed: EmbedFn, progress: IndexProgress, batch: int = 64) -> EmbedFn:
    """`embed` run `batch` texts at a time, telling `progress` after each batch.

    `rag.ingest.prepare` embeds the new chunks first, then their sentences, so successive calls are labelled
    "chunks" and "sentences" (any further call: "texts").
    """
    kinds = iter(("chunks", "sentences"))

    def run(texts: list[str], _show: bool = False) -> np.ndarray:
        kind = next(kinds, "texts")
        progress.embedding(kind, 0, len(texts))
        parts = []
        for start in range(0, len(texts), batch):
            parts.append(embed(texts[start : start + batch], False))
            progress.embedding(kind, min(start + batch, len(texts)), len(texts))
        return np.concatenate(parts) if parts else embed([], False)

    return run
