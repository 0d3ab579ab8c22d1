"""BM25 over a segment's term-frequency matrix, scored with the index-wide statistics kept at write time.

The formula is bm25s's default ("lucene": idf = ln(1 + (N - df + 0.5) / (df + 0.5)), term part
tf / (tf + k1 (1 - b + b dl / avgdl)), k1 = 1.5, b = 0.75), so rankings equal the whole-corpus bm25s index
this replaces; but N, df and avgdl are the live index's, maintained as documents come and go, so adding a
document costs time for that document only.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

K1 = 1.5
B = 0.75


def idf(n: int, df: int) -> float:
    """BM25 (lucene) inverse document frequency of a term found in `df` of `n` chunks."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


@dataclass(frozen=True, eq=False)
class TermMatrix:
    """Term frequencies of a segment's chunks: a CSC matrix (chunks x terms), its vocabulary and chunk lengths."""

    vocab: dict[str, int]
    matrix: sparse.csc_array
    lengths: np.ndarray  # tokens per chunk (float32)

    @classmethod
    def from_tokens(cls, tokens: Sequence[Sequence[str]]) -> TermMatrix:
        """The matrix of tokenised chunks, one token list per chunk."""
        vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        counts: list[int] = []
        for row, chunk_tokens in enumerate(tokens):
            for term, count in Counter(chunk_tokens).items():
                rows.append(row)
                cols.append(vocab.setdefault(term, len(vocab)))
                counts.append(count)
        matrix = sparse.coo_array(
            (np.asarray(counts, np.float32), (np.asarray(rows, np.int64), np.asarray(cols, np.int64))),
            shape=(len(tokens), len(vocab)),
        ).tocsc()
        lengths = np.asarray([len(t) for t in tokens], np.float32)
        return cls(vocab, matrix, lengths)

    @property
    def rows(self) -> int:
        """Number of chunks."""
        return int(self.matrix.shape[0])

    def document_frequencies(self) -> Counter[str]:
        """How many of this matrix's chunks hold each term."""
        nnz = np.diff(self.matrix.indptr)
        return Counter({term: int(nnz[col]) for term, col in self.vocab.items() if nnz[col]})

    def take(self, rows: np.ndarray) -> TermMatrix:
        """The matrix restricted to `rows` (in that order)."""
        csr = self.matrix.tocsr()[rows]
        return TermMatrix(self.vocab, sparse.csc_array(csr), self.lengths[rows])

    @staticmethod
    def concat(parts: Iterable[TermMatrix]) -> TermMatrix:
        """The parts stacked row-wise over one merged vocabulary."""
        vocab: dict[str, int] = {}
        blocks = []
        lengths = []
        for part in parts:
            remap = np.asarray([vocab.setdefault(t, len(vocab)) for t in part.vocab], np.int64)
            blocks.append((part.matrix.tocoo(), remap))
            lengths.append(part.lengths)
        if not blocks:
            return TermMatrix.from_tokens([])
        offset = 0
        rows, cols, data = [], [], []
        for coo, remap in blocks:
            rows.append(coo.row.astype(np.int64) + offset)
            cols.append(remap[coo.col] if len(remap) else coo.col.astype(np.int64))
            data.append(coo.data)
            offset += coo.shape[0]
        matrix = sparse.coo_array(
            (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))), shape=(offset, len(vocab))
        ).tocsc()
        return TermMatrix(vocab, matrix, np.concatenate(lengths))

    def scores(self, weights: dict[str, float], avgdl: float) -> np.ndarray:
        """BM25 score of every chunk for query terms with their idf-times-count `weights`."""
        out = np.zeros(self.rows, np.float32)
        if not self.rows:
            return out
        norm = K1 * (1 - B + B * self.lengths / max(avgdl, 1e-9))
        indptr, indices, data = self.matrix.indptr, self.matrix.indices, self.matrix.data
        for term, weight in weights.items():
            col = self.vocab.get(term)
            if col is None:
                continue
            lo, hi = indptr[col], indptr[col + 1]
            rows, tf = indices[lo:hi], data[lo:hi]
            out[rows] += weight * tf / (tf + norm[rows])
        return out
