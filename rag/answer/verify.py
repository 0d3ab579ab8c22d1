"""Claim-level verification: a claim is supported only by the passage sentence(s) that state it."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.answer.claim_terms import (
    ANTONYMS,
    COREFERENT,
    FUNCTION,
    GENERIC,
    KNOWN_NAMES,
    MONTHS,
    NEGATIONS,
    PREPOSITIONS,
    ROLES,
    Text,
    Token,
    found,
    negated_stems,
    quantities,
    stem,
)
from rag.text import fold_accents

CANDIDATES = 3  # passage sentences (best matching first) tried as the claim's cited sentence
MAX_BIND_GAP = 12  # words between a claim's anchor and the name it belongs to in the sentence, at most

MIN_COVERAGE = 0.5  # share of the claim's content words its cited sentence(s) must hold
_NOT_NAMES = FUNCTION | GENERIC | ROLES
# "Chester, UK," or "Hangzhou, PRC.": a short acronym after a capitalised name, between commas, locates it
_QUALIFIER = re.compile(r"(?<=[A-Za-z], )([A-Z]{2,3})(?=[,.;]|$)")


@dataclass(frozen=True)
class Verdict:
    """What the claim check concluded for one passage: `ok`, the cited sentence span, and why it failed."""

    ok: bool
    start: int
    end: int
    reason: str = ""


@dataclass(frozen=True)
class Claim:
    """A claim prepared for checking: its words, names, quantities and content-word stems."""

    text: Text
    names: frozenset[str]
    quantities: frozenset[tuple[float, str]]
    keys: frozenset[str]  # stems of its content words (names included)
    predicate: frozenset[str]  # stems of its content words other than names: what it says of them
    qualifiers: frozenset[str] = frozenset()  # acronyms in apposition to a place: "Chester, UK"

    @classmethod
    def parse(
        cls, text: str, passage_words: set[str] | frozenset[str] = frozenset(), first_is_name: bool = False
    ) -> Claim:
        """Read `text`. Its first word counts as a name when capitalised and either a known name, never written
        in lower case in the passage (`passage_words`: the words it writes in lower case), or `first_is_name` (a
        terse answer such as "Chester.")."""
        read = Text.read([(0, len(text))], text)
        names = set()
        for t in read.tokens:
            if not t.capital or t.word in _NOT_NAMES or t.word.isdigit():
                continue
            if not t.initial or first_is_name or t.word in KNOWN_NAMES or t.word not in passage_words:
                names.add(t.word)
        content = [
            t.word for t in read.tokens if t.word not in FUNCTION and not t.word.isdigit() and len(t.word) > 1
        ]
        predicate = {stem(w) for w in content if w not in names and w not in GENERIC}
        qualifiers = {q.lower() for q in _QUALIFIER.findall(fold_accents(text))}
        return cls(
            qualifiers=frozenset(qualifiers),
            text=read,
            names=frozenset(names),
            quantities=frozenset(quantities(text)),
            keys=frozenset(stem(w) for w in content),
            predicate=frozenset(predicate),
        )

    def coverage(self, words: set[str]) -> float:
        """Share of the claim's predicate stems (its content words other than names) found among `words`."""
        stems = {stem(w) for w in words}
        return len(self.predicate & stems) / len(self.predicate) if self.predicate else 1.0


def check_claim(
    claim: Claim, text: str, spans: Sequence[tuple[int, int]], cosines: np.ndarray, title: str = ""
) -> Verdict:
    """Whether the passage sentences `spans` of document `text` state `claim` (`cosines`: its similarity to each).

    The best matching sentences are tried in turn as the cited sentence, each joined by a neighbour that holds
    something of the claim it lacks (sentences are often split badly). A window states the claim when it holds at
    least half of the claim's content words, every quantity and role word of the claim and each of its names (the
    title may stand in for a name the window calls "the company"), attaches the claim's words and quantities to
    the claim's own names rather than to another name, and has the claim's polarity (no added or dropped negation,
    no antonym). A window that covers the claim but contradicts it ends the search: the claim is unsupported.
    """
    if not spans:
        return Verdict(False, 0, 0, "the passage has no sentences")
    sets = [Text.read([s], text).words for s in spans]
    order = sorted(
        range(len(spans)), key=lambda j: -(0.5 * float(cosines[j]) + 0.5 * claim.coverage(sets[j]))
    )
    title_words = Text.read([(0, len(title))], title).words
    reason = ""
    for j in order[:CANDIDATES]:
        window = Text.read([spans[i] for i in _window(claim, j, sets)], text)
        if claim.coverage(window.words) < MIN_COVERAGE:
            reason = reason or "no sentence of the passage states it"
            continue
        absent = _absent(claim, window, title_words)
        if absent:
            reason = reason or absent
            continue
        conflict = _binding(claim, window) or _quantity_owner(claim, window) or _polarity(claim, window)
        if conflict:
            return Verdict(False, *spans[j], conflict)
        return Verdict(True, *spans[j])
    return Verdict(False, *spans[order[0]], reason)


