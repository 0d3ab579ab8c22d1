"""Text analysis shared by BM25, answering and verification: accent folding and the stemmed BM25 tokeniser."""

from __future__ import annotations

import logging
import unicodedata

import bm25s
import Stemmer

logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets its own logger to DEBUG when imported

_STEMMER = Stemmer.Stemmer("english")


def fold_accents(text: str) -> str:
    """`text` without diacritics ("Liège" -> "Liege"), so spelling variants match."""
    if text.isascii():
        return text
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def tokenize(texts: list[str]) -> list[list[str]]:
    """BM25 tokens: accent-folded lower-cased words, English stop words removed, Snowball-stemmed."""
    return bm25s.tokenize(
        [fold_accents(t) for t in texts],
        stopwords="en",
        stemmer=_STEMMER,
        return_ids=False,
        show_progress=False,
    )
