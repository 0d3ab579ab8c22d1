"""Display tidying of quoted sentences: sentence case, no stray quotes, no glued headings, no planted markers.

Only the displayed answer text is tidied; a citation's `start`/`end`/`quote` stay the exact document span.
"""

from __future__ import annotations

import re

_MARKER = re.compile(
    r"\s*\[\s*\d+(?:\s*[,;–-]\s*\d+)*\s*\]"
)  # "[2]", "[1, 3]": only the system places markers
_QUOTES = "\"'“”‘’«»"
_SPACE = re.compile(r"\s+")
_LINES = re.compile(r"\s*\n\s*")
_END = re.compile(r"[.!?…]$")


def neutralize_markers(text: str) -> str:
    """`text` with bracketed numbers removed, so a quoted "[2]" can never pose as one of the answer's markers."""
    return _MARKER.sub("", text)


def _drop_heading(text: str) -> str:
    """The text after a heading line glued to the front (a line without end punctuation, then the sentence)."""
    lines = [line for line in _LINES.split(text.strip()) if line]
    while len(lines) > 1 and not _END.search(lines[0]) and len(lines[0].split()) <= 14:
        lines.pop(0)
    return " ".join(lines)


def _balanced(text: str) -> str:
    """`text` without unmatched quote marks at either end."""
    text = text.strip()
    for _ in range(3):
        changed = False
        if text and text[0] in _QUOTES and sum(text.count(q) for q in _QUOTES) % 2:
            text, changed = text[1:].lstrip(), True
        if text and text[-1] in _QUOTES and sum(text.count(q) for q in _QUOTES) % 2:
            text, changed = text[:-1].rstrip(), True
        if (
            text
            and len(text) > 1
            and text[-2] in _QUOTES
            and text[-1] in ".!?"
            and sum(text.count(q) for q in _QUOTES) % 2
        ):
            text, changed = text[:-2] + text[-1], True
        if not changed:
            break
    return text


def tidy(text: str) -> str:
    """A quoted sentence as shown to a reader: heading and stray quotes dropped, spaces collapsed, first letter
    capitalised, planted markers removed, ending with punctuation."""
    text = neutralize_markers(_drop_heading(text))
    text = _balanced(_SPACE.sub(" ", text).strip(" ,;:-–—"))
    text = _balanced(text.strip(" ,;:-–—"))
    if not text:
        return text
    first = next((i for i, ch in enumerate(text) if ch.isalpha()), None)
    if first is not None and all(not ch.isalnum() for ch in text[:first]):
        text = text[:first] + text[first].upper() + text[first + 1 :]
    if not _END.search(text.rstrip(_QUOTES)):
        text += "."
    return text
