"""HTML and PDF text extraction under hard limits, in a child process that is killed when it runs out of time."""

from __future__ import annotations

import io
import multiprocessing
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

from rag.errors import UnreadableFile

if TYPE_CHECKING:
    from rag.settings import Settings

_HTML_BLOCKS = (
    "h1, h2, h3, h4, h5, h6, p, li, ul, ol, td, tr, table, pre, blockquote, div, section, article, br"
)
_DROPPED = ("script", "style", "noscript", "nav", "footer", "header", "aside", "form", "iframe", "svg")
# Elements that never have children (or whose nesting the parser bounds itself): they add no depth.
_FLAT = frozenset(
    re.findall(
        r"\w+",
        """
    area base br col embed hr img input link meta param source track wbr keygen basefont bgsound frame
    colgroup rb rt rp rtc html head body""",
    )
)
_RAW_TEXT = frozenset(re.findall(r"\w+", "script style textarea title xmp iframe noembed noframes plaintext"))
# A tag runs to the next '>' or '<' (linear however broken the markup); quoted '>' in attributes are rare.
_MARKUP = re.compile(r"<(?:(/?)([A-Za-z][A-Za-z0-9:_-]*)([^<>]*)>?|!--)")
_SPECIAL = frozenset(
    re.findall(
        r"\w+",
        """
    address applet area article aside base basefont bgsound blockquote body br button caption center col colgroup
    dd details dir div dl dt embed fieldset figcaption figure footer form frame frameset h1 h2 h3 h4 h5 h6 head
    header hgroup hr html iframe img input keygen li link listing main marquee menu meta nav noembed noframes
    noscript object ol p param plaintext pre script search section select source style summary table tbody td
    template textarea tfoot th thead title tr track ul wbr xmp""",
    )
)
_BUTTON_SCOPE = frozenset(
    re.findall(r"\w+", "applet caption html table td th marquee object template button")
)
_CLOSES_P = frozenset(
    re.findall(
        r"\w+",
        """
    address article aside blockquote center details dialog dir div dl fieldset figcaption figure footer form h1 h2
    h3 h4 h5 h6 header hgroup hr listing main menu nav ol p pre search section summary table ul li dd dt""",
    )
)
# Start tags whose open predecessor the parser closes first: tag -> (names it closes, names that stop the search).
_IMPLIED_END: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "li": (frozenset({"li"}), _SPECIAL - {"address", "div", "p", "li"}),
    "dd": (frozenset({"dd", "dt"}), _SPECIAL - {"address", "div", "p", "dd", "dt"}),
    "dt": (frozenset({"dd", "dt"}), _SPECIAL - {"address", "div", "p", "dd", "dt"}),
    "td": (frozenset({"td", "th"}), frozenset({"tr", "table", "template", "html"})),
    "th": (frozenset({"td", "th"}), frozenset({"tr", "table", "template", "html"})),
    "tr": (frozenset({"tr"}), frozenset({"table", "template", "html"})),
    "thead": (frozenset({"thead", "tbody", "tfoot"}), frozenset({"table", "template", "html"})),
    "tbody": (frozenset({"thead", "tbody", "tfoot"}), frozenset({"table", "template", "html"})),
    "tfoot": (frozenset({"thead", "tbody", "tfoot"}), frozenset({"table", "template", "html"})),
    "option": (frozenset({"option"}), frozenset({"select", "datalist", "optgroup", "html"})),
    "optgroup": (frozenset({"optgroup", "option"}), frozenset({"select", "html"})),
}
_INLINE_HTML_CHARS = (
    64 * 1024
)  # smaller HTML skips the child process: its parse, bounded by the checks, is short
_CANCEL_POLL = 0.1  # seconds between checks of the cancel event while a child parses
_SEARCH = 64  # open elements looked through for an implied end (bounds the scan's cost per tag)
_SETTING = {
    "max_html_depth": "max_html_depth",
    "max_html_elements": "max_html_elements",
    "max_pdf_pages": "max_pdf_pages",
    "max_pdf_decompressed_bytes": "max_pdf_decompressed_bytes",
    "timeout": "parse_timeout",
}


class DocumentOverLimit(UnreadableFile):
    """A file over one of the parsing limits (nesting, elements, pages, decompressed size, time): 413."""

    status_code = 413


