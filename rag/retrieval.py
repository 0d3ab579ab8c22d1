"""Hybrid retrieval: dense (FAISS inner product) and BM25 chunk rankings, fused by normalised scores or by rank.

The default fusion is a convex combination of min-max normalised scores, which beat reciprocal-rank fusion on
the BEIR SciFact train split (see README, Evaluation). Each retriever contributes its `candidates` best chunks;
a chunk missing from one list scores at that list's floor there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.embedding import Embedder
from rag.settings import FusionMethod
from rag.store import IndexData, tokenize
from rag.types import Passage

Ranking = list[tuple[int, float]]  # (chunk row, score), best first


@dataclass(frozen=True)
class Retrieval:
    """Fused passages, best first, and the query vector (reused by the answer component)."""

    passages: list[Passage]
    query_vector: np.ndarray


def normalized(ranking: Ranking, floor: float | None = None) -> dict[int, float]:
    """Scores of `ranking` mapped to 0..1: the best is 1, `floor` (default: the last score) is 0.

    A ranking whose scores are all equal maps every entry to 1.
    """
    if not ranking:
        return {}
    top = ranking[0][1]
    low = ranking[-1][1] if floor is None else floor
    if top - low <= 1e-12:
        return {row: 1.0 for row, _ in ranking}
    return {row: max(0.0, (score - low) / (top - low)) for row, score in ranking}


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
        if candidates < 1 or rrf_k < 1:
            raise ValueError("candidates and rrf_k must be positive")
        if dense_weight < 0 or bm25_weight < 0 or dense_weight + bm25_weight == 0:
            raise ValueError("weights must be non-negative and not both zero")
        self.embedder = embedder
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.dense_weight = dense_weight
        self.bm25_weight = bm25_weight
        self.fusion = FusionMethod(fusion)

    def dense(self, data: IndexData, query_vector: np.ndarray, n: int) -> Ranking:
        """(row, cosine) of the `n` nearest chunks."""
        n = min(n, data.chunk_count)
        if n == 0:
            return []
        scores, rows = data.faiss.search(query_vector.reshape(1, -1), n)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]

    def sparse(self, data: IndexData, query: str, n: int) -> Ranking:
        """(row, BM25 score) of the best `n` chunks with a positive score."""
        n = min(n, data.chunk_count)
        tokens = tokenize([query])
        if n == 0 or data.bm25 is None or not tokens[0]:
            return []
        rows, scores = data.bm25.retrieve(tokens, k=n, show_progress=False, n_threads=1)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if s > 0]

    def fuse(self, dense: Ranking, sparse: Ranking, chunk_count: int) -> dict[int, float]:
        """Fused score of every chunk in either ranking (higher is better)."""
        if self.fusion is FusionMethod.rrf:
            fused: dict[int, float] = {}
            for weight, ranking in ((self.dense_weight, dense), (self.bm25_weight, sparse)):
                for rank, (row, _) in enumerate(ranking):
                    fused[row] = fused.get(row, 0.0) + weight / (self.rrf_k + rank + 1)
            return fused
        total = self.dense_weight + self.bm25_weight
        # A BM25 list shorter than asked for holds every matching chunk: the rest truly score 0, so 0 is the floor.
        full = len(sparse) >= min(self.candidates, chunk_count)
        parts = (
            (self.dense_weight / total, normalized(dense)),
            (self.bm25_weight / total, normalized(sparse, None if full else 0.0)),
        )
        fused = {}
        for weight, scores in parts:
            for row, score in scores.items():
                fused[row] = fused.get(row, 0.0) + weight * score
        return fused

    def run(
        self, data: IndexData, query: str, top_k: int, query_vector: np.ndarray | None = None
    ) -> Retrieval:
        """The `top_k` best passages for `query`."""
        if query_vector is None:
            query_vector = self.embedder.embed_query(query)
        dense = self.dense(data, query_vector, self.candidates) if self.dense_weight > 0 else []
        sparse = self.sparse(data, query, self.candidates) if self.bm25_weight > 0 else []
        fused = self.fuse(dense, sparse, data.chunk_count)
        dense_scores = dict(dense)
        bm25_scores = dict(sparse)
        best = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:top_k]
        passages = []
        for row, score in best:
            cosine = dense_scores.get(row)
            if cosine is None:  # outside the dense candidate list: compute it exactly, it is one dot product
                cosine = float(data.chunk_vectors[row] @ query_vector)
            passages.append(
                Passage(
                    chunk=data.chunks[row],
                    score=score,
                    dense_score=cosine,
                    bm25_score=bm25_scores.get(row),
                    row=row,
                )
            )
        return Retrieval(passages=passages, query_vector=query_vector)
