"""Document loaders for .txt, .md, .html and .pdf files (and uploaded bytes), producing cleaned Documents."""

from __future__ import annotations

import io
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from rag.cleaning import clean_text
from rag.errors import UnreadableFile, UnsupportedFile
from rag.types import Document

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
METADATA_FILE = "metadata.json"
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_HEADING = re.compile(r"^#{1,6}\s*", re.MULTILINE)
_MD_EMPHASIS = re.compile(r"(\*\*|__|`)")
_HTML_BLOCKS = "h1, h2, h3, h4, h5, h6, p, li, ul, ol, td, tr, table, pre, blockquote, div, section, article, br"
_DOC_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-/]+")


@dataclass
class LoadResult:
    """Documents read from some paths, and the files that could not be read with the reason."""

    documents: list[Document] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)


def make_doc_id(name: str) -> str:
    """A URL- and shell-safe document id from a relative file name (extension dropped)."""
    stem = name.rsplit(".", 1)[0] if "." in Path(name).name else name
    doc_id = _DOC_ID_UNSAFE.sub("-", stem.replace("\\", "/")).strip("-/")
    return doc_id or "document"


def _decode_text(data: bytes, name: str) -> str:
    if b"\x00" in data[:8192]:
        raise UnreadableFile(f"{name}: looks like a binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableFile(f"{name}: is not UTF-8 text") from None
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > 0.02 * max(1, min(len(text), 8192)):
        raise UnreadableFile(f"{name}: looks like a binary file, not text")
    return text


def _first_line_title(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line[:120] if len(line) <= 120 else ""
    return ""


def _read_html(data: bytes, name: str) -> tuple[str, str]:
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

    tree = HTMLParser(_decode_text(data, name))
    title_node = tree.css_first("title")
    title = title_node.text(strip=True) if title_node else ""
    for selector in ("script", "style", "noscript", "nav", "footer", "header", "aside", "form", "iframe", "svg"):
        for node in tree.css(selector):
            node.decompose()
    root = tree.body or tree.root
    if root is None:
        return "", title
    for node in root.css(_HTML_BLOCKS):
        node.insert_after("\n\n")  # block boundaries become paragraph breaks; inline markup joins seamlessly
    text = root.text(separator="")
    if not title:
        heading = tree.css_first("h1")
        title = heading.text(strip=True) if heading else ""
    return text, title


def _read_pdf(data: bytes, name: str) -> tuple[str, str]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        title = ""
        if reader.metadata is not None and reader.metadata.title:
            title = str(reader.metadata.title)
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise UnreadableFile(f"{name}: not a readable PDF ({exc.__class__.__name__})") from None
    return "\n\n".join(pages), title


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


def load_bytes(name: str, data: bytes, *, doc_id: str | None = None, title: str | None = None,
               source: str = "", metadata: dict[str, str] | None = None) -> Document:
    """Turn a file's bytes into a cleaned Document; raises UnsupportedFile or UnreadableFile."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedFile(
            f"{name}: unsupported file type {suffix or '(none)'}; supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    if suffix == ".pdf":
        raw, found_title = _read_pdf(data, name)
    elif suffix in (".html", ".htm"):
        raw, found_title = _read_html(data, name)
    elif suffix in (".md", ".markdown"):
        raw, found_title = _read_markdown(data, name)
    else:
        raw, found_title = _decode_text(data, name), ""
    text = clean_text(raw)
    if not text:
        raise UnreadableFile(f"{name}: contains no text")
    meta = dict(metadata or {})
    final_title = title or meta.get("title") or found_title or _first_line_title(text) or Path(name).stem
    return Document(doc_id=doc_id or make_doc_id(name), title=final_title.strip(), text=text,
                    source=source or name, metadata=meta)


def load_text(text: str, title: str, doc_id: str | None = None, source: str = "") -> Document:
    """A Document from plain text given directly (e.g. the API's JSON upload)."""
    cleaned = clean_text(text)
    if not cleaned:
        raise UnreadableFile("the document contains no text")
    return Document(doc_id=doc_id or make_doc_id(title), title=title.strip() or "Untitled", text=cleaned,
                    source=source or "text")


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
                if file.is_file() and not any(p.startswith(".") for p in rel.parts) and file.name != METADATA_FILE:
                    found.append((path, file))
    return found


def load_paths(paths: list[Path]) -> LoadResult:
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
            doc = load_bytes(rel, file.read_bytes(), source=str(file.resolve()), metadata=meta,
                             doc_id=meta.get("doc_id"))
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
            doc = Document(doc_id=doc_id, title=doc.title, text=doc.text, source=doc.source, metadata=doc.metadata)
        result.documents.append(doc)
    return result
