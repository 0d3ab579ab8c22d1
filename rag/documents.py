"""Document loaders for .txt, .md, .html and .pdf files (and uploaded bytes), producing cleaned Documents."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from rag.cleaning import clean_text
from rag.errors import UnreadableFile, UnsupportedFile
from rag.parsing import PAGE_BREAK, ParseLimits, parse_isolated
from rag.types import PAGE_STARTS_KEY, Document

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
METADATA_FILE = "metadata.json"
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_HEADING = re.compile(r"^#{1,6}\s*", re.MULTILINE)
_MD_EMPHASIS = re.compile(r"(\*\*|__|`)")
_DOC_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_DOC_ID_MAX = 120  # characters of a derived id before its hash
# Between the cleaned pages of a PDF: a paragraph break, so no sentence runs from one page into the next.
_PAGE_SEPARATOR = "\n\n"
# Control characters other than whitespace; text with more than 2 % of them is binary, whatever its route.
_CONTROLS = "".join(chr(c) for c in range(32) if chr(c) not in "\n\r\t\f")
_MAX_CONTROL_SHARE = 0.02


@dataclass
class LoadResult:
    """Documents read from some paths, and the files that could not be read with the reason."""

    documents: list[Document] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)


def _stem(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in Path(name).name else name


def _slug(label: str) -> str:
    """`label` as path segments of [A-Za-z0-9_.-] that start with a letter, digit or '_' ('.', '..' dropped)."""
    segments = (_DOC_ID_UNSAFE.sub("-", part).strip("-.") for part in label.replace("\\", "/").split("/"))
    return "/".join(s for s in segments if s)


def make_doc_id(name: str) -> str:
    """A URL- and shell-safe document id from a relative file name (extension dropped); it always matches the
    API's doc_id pattern. Different names may give the same id: see `derive_doc_id`."""
    return _slug(_stem(name)) or "document"


