"""Word lists and readers for claim checking: quantities, names, roles, negations and antonyms."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.text import fold_accents

WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_NUM = r"(\d+(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_SCALE = r"(hundred|thousand|million|billion|trillion)"
_QUANTITY = re.compile(
    rf"{_NUM}(?:\s*-?\s*{_SCALE}\b)?(?:\s+{_NUM}\s*{_SCALE}\b)?"
    r"(?:(st|nd|rd|th)\b|\s?(%|percent\b|per cent\b))?",
    re.IGNORECASE,
)


def _words(text: str) -> frozenset[str]:
    """The space-separated words of `text`."""
    return frozenset(text.split())


_SCALES = {"hundred": 1e2, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_UNITS = "zero _ two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
_WORD_NUMBERS = {w: i for i, w in enumerate(_UNITS.split(" ")) if w != "_"} | {
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "dozen": 12,
}  # fmt: skip
_ORDINALS = "_ _ _ third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth"
_ORDINAL_WORDS = {w: i for i, w in enumerate(_ORDINALS.split(" ")) if w != "_"} | {"twentieth": 20}
_RANKED = {"first": 1, "second": 2}  # ordinals only after a ranking word ("ranks second"): often no quantity
_RANK_WORDS = _words("rank ranks ranked ranking placed came comes finished")
MONTHS = _words("january february march april may june july august september october november december")

# Organisations a corpus may write in lower case ("tmall global", "amazon china"): names wherever they are.
KNOWN_NAMES = _words(
    "adidas ali alibaba alicloud aliexpress alipay amazon apple baidu bloomberg cainiao cnn deloitte ebay "
    "facebook gartner google idc jd lazada meta microsoft nestle pinduoduo pwc reuters shopee taobao "
    "tencent tmall unilever walmart zara"
)
ALIASES = {
    "ali": ("alibaba",), "alibaba": ("ali",), "alicloud": ("alibaba", "cloud"), "hongkong": ("hong", "kong"),
    "us": ("usa", "america", "american"), "american": ("us", "america"),
}  # fmt: skip
ROLES = _words(
    "analyst author ceo cfo chairman chairwoman chief cofounder consultant cto director editor executive "
    "founder head leader manager minister president secretary spokesman spokesperson spokeswoman teacher"
)
GENERIC = _words("co company corp day group inc ltd service services the")
NEGATIONS = _words(
    "barely cannot decline declined declines fail failed failing fails failure hardly lack lacked lacks "
    "longer neither never no nobody none nor not nothing rarely refuse refused refuses scarcely seldom "
    "unable without"
)
_ANTONYM_PAIRS = (
    "high/low higher/lower highest/lowest large/small larger/smaller largest/smallest big/small "
    "biggest/smallest first/last increase/decrease increased/decreased rise/fall rose/fell grew/fell "
    "grew/shrank grew/declined soared/fell soared/plunged soared/dropped up/down more/less most/least "
    "succeeded/failed success/failure successful/unsuccessful easy/difficult easy/hard accelerated/slowed "
    "accelerate/slow strengthen/weaken strengthened/weakened strong/weak open/closed early/late "
    "rapidly/slowly fast/slow best/worst gain/loss won/lost before/after above/below ahead/behind "
    "cheap/expensive"
)
_ANTONYMS = [tuple(pair.split("/")) for pair in _words(_ANTONYM_PAIRS)]
ANTONYMS = {
    a: {b for x, b in _ANTONYMS if x == a} | {x for x, b in _ANTONYMS if b == a} for p in _ANTONYMS for a in p
}
PREPOSITIONS = _words(
    "across at between by for from in including into like of on outside over than throughout to under via "
    "with"
)
FUNCTION = (
    _words(
        "a about all already how why also an and any are as be been being but can could did do does each "
        "even had has have he her here his i if is it its just less many may might more most much must one "
        "only or other our s said say says she should so some still such that the their them then there "
        "these they this those very was we were what when where which who whom whose will would year years "
        "you your"
    )
    | PREPOSITIONS
)


def quantities(text: str) -> set[tuple[float, str]]:
    """The quantities of `text` as (value, kind), kind "" (a count or date part), "%" or "th" (an ordinal):
    "220,000" and "220000" -> 220000; "$14 billion 300 million" and "14.3 billion" -> 1.43e10; "41 percent" ->
    (41, "%"); "19th" and "nineteenth" -> (19, "th"); "five" -> 5; "November 11th" (a date) -> 11."""
    found: set[tuple[float, str]] = set()
    folded = fold_accents(text)
    for match in _QUANTITY.finditer(folded):
        raw, scale, raw2, scale2, ordinal, percent = match.groups()
        value = float(raw.replace(",", "")) * _SCALES.get((scale or "").lower(), 1.0)
        if raw2 and scale and scale2:
            value += float(raw2.replace(",", "")) * _SCALES[scale2.lower()]
        before = WORD.findall(folded[max(0, match.start() - 12) : match.start()].lower())
        kind = "%" if percent else "th" if ordinal and not (before and before[-1] in MONTHS) else ""
        found.add((_round(value), kind))
    words = WORD.findall(folded.lower())
    for i, word in enumerate(words):
        after = words[i + 1] if i + 1 < len(words) else ""
        if word in _WORD_NUMBERS and not (word == "hundred" and i and words[i - 1] in _WORD_NUMBERS):
            value = _WORD_NUMBERS[word] * _SCALES.get(after, 1.0)
            found.add((_round(value), "%" if after == "percent" else ""))
        elif word in _ORDINAL_WORDS and not (
            after in {"of", "tenth"} or word == "tenth" and i and words[i - 1] in {"one", "a"}
        ):
            found.add((float(_ORDINAL_WORDS[word]), "th"))
        elif (
            word in _RANKED and i and words[i - 1] in _RANK_WORDS and after not in {"time", "half", "quarter"}
        ):
            found.add((float(_RANKED[word]), "th"))
    return found


def _round(value: float) -> float:
    return float(f"{value:.6g}") if value and math.isfinite(value) else value


def found(name: str, words: set[str]) -> bool:
    """True when `name` is one of `words`, part of one ("hong" in "hongkong"), one typo away from one
    ("katy"/"katty"), or an alias of one ("ali"/"alibaba")."""
    if name in words or any(a in words for a in ALIASES.get(name, ())):
        return True
    if len(name) < 4:
        return False
    for word in words:
        if len(word) > len(name) and (word.startswith(name) or word.endswith(name)):
            return True
        if abs(len(word) - len(name)) <= 1 and len(word) >= 4 and one_edit(name, word):
            return True
    return False


def one_edit(a: str, b: str) -> bool:
    """True when `a` and `b` differ by at most one inserted, deleted or replaced character."""
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i + (len(a) == len(b)) :] == b[i + 1 :]


_CLAUSE_BREAK = re.compile(
    r"\s*(?:[;:–—]|,(?!\d)|\bbut\b|\bwhile\b|\bwhereas\b|\balthough\b)\s*", re.IGNORECASE
)
MIN_CLAUSE_WORDS = 4  # a shorter comma piece ("in France", "As of September 30, 2021") joins the next one


def stem(word: str) -> str:
    """A crude stem for matching claim and sentence words: "invented"/"invention" -> "inven"."""
    return word[:5]


@dataclass(frozen=True)
class Token:
    """One word of a text, with where it stands."""

    word: str  # lower-case, accents folded, without a trailing "'s"
    capital: bool
    sentence: int
    clause: int
    initial: bool  # first word of its sentence


@dataclass(frozen=True)
class Text:
    """Words of one or more consecutive sentences, split into clauses."""

    tokens: tuple[Token, ...]
    clauses: dict[int, str]  # clause number -> its text

    @classmethod
    def read(cls, spans: Sequence[tuple[int, int]], text: str) -> Text:
        tokens: list[Token] = []
        clauses: dict[int, str] = {}
        for s, (start, end) in enumerate(spans):
            merged: list[str] = []
            for piece in _CLAUSE_BREAK.split(fold_accents(text[start:end])):
                if merged and len(WORD.findall(merged[-1])) < MIN_CLAUSE_WORDS:
                    merged[-1] += " " + piece
                else:
                    merged.append(piece)
            first = True
            for piece in merged:
                number = len(clauses) + 1
                clauses[number] = piece
                for match in WORD.finditer(piece):
                    word = re.sub(r"['’]s$", "", match.group())
                    tokens.append(Token(word.lower(), word[:1].isupper(), s, number, first))
                    first = False
        return cls(tuple(tokens), clauses)

    @property
    def words(self) -> set[str]:
        """Its distinct words."""
        return {t.word for t in self.tokens}


COREFERENT = frozenset({"it", "its", "they", "their", "he", "his", "she", "her", "company", "group", "firm"})


def negated_stems(tokens: Sequence[str]) -> set[str]:
    """Stems of the words a negation governs: up to three content words after "not", "no", "failed to", ...,
    stopping at a preposition or a clause break ("not only" is no negation)."""
    governed: set[str] = set()
    for i, word in enumerate(tokens):
        after = tokens[i + 1] if i + 1 < len(tokens) else ""
        negation = word in NEGATIONS or word.endswith(("n't", "n’t"))
        if (
            not negation
            or (word == "not" and after == "only")
            or (word == "longer" and tokens[i - 1 : i] != ["no"])
        ):
            continue
        taken = 0
        for k, nxt in enumerate(tokens[i + 1 :]):
            if (
                nxt in PREPOSITIONS
                and not (k == 0 and nxt == "to")
                or nxt in {"|", "and", "or"}
                or taken == 3
            ):
                break
            if nxt not in FUNCTION and nxt not in NEGATIONS:
                governed.add(stem(nxt))
                taken += 1
    return governed
