"""Which documents and chunk rows of an embedded snapshot are live, worked out from the one it replaces."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.stores.protocol import DocumentRecord, passage_text
from rag.stores.segment import Segment
from rag.text import tokenize
from rag.types import Document


@dataclass
class LiveView:
    """The live part of a list of segments, given each segment's dead document ids."""

    segments: list[Segment]
    dead: dict[str, frozenset[str]]
    segment_of: dict[str, int] = field(default_factory=dict)  # live document id -> segment position
    documents: dict[str, Document] = field(default_factory=dict)
    records: dict[str, DocumentRecord] = field(default_factory=dict)
    alive: dict[int, np.ndarray] = field(default_factory=dict)  # segment position -> mask, where any is dead
    chunks: int = 0  # live chunks
    length: float = 0.0  # summed BM25 length of the live chunks

    @classmethod
    def of(
        cls, segments: Sequence[Segment], dead: Mapping[str, Iterable[str]], previous: LiveView | None = None
    ) -> LiveView:
        """The live view of `segments`; from `previous` (the view of the snapshot this one was derived from)
        only what changed is redone: segments gone or moved, newly dead documents, new segments; so an update
        costs time for the documents it touches, not for the whole index."""
        view = cls(list(segments), {s.name: frozenset(dead.get(s.name, ())) for s in segments})
        view._fill(previous)
        view.chunks = sum(
            len(s.chunks) if i not in view.alive else int(view.alive[i].sum())
            for i, s in enumerate(view.segments)
        )
        view.length = float(
            sum(
                s.terms.lengths.sum() if i not in view.alive else s.terms.lengths[view.alive[i]].sum()
                for i, s in enumerate(view.segments)
            )
        )
        return view

    def _fill(self, previous: LiveView | None) -> None:
        where = {id(s): j for j, s in enumerate(previous.segments)} if previous is not None else {}
        kept = {i: where[id(s)] for i, s in enumerate(self.segments) if id(s) in where}
        if previous is not None:
            self.segment_of = dict(previous.segment_of)
            self.documents = dict(previous.documents)
            self.records = dict(previous.records)
            stays = set(kept.values())
            for j, s in enumerate(previous.segments):  # documents of segments merged away or dropped
                if j not in stays:
                    self._forget(s.documents, j)
            for i, j in kept.items():
                self._forget(self.dead[self.segments[i].name] - previous.dead[self.segments[i].name], j)
        for i, s in enumerate(self.segments):
            gone = self.dead[s.name]
            j = kept.get(i)
            if j is not None and previous is not None and gone == previous.dead[s.name]:
                if j in previous.alive:
                    self.alive[i] = previous.alive[j]
            elif gone:
                alive = np.ones(len(s.chunks), bool)
                for doc_id in gone:
                    lo, hi = s.doc_rows.get(doc_id, (0, 0, 0, 0))[:2]
                    alive[lo:hi] = False
                self.alive[i] = alive
            if j is None:
                for doc_id, doc in s.documents.items():
                    if doc_id not in gone:
                        self.segment_of[doc_id] = i
                        self.documents[doc_id] = doc
                        self.records[doc_id] = s.records[doc_id]
            elif j != i:
                for doc_id in s.documents:
                    if doc_id not in gone:
                        self.segment_of[doc_id] = i

    def _forget(self, doc_ids: Iterable[str], segment: int) -> None:
        """Drop these documents from the live maps where they are live in `segment` (a previous position)."""
        for doc_id in doc_ids:
            if self.segment_of.get(doc_id) == segment:
                del self.segment_of[doc_id], self.documents[doc_id], self.records[doc_id]

    def document_frequencies(self) -> dict[str, int]:
        """In how many live chunks each term occurs (counted from scratch)."""
        df: Counter[str] = Counter()
        for s in self.segments:
            df.update(s.terms.document_frequencies())
        for s in self.segments:
            for doc_id in self.dead[s.name]:
                df.subtract(chunk_terms(s, doc_id))
        return {t: c for t, c in df.items() if c > 0}


def chunk_terms(segment: Segment, doc_id: str) -> Counter[str]:
    """Each term once per chunk of the document: what it adds to the document frequencies."""
    lo, hi = segment.doc_rows.get(doc_id, (0, 0, 0, 0))[:2]
    counts: Counter[str] = Counter()
    for tokens in tokenize([passage_text(c) for c in segment.chunks[lo:hi]]):
        counts.update(set(tokens))
    return counts