def derive_doc_id(label: str) -> str:
    """The id for a document named only by a title or file stem: the label itself when it is already a valid id,
    else its slug plus a short hash of the label, so two different labels never share (and replace) an id."""
    slug = _slug(label)[:_DOC_ID_MAX].strip("-./")
    if slug == label:
        return slug
    digest = hashlib.sha256(label.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{slug}-{digest}" if slug else f"document-{digest}"


def check_text(text: str, name: str) -> str:
    """`text`, unless it looks binary (a NUL near the start, or over 2 % control characters): UnreadableFile.

    The one rule for text from files and text sent as JSON.
    """
    if "\x00" in text[:8192] or sum(map(text.count, _CONTROLS)) > _MAX_CONTROL_SHARE * max(1, len(text)):
        raise UnreadableFile(f"{name}: looks like a binary file, not text")
    return text


def _decode_text(data: bytes, name: str) -> str:
    if b"\x00" in data[:8192]:
        raise UnreadableFile(f"{name}: looks like a binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableFile(f"{name}: is not UTF-8 text") from None
    return check_text(text, name)


def _first_line_title(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line[:120] if len(line) <= 120 else ""
    return ""


def _read_markdown(data: bytes, name: str) -> tuple[str, str]:
    text = _decode_text(data, name)
    title = ""
    for line in text.splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip()
            break
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_HEADING.sub("", text)
    text = _MD_EMPHASIS.sub("", text)
    return text, title


def clean_pages(pages: list[str]) -> tuple[str, list[int]]:
    """The cleaned text of a paged document and the offset where each page begins in it.

    Each page is cleaned on its own and the pages are joined by a paragraph break, so the offsets are those of
    the final text. A page with no text starts where the next page does (its number is kept, never cited).
    """
    text, starts = "", []
    for page in pages:
        cleaned = clean_text(page)
        if cleaned and text:
            text += _PAGE_SEPARATOR
        starts.append(len(text) + (len(_PAGE_SEPARATOR) if text and not cleaned else 0))
        text += cleaned
    return text, starts


def load_bytes(
    name: str,
    data: bytes,
    *,
    doc_id: str | None = None,
    title: str | None = None,
    source: str = "",
    metadata: dict[str, str] | None = None,
    limits: ParseLimits | None = None,
    cancel: threading.Event | None = None,
) -> Document:
    """Turn a file's bytes into a cleaned Document; raises UnsupportedFile or UnreadableFile.

    HTML and PDF are parsed in a child process under `limits` (default: the settings' defaults); a file over a
    limit raises DocumentOverLimit (an UnreadableFile with status 413). Setting `cancel` stops the parse.
    """
    limits = limits or ParseLimits.defaults()
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedFile(
            f"{name}: unsupported file type {suffix or '(none)'}; supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    meta = dict(metadata or {})
    meta.pop(PAGE_STARTS_KEY, None)  # page numbers come from the PDF itself, never from folder metadata
    if suffix == ".pdf":
        raw, found_title = parse_isolated("pdf", data, name, limits, cancel)
        text, starts = clean_pages(raw.split(PAGE_BREAK))
        meta[PAGE_STARTS_KEY] = ",".join(map(str, starts))
    else:
        if suffix in (".html", ".htm"):
            raw, found_title = parse_isolated("html", _decode_text(data, name), name, limits, cancel)
        elif suffix in (".md", ".markdown"):
            raw, found_title = _read_markdown(data, name)
        else:
            raw, found_title = _decode_text(data, name), ""
        text = clean_text(raw)
    if not text:
        raise UnreadableFile(f"{name}: contains no text")
    final_title = title or meta.get("title") or found_title or _first_line_title(text) or Path(name).stem
    return Document(
        doc_id=doc_id or derive_doc_id(_stem(name)),
        title=final_title.strip(),
        text=text,
        source=source or name,
        metadata=meta,
    )


def load_text(text: str, title: str, doc_id: str | None = None, source: str = "") -> Document:
    """A Document from plain text given directly (e.g. the API's JSON upload); the same rules as a text file."""
    cleaned = clean_text(check_text(text, "the text"))
    if not cleaned:
        raise UnreadableFile("the document contains no text")
    return Document(
        doc_id=doc_id or derive_doc_id(title.strip() or "Untitled"),
        title=title.strip() or "Untitled",
        text=cleaned,
        source=source or "text",
    )


def _folder_metadata(folder: Path) -> dict[str, dict[str, str]]:
    path = folder / METADATA_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): {str(a): str(b) for a, b in v.items()} for k, v in data.items() if isinstance(v, dict)}


def iter_files(paths: list[Path]) -> list[tuple[Path, Path]]:
    """The files under `paths` as (root, file) pairs, sorted; hidden files and the metadata file are skipped."""
    found: list[tuple[Path, Path]] = []
    for path in paths:
        if path.is_file():
            found.append((path.parent, path))
        elif path.is_dir():
            for file in sorted(path.rglob("*")):
                rel = file.relative_to(path)
                if (
                    file.is_file()
                    and not any(p.startswith(".") for p in rel.parts)
                    and file.name != METADATA_FILE
                ):
                    found.append((path, file))
    return found


def load_paths(paths: list[Path], limits: ParseLimits | None = None) -> LoadResult:
    """Load every supported file under `paths`; unreadable or unsupported files are reported, not fatal."""
    result = LoadResult()
    seen: set[str] = set()
    metadata_cache: dict[Path, dict[str, dict[str, str]]] = {}
    for root, file in iter_files(paths):
        rel = file.relative_to(root).as_posix()
        if root not in metadata_cache:
            metadata_cache[root] = _folder_metadata(root)
        meta = metadata_cache[root].get(rel, {})
        try:
            doc = load_bytes(
                rel,
                file.read_bytes(),
                source=str(file.resolve()),
                metadata=meta,
                doc_id=meta.get("doc_id"),
                limits=limits,
            )
        except (UnsupportedFile, UnreadableFile) as exc:
            result.failures.append((str(file), str(exc).split(": ", 1)[-1]))
            continue
        except OSError as exc:
            result.failures.append((str(file), exc.strerror or str(exc)))
            continue
        doc_id, n = doc.doc_id, 2
        while doc_id in seen:
            doc_id, n = f"{doc.doc_id}-{n}", n + 1
        seen.add(doc_id)
        if doc_id != doc.doc_id:
            doc = Document(
                doc_id=doc_id, title=doc.title, text=doc.text, source=doc.source, metadata=doc.metadata
            )
        result.documents.append(doc)
    return result