def _window(claim: Claim, j: int, sets: list[set[str]]) -> list[int]:
    """Sentence `j` and each neighbour that holds a name or number of the claim that sentence `j` lacks, or two of
    its other content words."""
    strong = {n for n in claim.names if not found(n, sets[j])}
    strong |= {t.word for t in claim.text.tokens if t.word.isdigit()} - sets[j]
    weak = claim.predicate - {stem(w) for w in sets[j]}
    window = [j]
    for k in (j - 1, j + 1):
        if 0 <= k < len(sets) and (
            any(found(n, sets[k]) for n in strong) or len(weak & {stem(w) for w in sets[k]}) >= 2
        ):
            window.append(k)
    return sorted(window)


def _absent(claim: Claim, window: Text, title_words: set[str]) -> str:
    """ "" when every quantity, role word and name of the claim is in the window, else what is missing."""
    have = set().union(*(quantities(c) for c in window.clauses.values()))
    for value, kind in sorted(claim.quantities):
        if not any(math.isclose(value, v, rel_tol=1e-6) and kind == k for v, k in have):
            return f"the cited sentence does not give {value:g}{kind}"
    words = window.words
    for t in claim.text.tokens:
        if t.word in ROLES and t.word not in words:
            return f"the cited sentence does not call anyone {t.word!r}"
    for name in sorted(claim.names - claim.qualifiers):
        if not found(name, words) and not found(name, title_words):
            return f"the cited sentence does not name {name!r}"
    return ""


def _is_name(token: Token, claim: Claim, capitalised: set[str]) -> bool:
    if token.word in FUNCTION or token.word in GENERIC or token.word.isdigit() or token.word in MONTHS:
        return False
    if token.word in claim.names or (len(token.word) >= 4 and found(token.word, set(claim.names))):
        return True
    if token.word in KNOWN_NAMES:
        return True
    return token.capital and (not token.initial or token.word in capitalised)


def _owners(tokens: Sequence[Token], claim: Claim) -> list[tuple[int, int]]:
    """(start, end) token ranges of the name phrases that can own what follows them: not right after a
    preposition ("in China", "from Lazada"), not across a clause break."""
    capitalised = {t.word for t in tokens if t.capital and not t.initial}
    flags = [_is_name(t, claim, capitalised) for t in tokens]
    phrases = []
    i = 0
    governed = False  # the last name phrase was a preposition's object ("in Hong Kong and Taiwan")
    while i < len(tokens):
        if not flags[i]:
            i += 1
            continue
        k = i
        while k + 1 < len(tokens) and flags[k + 1] and tokens[k + 1].clause == tokens[i].clause:
            k += 1
        previous = tokens[i - 1].word if i and tokens[i - 1].clause == tokens[i].clause else ""
        governed = previous in PREPOSITIONS or (governed and previous in {"and", "or"})
        if not governed:
            phrases.append((i, k + 1))
        i = k + 1
    return phrases


def _mine(words: Sequence[str], claim: Claim) -> bool:
    """True when a name phrase's `words` name one of the claim's names."""
    names = set(claim.names)
    return any(w in names or (len(w) >= 4 and found(w, names)) for w in words)


def _same(theirs: Sequence[str], owner: Sequence[str]) -> bool:
    """True when a name phrase of the window (`theirs`) names the claim's `owner` phrase."""
    mine = set(owner)
    return any(
        w in mine or (len(w) >= 4 and found(w, mine)) or any(found(o, {w}) for o in mine) for w in theirs
    )