class ParseCancelled(UnreadableFile):
    """The parse was cancelled because nobody waits for it any more (the client disconnected)."""


@dataclass(frozen=True)
class ParseLimits:
    """The parsing limits of the settings (RAG_MAX_HTML_DEPTH, ..., RAG_PARSE_TIMEOUT)."""

    max_html_depth: int
    max_html_elements: int
    max_pdf_pages: int
    max_pdf_decompressed_bytes: int
    timeout: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ParseLimits:
        """The limits configured in `settings`."""
        return cls(**{name: getattr(settings, field) for name, field in _SETTING.items()})

    @classmethod
    def defaults(cls) -> ParseLimits:
        """The limits of the settings' defaults (environment not read)."""
        from rag.settings import Settings

        return cls(**{name: Settings.model_fields[field].default for name, field in _SETTING.items()})


def check_html_structure(text: str, name: str, limits: ParseLimits) -> None:
    """Raise DocumentOverLimit when the markup nests deeper or has more elements than the limits allow.

    A linear scan of the tags that stops at the first excess, so 500,000 nested <div>s (whose parse would
    take minutes: the HTML parser's cost grows with the square of the depth) are refused in milliseconds.
    """
    stack: list[str] = []
    open_names: Counter[str] = Counter()
    elements, pos = 0, 0

    def pop_to(index: int) -> None:
        while len(stack) > index:
            open_names[stack.pop()] -= 1

    while (match := _MARKUP.search(text, pos)) is not None:
        pos = match.end()
        if match.group(2) is None:  # a comment: skip to its end
            end = text.find("-->", pos)
            pos = len(text) if end < 0 else end + 3
            continue
        tag = match.group(2).lower()
        if match.group(1):  # an end tag closes the innermost open element of that name, if any
            if open_names[tag]:
                while (top := stack.pop()) != tag:
                    open_names[top] -= 1
                open_names[tag] -= 1
            continue
        elements += 1
        if elements > limits.max_html_elements:
            raise DocumentOverLimit(
                f"{name}: has more than {limits.max_html_elements:,} HTML elements (RAG_MAX_HTML_ELEMENTS)"
            )
        if tag in _RAW_TEXT:  # text up to the end tag is not markup
            end = _find_end(text, tag, pos)
            pos = len(text) if end < 0 else end
            continue
        if tag in _FLAT or match.group(3).rstrip().endswith("/"):
            continue
        if tag in _CLOSES_P and open_names["p"]:
            _close_implied(stack, frozenset({"p"}), _BUTTON_SCOPE, pop_to)
        if tag in _IMPLIED_END:
            _close_implied(stack, *_IMPLIED_END[tag], pop_to)
        stack.append(tag)
        open_names[tag] += 1
        if len(stack) > limits.max_html_depth:
            raise DocumentOverLimit(
                f"{name}: HTML elements nest more than {limits.max_html_depth:,} deep (RAG_MAX_HTML_DEPTH)"
            )


def _close_implied(
    stack: list[str], closes: frozenset[str], stops: frozenset[str], pop_to: Callable[[int], None]
) -> None:
    """Pop the innermost open element named in `closes` (and all above it), unless one in `stops` comes first."""
    for index in range(len(stack) - 1, max(-1, len(stack) - 1 - _SEARCH), -1):
        if stack[index] in closes:
            pop_to(index)
            return
        if stack[index] in stops:
            return


def _find_end(text: str, tag: str, pos: int) -> int:
    match = re.compile(f"</{tag}", re.IGNORECASE).search(text, pos)
    return -1 if match is None else match.start()


def html_text(text: str, name: str, limits: ParseLimits) -> tuple[str, str]:
    """(text with block boundaries as blank lines, title) of an HTML document; checks the limits first."""
    from selectolax.lexbor import LexborHTMLParser

    check_html_structure(text, name, limits)
    tree = LexborHTMLParser(text)
    title_node = tree.css_first("title")
    title = title_node.text(strip=True) if title_node else ""
    for selector in _DROPPED:
        for node in tree.css(selector):
            node.decompose()
    root = tree.body or tree.root
    if root is None:
        return "", title
    for node in root.css(_HTML_BLOCKS):
        node.insert_after("\n\n")  # block boundaries become paragraph breaks; inline markup joins seamlessly
    body = root.text(separator="")
    if not title:
        heading = tree.css_first("h1")
        title = heading.text(strip=True) if heading else ""
    return body, title


