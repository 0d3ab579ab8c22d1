"""Hybrid retrieval: a thin adapter that asks the store for dense and BM25 rankings and fuses them (rag.fusion)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.embedding import Embedder
from rag.fusion import Fusion, normalized
from rag.settings import FusionMethod
from rag.stores.protocol import Ranking, Store
from rag.text import tokenize
from rag.types import Passage

__all__ = ["HybridRetriever", "Ranking", "Retrieval", "normalized"]


@dataclass(frozen=True)
class Retrieval:
    """Fused passages, best first, and the query vector (reused by the answer component)."""

    passages: list[Passage]
    query_vector: np.ndarray


class HybridRetriever:
    """Ranks an index's chunks for a query by fusing dense and BM25 rankings."""

    def __init__(
        self,
        embedder: Embedder,
        *,
        candidates: int = 100,
        rrf_k: int = 60,
        dense_weight: float = 1.0,
        bm25_weight: float = 1.0,
        fusion: FusionMethod | str = FusionMethod.convex,
    ) -> None:
        self.embedder = embedder
        self.fusion = Fusion(FusionMethod(fusion), dense_weight, bm25_weight, rrf_k, candidates)
        self.candidates = candidates

    def dense(self, data: Store, query_vector: np.ndarray, n: int) -> Ranking:
        """(row, cosine) of the `n` nearest chunks."""
        return data.dense_search(query_vector, min(n, data.chunk_count)) if data.chunk_count else []

    def sparse(self, data: Store, query: str, n: int) -> Ranking:
        """(row, BM25 score) of the best `n` chunks with a positive score."""
        tokens = tokenize([query])[0]
        return data.keyword_search(tokens, min(n, data.chunk_count)) if tokens and data.chunk_count else []

    def fuse(self, dense: Ranking, sparse: Ranking, chunk_count: int) -> dict[int, float]:
        """Fused score of every chunk in either ranking (higher is better)."""
        return self.fusion.run(dense, sparse, chunk_count)

    def run(self, data: Store, query: str, top_k: int, query_vector: np.ndarray | None = None) -> Retrieval:
        """The `top_k` best passages for `query`."""
        if query_vector is None:
            query_vector = self.embedder.embed_query(query)
        fused, dense, sparse = data.hybrid_search(query_vector, tokenize([query])[0], self.fusion)
        dense_scores = dict(dense)
        bm25_scores = dict(sparse)
        best = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:top_k]
        passages = []
        for row, score in best:
            cosine = dense_scores.get(row)
            if cosine is None:  # outside the dense candidate list: compute it exactly, it is one dot product
                cosine = float(data.chunk_vector(row) @ query_vector)
            passages.append(
                Passage(
                    chunk=data.chunk(row),
                    score=score,
                    dense_score=cosine,
                    bm25_score=bm25_scores.get(row),
                    row=row,
                )
            )
        return Retrieval(passages=passages, query_vector=query_vector)