def _binding(claim: Claim, window: Text) -> str:
    """ "" unless a word the claim says of one of its names belongs, in the window, to a name the claim does not
    mention: "Kobe Bryant hosted" against "Katy Perry hosted ... and Kobe Bryant appeared"."""
    tokens = list(claim.text.tokens)
    anchors: list[tuple[str, list[str]]] = []  # (word, the name phrase the claim says it of)
    for start, end in _owners(tokens, claim):
        taken = 0
        for t in tokens[end:]:
            if t.word in claim.names or taken == 2 or t.clause != tokens[end - 1].clause:
                break
            if t.word in FUNCTION or t.word in NEGATIONS or t.word.isdigit():
                continue
            anchors.append((t.word, [x.word for x in tokens[start:end]]))
            taken += 1
    subjects = [x.word for start, end in _owners(tokens, claim) for x in tokens[start:end]]
    theirs_tokens = list(window.tokens)
    owners = _owners(theirs_tokens, claim)
    for word, owner in anchors:
        verdicts = []
        for i, t in enumerate(theirs_tokens):
            if stem(t.word) != stem(word):
                continue
            before = [
                (s, e)
                for s, e in owners
                if e <= i and theirs_tokens[s].sentence == t.sentence and i - e <= MAX_BIND_GAP
            ]
            if before:
                s, e = before[-1]
                theirs = [x.word for x in theirs_tokens[s:e]]
                # fine when it is the claim's own owner, or another name of the claim that is no subject there
                verdicts.append(_same(theirs, owner) or _mine(theirs, claim) and not _same(theirs, subjects))
        if verdicts and not any(verdicts):
            return f"the cited sentence says {word!r} of someone else"
    return ""


def _quantity_owner(claim: Claim, window: Text) -> str:
    """ "" unless a quantity of the claim belongs, in the window, to a clause about other names only ("$14.3
    billion" of Alibaba's turnover claimed for American spending), or a name of the claim sits in a clause with
    other quantities while the claim's quantity is in another clause of that sentence."""
    tokens = list(window.tokens)
    capitalised = {t.word for t in tokens if t.capital and not t.initial}
    by_clause: dict[int, list[Token]] = {}
    for t in tokens:
        by_clause.setdefault(t.clause, []).append(t)
    numbers = {c: quantities(text) for c, text in window.clauses.items()}

    def holds(c: int, q: tuple[float, str]) -> bool:
        return any(math.isclose(q[0], v, rel_tol=1e-6) and q[1] == k for v, k in numbers.get(c, ()))

    def owners(c: int) -> tuple[set[str], bool]:
        """The names a clause is about (its own, else the previous clause's of the sentence), and whether it
        refers back to something ("its", "the company")."""
        while True:
            ts = by_clause.get(c, [])
            names = {t.word for t in ts if _is_name(t, claim, capitalised)}
            refers = any(t.word in COREFERENT for t in ts)
            previous = by_clause.get(c - 1, [])
            if names or refers or not ts or not previous or previous[0].sentence != ts[0].sentence:
                return names, refers
            c -= 1

    exempt = not claim.names  # a claim naming nobody ("220000 square meters.") cannot name the wrong one
    for q in () if exempt else claim.quantities:
        holding = [c for c in by_clause if holds(c, q)]
        verdicts = []
        for c in holding:
            names, refers = owners(c)
            verdicts.append(refers or not names or _mine(sorted(names), claim))
        if verdicts and not any(verdicts):
            return f"the cited sentence gives {q[0]:g}{q[1]} for something else"
    for name in claim.names:
        holding = [c for c, ts in by_clause.items() if any(t.word == name for t in ts)]
        if not holding or not claim.quantities:
            continue
        sentence = by_clause[holding[0]][0].sentence
        with_claimed = [
            c
            for c in by_clause
            if by_clause[c][0].sentence == sentence and any(holds(c, q) for q in claim.quantities)
        ]
        if not with_claimed or set(with_claimed) & set(holding):
            continue
        if all(numbers[c] for c in holding):
            return f"the cited sentence gives other numbers for {name!r}"
    return ""


def _polarity(claim: Claim, window: Text) -> str:
    """ "" unless the claim negates a word of the window that the window does not negate (or the reverse), or uses
    the antonym of a word of the window ("last" for "first", "fell" for "soared")."""
    mine = [t.word for t in claim.text.tokens]
    theirs: list[str] = []
    for i, t in enumerate(window.tokens):
        if i and t.clause != window.tokens[i - 1].clause:
            theirs.append("|")
        theirs.append(t.word)
    shared = claim.keys & {stem(w) for w in theirs}
    if negated_stems(mine) & shared != negated_stems(theirs) & shared:
        return "the cited sentence states the opposite (negation)"
    words, said = set(theirs), set(mine)
    for word in mine:
        opposite = ANTONYMS.get(word, set())
        if word not in words and opposite & words and not opposite & said:
            return f"the cited sentence says {min(opposite & words)!r}, not {word!r}"
    return ""
