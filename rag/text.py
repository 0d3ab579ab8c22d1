"""Text analysis shared by BM25, answering and verification: accent folding and the stemmed BM25 tokeniser.

The tokeniser is bm25s's (`bm25s.tokenize` with English stop words and the Snowball stemmer: lower-case, words
of two or more word characters, stop words dropped, each word stemmed), written out here because calling
bm25s's for one short text costs ~0.7 ms of set-up (a progress bar object per call even when hidden) and the
answer step tokenises a few dozen sentences per question. A test keeps the two equal.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets its own logger to DEBUG when imported

_STEMMER = Stemmer.Stemmer("english")
_WORDS = re.compile(r"(?u)\b\w\w+\b").findall
_STOP = frozenset(STOPWORDS_EN)


def fold_accents(text: str) -> str:
    """`text` without diacritics ("Liège" -> "Liege"), so spelling variants match."""
    if text.isascii():
        return text
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


@lru_cache(maxsize=262_144)
def _stem(word: str) -> str:
    return _STEMMER.stemWord(word)


def _analyse(text: str) -> list[str]:
    return [_stem(w) for w in _WORDS(fold_accents(text).lower()) if w not in _STOP]


def tokenize(texts: list[str]) -> list[list[str]]:
    """BM25 tokens of each text: accent-folded lower-cased words, English stop words removed, Snowball-stemmed."""
    return [_analyse(t) for t in texts]


@lru_cache(maxsize=32_768)
def tokens(text: str) -> frozenset[str]:
    """The distinct BM25 tokens of one text, cached: the answer step sees the same sentences again and again."""
    return frozenset(_analyse(text))