# Separates the pages in pdf_text's result (a form feed inside a page's text becomes a space).
PAGE_BREAK = "\f"


def pdf_text(data: bytes, name: str, limits: ParseLimits) -> tuple[str, str]:
    """(text of the pages, joined by PAGE_BREAK; title) of a PDF, refusing more pages or decompressed content
    than the limits allow."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        count = len(reader.pages)
        if count > limits.max_pdf_pages:
            raise DocumentOverLimit(
                f"{name}: has {count:,} pages; the limit is {limits.max_pdf_pages:,} (RAG_MAX_PDF_PAGES)"
            )
        pages, inflated = [], 0
        for page in reader.pages:
            contents = page.get_contents()
            inflated += len(contents.get_data()) if contents is not None else 0
            if inflated > limits.max_pdf_decompressed_bytes:
                raise DocumentOverLimit(
                    f"{name}: its pages decompress to more than "
                    f"{limits.max_pdf_decompressed_bytes:,} bytes (RAG_MAX_PDF_DECOMPRESSED_BYTES)"
                )
            pages.append((page.extract_text() or "").replace(PAGE_BREAK, " "))
        title = str(reader.metadata.title) if reader.metadata is not None and reader.metadata.title else ""
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, AttributeError, RecursionError) as exc:
        raise UnreadableFile(f"{name}: not a readable PDF ({exc.__class__.__name__})") from None
    return PAGE_BREAK.join(pages), title


def _child(conn: Connection, kind: str, payload: str | bytes, name: str, limits: ParseLimits) -> None:
    """Entry point of the parsing process: sends ("ok", text, title) or (error kind, message, "")."""
    try:
        result = html_text(payload, name, limits) if kind == "html" else pdf_text(payload, name, limits)
        conn.send(("ok", *result))
    except DocumentOverLimit as exc:
        conn.send(("over", str(exc), ""))
    except UnreadableFile as exc:
        conn.send(("unreadable", str(exc), ""))
    except BaseException as exc:  # noqa: BLE001 - whatever the parser raises, the parent gets a message
        conn.send(("unreadable", f"{name}: could not be parsed ({exc.__class__.__name__})", ""))
    finally:
        conn.close()


_context: multiprocessing.context.BaseContext | None = None


def _process_context() -> multiprocessing.context.BaseContext:
    """Processes forked from a small single-threaded server that has the parsers imported (fast to start)."""
    global _context
    if _context is None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["rag.parsing", "selectolax.lexbor", "pypdf"])
        _context = ctx
    return _context


def parse_isolated(
    kind: str, payload: str | bytes, name: str, limits: ParseLimits, cancel: threading.Event | None = None
) -> tuple[str, str]:
    """(text, title) of an HTML (`kind` "html", payload str) or PDF ("pdf", bytes) document, parsed in a child
    process: the serving threads keep their CPU and GIL, and a parse over `limits.timeout` is killed (413).
    Setting `cancel` (e.g. when the client disconnects) kills it too and raises ParseCancelled.

    HTML up to 64 K characters is parsed in this process: the structure check bounds that parse to a fraction
    of a second, less than starting a child costs.
    """
    if kind == "html" and len(payload) <= _INLINE_HTML_CHARS:
        return html_text(payload, name, limits)
    ctx = _process_context()
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(
        target=_child, args=(sender, kind, payload, name, limits), daemon=True, name=f"rag-parse-{kind}"
    )
    process.start()
    sender.close()
    deadline = time.monotonic() + limits.timeout
    try:
        while not receiver.poll(min(_CANCEL_POLL, max(0.0, deadline - time.monotonic()))):
            if cancel is not None and cancel.is_set():
                raise ParseCancelled(f"{name}: parsing cancelled")
            if time.monotonic() >= deadline:
                raise DocumentOverLimit(
                    f"{name}: took longer than {limits.timeout:g} s to parse (RAG_PARSE_TIMEOUT)"
                )
        try:
            status, first, second = receiver.recv()
        except (EOFError, OSError):
            raise UnreadableFile(f"{name}: could not be parsed (the parser process stopped)") from None
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        process.join(10)
    if status == "ok":
        return first, second
    raise (DocumentOverLimit if status == "over" else UnreadableFile)(first)
