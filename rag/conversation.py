"""Conversation handling: rewrite a follow-up question into a standalone question from the earlier turns."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

Turn = str | Mapping[str, str]

_PRONOUN = r"it|its|it's|they|them|their|theirs|he|him|his|she|her|hers"
# Words that point back only in a short question ("why that?", "and the company?"): in a longer one they are
# ordinary ("how many shops are there on tmall global", "the warehouse at liege airport").
_WEAK = r"this|that|these|those|there|one|the same|the company|the firm|the platform|the warehouse|the event"
SHORT_WORDS = 6
SUBJECT_WORDS = 6  # a subject named in an earlier question ("what is X", "who runs X") is at most this long
_ANAPHORA = re.compile(rf"\b(?:{_PRONOUN})\b", re.IGNORECASE)
_WEAK_ANAPHORA = re.compile(rf"\b(?:{_WEAK})\b", re.IGNORECASE)
_WORD = re.compile(r"\w+")
# "and in europe?", "what about lazada?", "how about 2019?", "same for alicloud?"
_ELLIPSIS = re.compile(
    r"^\s*(?:and|but|also|what about|how about|and what about|same for|ok and|so)\b[\s,]*(.*?)"
    r"[\s?.!]*$",
    re.IGNORECASE,
)
# "what is X", "who is X", "tell me about X", "what does X do": X is what later pronouns point at.
_FOCUS = re.compile(
    r"^\s*(?:(?:ok|so|and|hey)[\s,]+)*(?:what|who|which)(?:'s| is| are| was| were)\s+(?:an?\s+|the\s+)?"
    r"(?P<a>.+?)[\s?.!]*$|^\s*(?:tell me|explain|talk) (?:me )?about\s+(?:the\s+)?(?P<b>.+?)[\s?.!]*$|"
    r"^\s*what (?:does|do|did)\s+(?P<c>.+?)\s+do\b",
    re.IGNORECASE,
)
# Always point back, however long the question: "how many of those ...", "which athlete showed up too?"
_PARTITIVE = re.compile(r"\b(?:of|among|from) (?:those|these|them)\b", re.IGNORECASE)
_ADDITIVE = re.compile(r"\b(?:too|as well|either)[\s?.!]*$", re.IGNORECASE)
# "the head of alibaba cloud": a role of something; a later "it"/"its" means the something, not the person.
_ROLE_OF = re.compile(
    r"^(?:the\s+)?(?:head|ceo|boss|chief(?: executive)?|founder|president|chair(?:man|woman)?|owner|leader|"
    r"director|manager|general manager)s?\s+of\s+(?:the\s+)?(?P<thing>.+)$",
    re.IGNORECASE,
)
_NEUTER = re.compile(r"\b(?:it|its)\b", re.IGNORECASE)
# "who runs X?": a later "it"/"its" means X (a later "he" means the person asked about, which is not named).
_RUNS = re.compile(
    r"^\s*who (?:heads|runs|leads|owns|founded|started|manages|chairs)\s+(?:the\s+)?(?P<thing>.+?)[\s?.!]*$",
    re.IGNORECASE,
)
_SUBJECT_PRONOUN = re.compile(r"\b(?:it|they|he|she|the company|the firm|the platform)\b", re.IGNORECASE)
_OBJECT_PRONOUN = re.compile(r"\b(?:it|them|him|her|this|that)\b(?!')", re.IGNORECASE)
_POSSESSIVE = re.compile(r"\b(?:its|their|his|her)\b", re.IGNORECASE)


def user_turns(history: Sequence[Turn] | None) -> list[str]:
    """The user's earlier questions, oldest first. Plain strings count as user turns."""
    turns: list[str] = []
    for item in history or []:
        if isinstance(item, str):
            text = item
        elif item.get("role", "user") == "user":
            text = str(item.get("content") or "")
        else:
            continue
        if text.strip():
            turns.append(text.strip())
    return turns


def is_follow_up(question: str) -> bool:
    """True when the question leans on earlier turns (a pronoun, an ellipsis, or too few words to stand alone)."""
    words = len(_WORD.findall(question))
    return (
        bool(_ANAPHORA.search(question))
        or bool(_ELLIPSIS.match(question))
        or bool(_PARTITIVE.search(question))
        or bool(_ADDITIVE.search(question))
        or words < 4
        or (words <= SHORT_WORDS and bool(_WEAK_ANAPHORA.search(question)))
    )


# Words that say nothing about what a question is about: question words, auxiliaries, articles, fillers.
_FUNCTION = frozenset(
    _WORD.findall(
        "how what who whom whose when where why which much many is are was were be been do does did has have had "
        "can could will would should may might a an the of in on at to for from with by about and or so ok hey "
        "please tell me us you know any there again also just really actually exactly"
    )
)


def unresolved_reference(question: str) -> bool:
    """True when a pronoun is all that names the question's subject ("how big is it?", "who runs it",
    "what is its revenue"): with nothing earlier to resolve it against, no passage can be said to answer it."""
    if not _ANAPHORA.search(question):
        return False
    words = [w for w in _WORD.findall(question.lower()) if w not in _FUNCTION and not _ANAPHORA.fullmatch(w)]
    return len(words) <= 1


def focus(question: str) -> str | None:
    """What a question is about when it names it plainly ("what is cainiao?" -> "cainiao"), else None."""
    match = _FOCUS.match(question)
    if not match:
        return None
    text = next(g for g in match.groups() if g)
    return text if len(_WORD.findall(text)) <= SUBJECT_WORDS else None


def _standalone(previous: str, question: str) -> str:
    """`question` made self-contained using the (already standalone) previous question."""
    tail = question.strip()
    ellipsis = _ELLIPSIS.match(tail)
    if (
        ellipsis
        and ellipsis.group(1)
        and len(_WORD.findall(ellipsis.group(1))) <= 5
        and not _ANAPHORA.search(ellipsis.group(1))
    ):
        return f"{previous.rstrip(' ?.!')} {ellipsis.group(1)}?"
    subject = focus(previous)
    if _NEUTER.search(tail):
        role = _ROLE_OF.match(subject) if subject else None
        runs = _RUNS.match(previous)
        if role:  # "who is the head of alibaba cloud?" then "how fast is it growing"
            subject = role.group("thing")
        elif (
            runs and len(_WORD.findall(runs.group("thing"))) <= SUBJECT_WORDS
        ):  # "who heads the aafa" then "... does it"
            subject = runs.group("thing")
    if subject and _ANAPHORA.search(tail):
        replaced = _POSSESSIVE.sub(f"{subject}'s", tail, count=1)
        if replaced == tail:
            replaced = _SUBJECT_PRONOUN.sub(subject, tail, count=1)
        if replaced == tail:
            replaced = _OBJECT_PRONOUN.sub(subject, tail, count=1)
        if replaced != tail:
            return replaced
    return f"{previous.rstrip(' ?.!')}? {tail}"


def rewrite(question: str, history: Sequence[Turn] | None) -> str:
    """The standalone form of `question`: itself when it stands alone or there is no earlier user turn; else
    rewritten from the conversation ("and in europe?", "who runs it?" -> the thing named before).

    Earlier follow-ups are rewritten first, so a chain of follow-ups keeps its subject.
    """
    turns = user_turns(history)
    if not turns or not is_follow_up(question):
        return question
    previous = turns[0]
    for turn in turns[1:]:
        previous = _standalone(previous, turn) if is_follow_up(turn) else turn
    return _standalone(previous, question)
