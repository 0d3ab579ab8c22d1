"""Citation verification: every generated sentence is checked against the passages it cites, then kept, fixed or flagged.

The model is asked to put `[n]` after each claim, `n` being a passage number of the prompt. Nothing it writes is
trusted: a marker to a passage that was not in the prompt is dropped; a sentence is supported by a passage when
their meanings are close (embedding cosine with the passage's best sentence, or the whole passage, blended with
content-word overlap) and the passage sentence(s) it matches state it (`rag.answer.verify`: its quantities,
names and roles are there, attached to the same names, with the same polarity). A sentence its own citations do
not support is re-attributed to the prompt passage that does, or else marked `[unsupported]`. Each surviving
marker becomes a Citation quoting that cited sentence, so `start`, `end` and `quote` always point at real text of
the cited passage (the composer, `rag.answer.composer`, applies this to streamed text). Text none of whose
sentences is supported is not presented as an answer.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from rag.answer import ABSTAIN_TEXT
from rag.answer.claim_terms import found as name_found
from rag.answer.claim_terms import quantities
from rag.answer.verify import Claim, check_claim
from rag.embedding import Embedder
from rag.stores.protocol import Store
from rag.text import fold_accents
from rag.text import tokens as text_tokens
from rag.types import Passage

SUPPORT_THRESHOLD = 0.5  # blended score a passage needs to support a sentence
SEMANTIC_WEIGHT = 0.7  # the rest is the share of the sentence's content words found in the passage
NAME_COVERAGE = 0.75  # share of a sentence's names that must occur in the supporting passage(s)
CLAUSE_WORDS = 3  # a mid-sentence marker closes the claim before it when that has at least this many words

# A citation marker: [1], [1, 2], [1-3], [Passage 2], [source 1; 3]. Anything else in brackets is plain text.
MARKER = re.compile(
    r"\[\s*(?:(?:passages?|sources?|documents?|docs?|refs?)\s*)?#?\s*"
    r"(\d{1,3}(?:\s*(?:[,;]|-|–|and)\s*(?:#?\d{1,3}))*)\s*\]",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_QUANTITY = re.compile(r"(\d+(?:[.,]\d+)*)(?:(st|nd|rd|th)\b|\s?(%|percent\b|per cent\b))?", re.IGNORECASE)
_NUMBER_WORDS = {
    "zero": 0,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "dozen": 12,
}  # "one", "first", "second" are left out: too often not a quantity ("one of the", "first entered")
WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_NOT_FOUND = re.compile(
    r"\b(?:could(?:\s+not|n['’]t)|cannot|can['’]t|unable to)\s+(?:find|answer|determine)\b|"
    r"\b(?:passages?|documents?|context|texts?|sources?)\b[^.]*\b(?:do(?:es)?\s+not|don['’]t|doesn['’]t|"
    r"(?:is|are)\s+no)\b[^.]*\b(?:contain|mention|say|provide|include|state|give|specify|information)",
    re.IGNORECASE,
)


# Lead-ins that talk about the passages rather than the world ("The passage says that ...", "The answer is:"):
# removed before a sentence is checked, so only its claim is compared with the passage.
_PREAMBLE = re.compile(
    r"^\W*(?:(?:so|thus|therefore|overall|in short|in summary|in conclusion),?\s+)?"
    r"(?:(?:the\s+)?(?:short\s+|final\s+|correct\s+)?answer(?:\s+to\s+(?:the|your|this)\s+question)?"
    r"(?:\s+(?:is|would\s+be))?"
    r"|(?:according\s+to|based\s+on|as\s+(?:stated|mentioned|noted)\s+in)\s+(?:the\s+)?(?:provided\s+)?"
    r"(?:passages?|documents?|texts?|sources?|context|articles?)(?:\s*\(?\d+\)?)?"
    r"|(?:the\s+)?(?:passages?|documents?|texts?|sources?|context|articles?)(?:\s*\(?\d+\)?)?\s+"
    r"(?:says?|states?|mentions?|notes?|shows?|explains?|indicates?|reports?|is|are|reads?)(?:\s+that)?)"
    r"(?=[\s:,]|$)[\s:,]*",
    re.IGNORECASE,
)
SHORT_CLAIM = 4  # a claim with at most this many content words is judged together with the question


def content_words(text: str) -> set[str]:
    """Stemmed content words of `text` (as BM25 sees them), with "220,000" read as "220000"."""
    return set(text_tokens(re.sub(r"\b\d{1,3}(?:,\d{3})+\b", lambda m: m.group().replace(",", ""), text)))


def strip_preamble(sentence: str) -> str:
    """`sentence` without a lead-in about the passages ("According to the passage, X" -> "X")."""
    return _PREAMBLE.sub("", sentence, count=1).strip()


class Status(str, Enum):
    """What verification concluded about one sentence."""

    supported = "supported"  # its own citations support it
    reattributed = "reattributed"  # another prompt passage supports it; the markers were replaced
    unsupported = "unsupported"  # no prompt passage supports it: marked [unsupported]
    neutral = "neutral"  # makes no claim (e.g. "I could not find this in the documents."): not checked


def parse_markers(marker: str) -> list[int]:
    """The passage numbers of one marker text such as "[1]", "[1, 3]" or "[2-4]" (ranges capped at 10)."""
    match = MARKER.fullmatch(marker.strip())
    if not match:
        return []
    numbers: list[int] = []
    for part in re.split(r"\s*(?:[,;]|and)\s*", match.group(1)):
        bounds = [int(x) for x in re.findall(r"\d+", part)]
        if len(bounds) == 2 and bounds[0] <= bounds[1] <= bounds[0] + 10:
            numbers.extend(range(bounds[0], bounds[1] + 1))
        else:
            numbers.extend(bounds)
    return list(dict.fromkeys(numbers))


def numbers_in(text: str) -> set[str]:
    """Quantities of `text`, normalised with their kind: "583,000" -> "583000", "70 percent" -> "70%",
    "19th" and "nineteenth" -> "19th", "five" -> "5" (so "19th" does not vouch for "19" or "19%")."""
    found = set()
    for match in _QUANTITY.finditer(text):
        raw, ordinal, percent = match.groups()
        value = raw.replace(",", "") if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", raw) else raw
        value = str(int(value)) if value.isdigit() else value
        found.add(value + ("th" if ordinal else "%" if percent else ""))
    words = WORD.findall(text.lower())
    for i, word in enumerate(words):
        if word in _NUMBER_WORDS:
            value, ordinal = _NUMBER_WORDS[word], word.endswith(("th", "rd"))
            percent = i + 1 < len(words) and words[i + 1] == "percent"
            found.add(f"{value}{'th' if ordinal else '%' if percent else ''}")
    return found


def names_in(text: str, first: bool = False) -> set[str]:
    """Proper names and acronyms of `text` (lower-cased, accent-folded): capitalised words that do not open the
    sentence (or do, with `first`), and words with a capital inside ("AliExpress", "IDC")."""
    names = set()
    stop = _stopwords()
    for i, match in enumerate(WORD.finditer(fold_accents(text))):
        word = re.sub(r"['’]s$", "", match.group())
        inner_capital = any(ch.isupper() for ch in word[1:])
        if not word[:1].isupper() or word.lower() in stop or _NUMBER.fullmatch(word):
            continue
        if i > 0 or inner_capital or first:
            names.add(word.lower())
    return names


@functools.cache
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN) | frozenset(_NUMBER_WORDS) | {"i", "one", "first", "second"}


def is_not_found(sentence: str) -> bool:
    """True for a sentence that says the documents do not answer (the abstention text or a paraphrase of it)."""
    plain = re.sub(r"\W+", " ", sentence).strip().lower()
    return plain == re.sub(r"\W+", " ", ABSTAIN_TEXT).strip().lower() or bool(_NOT_FOUND.search(sentence))


@dataclass(frozen=True)
class Evidence:
    """One prompt passage prepared for checking: its sentences, their vectors, and its numbers and words."""

    number: int
    passage: Passage
    spans: tuple[tuple[int, int], ...]
    sentence_vectors: np.ndarray
    passage_vector: np.ndarray
    words: frozenset[str]
    tokens: frozenset[str]
    lowercase: frozenset[str] = frozenset()  # words the passage writes in lower case (so not names)


@dataclass(frozen=True)
class Support:
    """How well one passage supports one sentence, and the passage sentence that supports it best."""

    evidence: Evidence
    start: int
    end: int
    semantic: float
    lexical: float
    numbers_ok: bool  # the claim-level check (rag.answer.verify) passed: quantities, names, binding, polarity
    names_ok: bool  # most of the claim's names occur somewhere in the passage
    reason: str = ""  # why the claim-level check failed

    @property
    def score(self) -> float:
        """Blended support in 0..1."""
        return SEMANTIC_WEIGHT * max(0.0, self.semantic) + (1 - SEMANTIC_WEIGHT) * self.lexical

    @property
    def ok(self) -> bool:
        """True when the passage supports the sentence."""
        return self.numbers_ok and self.names_ok and self.score >= SUPPORT_THRESHOLD


@dataclass
class CheckedSentence:
    """One generated sentence after verification."""

    text: str
    cited: list[int]
    dropped: list[int] = field(default_factory=list)  # markers to passages that were not in the prompt
    status: Status = Status.neutral
    sources: list[Support] = field(
        default_factory=list
    )  # supporting passages (or, if unsupported, the cited ones)


class CitationChecker:
    """Checks sentences against the numbered passages of one prompt (numbered from 1 in the given order)."""

    def __init__(
        self, passages: Sequence[Passage], data: Store, embedder: Embedder, question: str | None = None
    ) -> None:
        self.data = data
        self.embedder = embedder
        self.question = question
        self.evidence = [self._prepare(n, p) for n, p in enumerate(passages, start=1)]

    def _prepare(self, number: int, passage: Passage) -> Evidence:
        chunk = passage.chunk
        text = self.data.documents[chunk.doc_id].text
        spans = chunk.sentences or ((chunk.start, chunk.end),)
        vectors = self.data.sentence_vectors([(chunk.doc_id, s, e) for s, e in spans])
        if vectors is None:
            vectors = self.embedder.embed([text[s:e] for s, e in spans])
        try:
            passage_vector = self.data.chunk_vector(passage.row) if passage.row >= 0 else None
        except IndexError:
            passage_vector = None
        if passage_vector is None:
            passage_vector = self.embedder.embed([chunk.text])[0]
        full = f"{chunk.title}\n{chunk.text}"
        return Evidence(
            number=number,
            passage=passage,
            spans=tuple(spans),
            sentence_vectors=vectors,
            passage_vector=passage_vector,
            words=frozenset(w.lower() for w in WORD.findall(fold_accents(full))),
            tokens=frozenset(content_words(full)),
            lowercase=frozenset(w for w in WORD.findall(fold_accents(full)) if w.islower()),
        )

    def support(
        self, sentence: str, vector: np.ndarray, ev: Evidence, context: np.ndarray | None = None
    ) -> Support:
        """How well passage `ev` supports `sentence` (whose embedding is `vector`).

        `context` is the embedding of a short sentence read together with its question: it replaces `vector`
        when every content word of the sentence occurs in the passage (a terse answer like "220000 square
        meters." means little alone).

        Besides the blended score, the claim must be stated by the passage sentence(s) it matches best, not just
        share words with the passage (`rag.answer.verify.check_claim`): its quantities, names and role words are
        in those sentences, its words are attached to its own names there, and it has their polarity. The quote is
        that cited sentence.
        """
        tokens = content_words(sentence)
        lexical = (
            len(tokens & ev.tokens) / len(tokens) if tokens else 1.0
        )  # a bare number: only it is checked
        terse = context is not None and lexical >= 1.0
        if terse:
            vector = context
        cosines = ev.sentence_vectors @ vector
        semantic = max(float(np.max(cosines)), float(ev.passage_vector @ vector))
        # A terse answer ("7.") states something only together with its question: both must be in the sentence.
        stated = f"{self.question} {sentence}" if terse else sentence
        claim = Claim.parse(stated, ev.lowercase, first_is_name=context is not None and not terse)
        verdict = check_claim(
            claim,
            self.data.documents[ev.passage.chunk.doc_id].text,
            ev.spans,
            cosines,
            ev.passage.chunk.title,
        )
        names = names_in(
            sentence, first=context is not None
        )  # a short answer ("Chester.") may be just a name
        found = sum(1 for name in names if name_found(name, ev.words))
        names_ok = not names or found / len(names) >= NAME_COVERAGE
        return Support(
            evidence=ev,
            start=verdict.start,
            end=verdict.end,
            semantic=semantic,
            lexical=lexical,
            numbers_ok=verdict.ok,
            names_ok=names_ok,
            reason=verdict.reason,
        )

    def check(self, text: str, cited: Sequence[int]) -> CheckedSentence:
        """Verify one sentence (markers already removed) that cited passage numbers `cited`.

        A lead-in about the passages ("The passage says that") is not part of the claim. A short claim
        ("220000 square meters.", or just "7.") whose words all occur in a passage is compared with it together
        with the question it answers; its numbers and names are checked as always.
        """
        valid = [n for n in dict.fromkeys(cited) if 1 <= n <= len(self.evidence)]
        result = CheckedSentence(text=text, cited=list(cited), dropped=[n for n in cited if n not in valid])
        claim = strip_preamble(text)
        content = content_words(claim)
        if is_not_found(text) or not (content or quantities(claim)):
            return result  # neutral: no claim to check
        short = self.question is not None and len(content) <= SHORT_CLAIM
        vectors = self.embedder.embed([claim, f"{self.question} {claim}"] if short else [claim])
        vector, context = vectors[0], (vectors[1] if short else None)
        text = claim
        own = [self.evidence[n - 1] for n in valid]
        singles = [self.support(text, vector, ev, context) for ev in own]
        passing = [s for s in singles if s.ok]
        if passing:
            result.status, result.sources = Status.supported, passing
            return result
        others = [self.support(text, vector, ev, context) for ev in self.evidence if ev.number not in valid]
        candidates = sorted((s for s in others if s.ok), key=lambda s: -s.score)
        if candidates:
            result.status, result.sources = Status.reattributed, candidates[:1]
            return result
        result.status = Status.unsupported
        result.sources = singles
        return result


# A sentence ends at . ! ? (optionally with closing quotes/brackets) when what follows opens a new sentence.
