"""Composes a generated answer as it streams: each claim verified against its cited passages, markers renumbered."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.answer.citations import (
    CLAUSE_WORDS,
    WORD,
    CheckedSentence,
    CitationChecker,
    Status,
    Support,
    is_not_found,
    parse_markers,
)
from rag.answer.extractive import citation_for
from rag.stores.protocol import Store
from rag.types import Answer, Citation

UNSUPPORTED_MARK = "[unsupported]"
UNVERIFIED_NOTICE = (
    "No sentence of the generated text is supported by the retrieved passages, so it is not given "
    "as an answer."
)


_END = re.compile(r"[.!?。！？]+[\"'”’)\]]*$")
_ABBREV = re.compile(
    r"(?:^|\s)(?:[A-Za-z]|mr|mrs|ms|dr|prof|st|vs|etc|e\.g|i\.e|inc|ltd|co|corp|no|u\.s|u\.k)\.$",
    re.IGNORECASE,
)
_OPENS = re.compile(r"[A-Z0-9\"'“‘(*•-]|[^\x00-\x7f]")


class AnswerComposer:
    """Turns generated text, fed in pieces, into the verified answer text, emitting what can be shown at once.

    Words are passed through as they arrive; markers are held back until the claim they close is verified, then
    replaced by the verified markers (renumbered 1, 2, ... in order of first use) or `[unsupported]`. A claim
    is a sentence, or the part of one before a marker that the model put mid-sentence ("A rose [1], and B
    fell [2]."). The emitted pieces concatenate to `text`, however the input was cut into pieces.
    """

    def __init__(self, checker: CitationChecker, data: Store) -> None:
        self.checker = checker
        self.data = data
        self.sentences: list[CheckedSentence] = []
        self.citations: list[Citation] = []
        self._numbers: dict[tuple[int, int, int, bool], int] = {}
        self._raw = ""  # input not yet processed (e.g. a marker still arriving)
        self._body = ""  # the current claim's text, markers removed
        self._markers: list[int] = []  # passage numbers cited for the current claim
        self._space = ""  # whitespace held back until we know what follows it
        self._gap = False  # a marker was seen since the last word
        self._mid_sentence = False  # a claim was closed inside the current sentence
        self._out: list[str] = []
        self.repeating = False  # the model repeated an earlier claim word for word: the rest is ignored

    @property
    def text(self) -> str:
        """Everything emitted so far."""
        return "".join(self._out)

    @property
    def started(self) -> bool:
        """True once any text has been emitted."""
        return bool(self._out)

    def feed(self, piece: str) -> str:
        """Take the next generated piece; returns the text that can be shown now (maybe empty)."""
        if self.repeating:
            return ""
        self._raw += piece
        return self._emit(self._process(final=False))

    def finish(self) -> str:
        """End of generation: verify the last claim; returns the remaining text."""
        parts = self._process(final=True)
        if not self.repeating:
            parts.append(self._close(sentence_end=True))
        return self._emit(parts)

    def _emit(self, parts: list[str]) -> str:
        text = "".join(parts)
        if text:
            self._out.append(text)
        return text

    def _process(self, final: bool) -> list[str]:
        parts: list[str] = []
        while self._raw:
            raw = self._raw
            space = re.match(r"\s+", raw)
            if space:
                self._space += space.group()
                self._raw = raw[space.end() :]
                continue
            if raw[0] == "[":
                close = raw.find("]", 0, 40)
                if close >= 0 and "\n" not in raw[:close]:
                    numbers = parse_markers(raw[: close + 1])
                    if numbers:
                        self._markers.extend(numbers)
                        self._raw = raw[close + 1 :]
                        self._space, self._gap = "", True
                        continue
                elif not final and len(raw) < 40 and "\n" not in raw:
                    break  # maybe a marker still arriving
            if self._body and self._ends_sentence(raw):
                parts.append(self._close(sentence_end=True))
            elif self._body and self._ends_clause(raw):
                parts.append(self._close(sentence_end=False))
            if self.repeating:
                self._raw = ""
                break
            if self._body or self._mid_sentence:
                parts.append(self._space)
                self._body += self._space
            elif self._out or parts:
                parts.append(self._space or " ")
            self._space, self._gap = "", False
            word = re.match(r"\[|[^\s\[]+", raw).group()
            self._body += word
            parts.append(word)
            self._raw = raw[len(word) :]
        return parts

    def _ends_sentence(self, raw: str) -> bool:
        if "\n" in self._space:
            return True
        if not (self._space or self._gap) or not _END.search(self._body):
            return False
        if self._body.endswith(".") and _ABBREV.search(self._body):
            return False
        return bool(_OPENS.match(raw))

    def _ends_clause(self, raw: str) -> bool:
        """A marker inside a sentence closes the claim before it, if that has a few words and text follows."""
        return (
            bool(self._markers)
            and self._gap
            and len(WORD.findall(self._body)) >= CLAUSE_WORDS
            and not _END.search(self._body)
            and bool(re.match(r"[\w,;:(\"“'‘-]", raw))
        )

    def _close(self, sentence_end: bool) -> str:
        """Verify the current claim; returns the markers (or mark) to put after it."""
        body, markers = self._body.strip().lstrip(",;:-– ").strip(), self._markers
        self._body, self._markers, self._mid_sentence = "", [], not sentence_end
        if not body:
            return ""
        if any(s.text == body for s in self.sentences):
            self.repeating = True  # a small model caught in a loop: stop here
        checked = self.checker.check(body, markers)
        self.sentences.append(checked)
        if checked.status is Status.neutral:
            return ""
        supported = checked.status is not Status.unsupported
        numbers = [self._number(s, supported) for s in checked.sources]
        rendered = "".join(f"[{n}]" for n in dict.fromkeys(numbers))
        if not supported:
            rendered = f"{rendered} {UNSUPPORTED_MARK}".strip()
        return f" {rendered}"

    def _number(self, support: Support, supported: bool) -> int:
        key = (support.evidence.passage.row, support.start, support.end, supported)
        if key not in self._numbers:
            n = len(self._numbers) + 1
            self._numbers[key] = n
            citation = citation_for(
                n, support.evidence.passage, support.start, support.end, support.score, self.data
            )
            citation.supported = supported
            self.citations.append(citation)
        return self._numbers[key]

    def answer(self, question: str, notice: str | None = None) -> Answer:
        """The final Answer: the emitted text, its citations and the verification counts.

        Text of which no sentence is supported by a passage (every claim marked, or no claim at all, such as a
        reply to a question planted in a passage) is not presented as an answer: it abstains, with no citations,
        and `notice` says so; the text stays, with its marks, for the reader to see what the model wrote.
        """
        claims = [s for s in self.sentences if s.status is not Status.neutral]
        supported = sum(s.status is not Status.unsupported for s in claims)
        abstained = not claims and any(
            s.status is Status.neutral and is_not_found(s.text) for s in self.sentences
        )
        notes = [notice] if notice else []
        summary = verification_summary(self.sentences)
        if summary:
            notes.append(summary)
        if not abstained and not supported and self.text.strip():
            abstained = True
            notes.append(UNVERIFIED_NOTICE)
        return Answer(
            question=question,
            answer=self.text,
            abstained=abstained,
            citations=[] if abstained else self.citations,
            mode="generative",
            outcome="none" if abstained else "answered",
            notice=" ".join(notes) or None,
            supported_sentences=supported,
            total_sentences=len(claims),
        )


def verification_summary(sentences: Sequence[CheckedSentence]) -> str:
    """A one-line account of what verification changed, or "" when every citation held as written."""
    unsupported = sum(s.status is Status.unsupported for s in sentences)
    moved = sum(s.status is Status.reattributed for s in sentences)
    dropped = sum(len(s.dropped) for s in sentences)
    claims = sum(s.status is not Status.neutral for s in sentences)
    parts = []
    if unsupported:
        parts.append(
            f"{unsupported} of {claims} sentences not supported by the passages (marked {UNSUPPORTED_MARK})"
        )
    if moved:
        parts.append(f"{moved} re-attributed to the passage that supports {'it' if moved == 1 else 'them'}")
    if dropped:
        parts.append(
            f"{dropped} citation{'s' if dropped > 1 else ''} to passages that were not retrieved removed"
        )
    return f"Citation check: {'; '.join(parts)}." if parts else ""
