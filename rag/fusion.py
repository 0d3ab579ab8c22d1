"""Fusion of a dense and a BM25 ranking into one: convex combination of normalised scores, or reciprocal rank.

The default is the convex combination of min-max normalised scores, which beat reciprocal-rank fusion on the
BEIR SciFact train split (see README, Evaluation). A chunk missing from one list scores at that list's floor.
"""

from __future__ import annotations

from dataclasses import dataclass

from rag.settings import FusionMethod
from rag.stores.protocol import Ranking


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


@dataclass(frozen=True)
class Fusion:
    """Fuses rankings of at most `candidates` entries each with the configured method and weights."""

    method: FusionMethod = FusionMethod.convex
    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    rrf_k: int = 60
    candidates: int = 100

    def __post_init__(self) -> None:
        if self.candidates < 1 or self.rrf_k < 1:
            raise ValueError("candidates and rrf_k must be positive")
        if self.dense_weight < 0 or self.bm25_weight < 0 or self.dense_weight + self.bm25_weight == 0:
            raise ValueError("weights must be non-negative and not both zero")

    def run(self, dense: Ranking, sparse: Ranking, chunk_count: int) -> dict[int, float]:
        """Fused score of every chunk in either ranking (higher is better)."""
        if self.method is FusionMethod.rrf:
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
