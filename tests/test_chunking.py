"""Sentence splitting and chunking keep exact character offsets into the cleaned text."""

from __future__ import annotations

import itertools

from rag.chunking import chunk_document, split_sentences
from rag.documents import load_paths
from rag.types import Document
from tests.conftest import CORPUS


def test_chunks_round_trip_offsets_on_the_seed_corpus() -> None:
    for doc in load_paths([CORPUS]).documents:
        chunks = chunk_document(doc, chunk_size=600, overlap=1)
        assert chunks
        covered = set()
        for chunk in chunks:
            assert doc.text[chunk.start : chunk.end] == chunk.text
            for start, end in chunk.sentences:
                assert chunk.start <= start < end <= chunk.end
                covered.add((start, end))
        assert covered == set(split_sentences(doc.text))
        # Every non-space character of the document lies in some chunk: nothing is dropped.
        inside = [False] * len(doc.text)
        for chunk in chunks:
            inside[chunk.start : chunk.end] = [True] * (chunk.end - chunk.start)
        assert all(inside[i] for i, ch in enumerate(doc.text) if not ch.isspace())


def test_neighbouring_chunks_share_the_overlap_sentence() -> None:
    doc = Document("d", "T", " ".join(f"Sentence number {i} is here." for i in range(40)))
    chunks = chunk_document(doc, chunk_size=120, overlap=1)
    assert len(chunks) > 3
    for a, b in itertools.pairwise(chunks):
        assert a.sentences[-1] == b.sentences[0]
        assert len(a.text) <= 120 or len(a.sentences) == 1


def test_splitter_respects_abbreviations_and_closing_quotes() -> None:
    text = "Mr. Smith met Dr. Lee in the U.S. on Monday. He said “we are building a team. ” Then he left."
    parts = [text[s:e] for s, e in split_sentences(text)]
    assert parts == [
        "Mr. Smith met Dr. Lee in the U.S. on Monday.",
        "He said “we are building a team. ”",
        "Then he left.",
    ]


def test_a_huge_sentence_is_split_not_dropped() -> None:
    text = "word " * 2000
    doc = Document("d", "T", text.strip())
    chunks = chunk_document(doc, chunk_size=300, overlap=0)
    assert len(chunks) > 10
    assert all(len(c.text) <= 600 for c in chunks)
    assert "".join(c.text.replace(" ", "") for c in chunks) == doc.text.replace(" ", "")
