"""Text cleaning: strips HTML remnants, comment-form boilerplate and trailing link lists before chunking."""

from __future__ import annotations

import html
import re

# Block-level tags mark paragraph breaks; every other tag is dropped. Tolerates the spaced-out, broken tags
# that scraped news text carries: "< p >", "< / P >", "<A= https://... target=_ blank>".
_BLOCK_TAG = re.compile(
    r"<\s*/?\s*(?:p|br|div|li|ul|ol|h[1-6]|tr|table|section|article|blockquote)\b[^<>]{0,300}>", re.IGNORECASE
)
# A link opened but never closed on its line is a dangling category/"read more" link: drop it and its text.
_DANGLING_LINK = re.compile(
    r"<\s*a\b[^<>]{0,500}>(?![^\n]*<\s*/\s*a\s*>)[^\n<]{0,80}$", re.IGNORECASE | re.MULTILINE
)
_ANY_TAG = re.compile(r"<\s*/?\s*[A-Za-z][^<>]{0,500}>")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)

# Lines that are comment forms, share widgets or bylines with no content.
_BOILERPLATE_LINE = re.compile(
    r"^\s*(?:leave a (?:reply|comment)|your email address will not be published.*|required fields are marked.*"
    r"|written by\s*|share this(?: article)?:?|click to share.*|post navigation|cancel reply|"
    r"(?:save my name, email, and website).*)\s*$",
    re.IGNORECASE,
)
# A heading that starts a list of unrelated links; everything from it to the end is dropped.
_TRAILING_LIST_HEADING = re.compile(
    r"^\W{0,3}(?:related reading|related articles|related posts|related stories|read more|you may also like"
    r"|recommended reading)\W*$",
    re.IGNORECASE | re.MULTILINE,
)
_SPACES = re.compile(r"[ \t\f\v\u00a0\u2000-\u200b\u3000]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_LEADING_PUNCT = re.compile(r"^[,;:]\s*", re.MULTILINE)


def clean_text(raw: str) -> str:
    """Return `raw` without markup debris and boilerplate, with whitespace normalised.

    Paragraphs are kept as blank-line separated blocks, since sentence splitting uses them.
    """
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = _COMMENT.sub(" ", text)
    text = _DANGLING_LINK.sub(" ", text)
    text = _BLOCK_TAG.sub("\n\n", text)
    text = _ANY_TAG.sub(" ", text)
    text = html.unescape(text)
    match = _TRAILING_LIST_HEADING.search(text)
    if match:
        text = text[: match.start()]
    lines = []
    for line in text.split("\n"):
        line = _SPACES.sub(" ", line).strip()
        if _BOILERPLATE_LINE.match(line):
            continue
        lines.append(line)
    text = "\n".join(lines)
    text = _LEADING_PUNCT.sub("", text)
    text = _MANY_NEWLINES.sub("\n\n", text)
    return text.strip()
