"""The tokeniser written out in rag.text gives exactly bm25s's tokens (which the BM25 figures were measured with)."""

from __future__ import annotations

import bm25s
import Stemmer

from rag.text import fold_accents, tokenize, tokens
from tests.conftest import CORPUS

ODD = [
    "",
    "the of and",
    "Liège's 220,000 m² hub — Ali's “Double 11”",
    "naïve café co-operation 3D x",
    "A a I",
]


def test_tokens_equal_bm25s_tokenize_on_the_corpus_and_odd_text() -> None:
    texts = [line for path in sorted(CORPUS.iterdir()) for line in path.read_text("utf-8").splitlines()] + ODD
    reference = bm25s.tokenize(
        [fold_accents(t) for t in texts],
        stopwords="en",
        stemmer=Stemmer.Stemmer("english"),
        return_ids=False,
        show_progress=False,
    )
    assert tokenize(texts) == reference
    assert [tokens(t) for t in texts] == [frozenset(r) for r in reference]
    assert tokenize(["Liège"]) == tokenize(["Liege"]) == [["lieg"]]
