"""Hybrid retrieval: dense (FAISS inner product) and BM25 rankings fused by weighted reciprocal rank."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.embedding import Embedder
from rag.store import IndexData, tokenize
from rag.types import Passage


@dataclass(frozen=True)
class Retrieval:
    """Fused passages, best first, and the query vector (reused by the answer component)."""

    passages: list[Passage]
    query_vector: np.ndarray


class HybridRetriever:
    """Ranks an index's chunks for a query by fusing dense and BM25 rankings (reciprocal-rank fusion)."""

    def __init__(self, embedder: Embedder, *, candidates: int = 100, rrf_k: int = 60, dense_weight: float = 1.0,
                 bm25_weight: float = 1.0) -> None:
        if candidates < 1 or rrf_k < 1:
            raise ValueError("candidates and rrf_k must be positive")
        if dense_weight < 0 or bm25_weight < 0 or dense_weight + bm25_weight == 0:
            raise ValueError("weights must be non-negative and not both zero")
        self.embedder = embedder
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.dense_weight = dense_weight
        self.bm25_weight = bm25_weight

    def dense(self, data: IndexData, query_vector: np.ndarray, n: int) -> list[tuple[int, float]]:
        """(row, cosine) of the `n` nearest chunks."""
        n = min(n, data.chunk_count)
        if n == 0:
            return []
        scores, rows = data.faiss.search(query_vector.reshape(1, -1), n)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]

    def sparse(self, data: IndexData, query: str, n: int) -> list[tuple[int, float]]:
        """(row, BM25 score) of the best `n` chunks with a positive score."""
        n = min(n, data.chunk_count)
        tokens = tokenize([query])
        if n == 0 or data.bm25 is None or not tokens[0]:
            return []
        rows, scores = data.bm25.retrieve(tokens, k=n, show_progress=False, n_threads=1)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if s > 0]

    def run(self, data: IndexData, query: str, top_k: int, query_vector: np.ndarray | None = None) -> Retrieval:
        """The `top_k` best passages for `query`."""
        if query_vector is None:
            query_vector = self.embedder.embed_query(query)
        dense = self.dense(data, query_vector, self.candidates) if self.dense_weight > 0 else []
        sparse = self.sparse(data, query, self.candidates) if self.bm25_weight > 0 else []
        fused: dict[int, float] = {}
        for weight, ranking in ((self.dense_weight, dense), (self.bm25_weight, sparse)):
            for rank, (row, _) in enumerate(ranking):
                fused[row] = fused.get(row, 0.0) + weight / (self.rrf_k + rank + 1)
        dense_scores = dict(dense)
        bm25_scores = dict(sparse)
        best = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:top_k]
        passages = []
        for row, score in best:
            cosine = dense_scores.get(row)
            if cosine is None:  # outside the dense candidate list: compute it exactly, it is one dot product
                cosine = float(data.chunk_vectors[row] @ query_vector)
            passages.append(Passage(chunk=data.chunks[row], score=score, dense_score=cosine,
                                    bm25_score=bm25_scores.get(row), row=row))
        return Retrieval(passages=passages, query_vector=query_vector)
