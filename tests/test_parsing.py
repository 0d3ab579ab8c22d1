"""Pathological HTML and PDF files are refused fast with a 413, by structure limits or by the parse time limit."""

from __future__ import annotations

import dataclasses
import io
import multiprocessing
import time
import zlib

import pytest
from pypdf import PdfWriter

from rag.documents import load_bytes
from rag.parsing import DocumentOverLimit, ParseLimits
from tests.conftest import make_pdf

DEFAULTS = ParseLimits.defaults()


def nested_divs(n: int) -> bytes:
    return b"<html><body>" + b"<div>" * n + b"deep text" + b"</div>" * n + b"</body></html>"


def blank_pdf(pages: int) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(612, 792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def inflating_pdf(text_bytes: int) -> bytes:
    """A one-page PDF whose Flate-compressed content stream inflates to about `text_bytes` bytes."""
    content = b"BT /F1 12 Tf 72 720 Td (" + b"A" * text_bytes + b") Tj ET"
    packed = zlib.compress(content, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>"
        ),
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_half_a_million_nested_divs_are_refused_in_seconds() -> None:
    data = nested_divs(500_000)
    started = time.perf_counter()
    with pytest.raises(DocumentOverLimit) as info:
        load_bytes("deep.html", data)
    assert time.perf_counter() - started < 5  # the parse itself would take minutes at full core
    assert info.value.status_code == 413
    assert str(info.value).startswith("deep.html") and "RAG_MAX_HTML_DEPTH" in str(info.value)


def test_ordinary_nesting_and_sloppy_markup_still_load() -> None:
    doc = load_bytes("nested.html", nested_divs(DEFAULTS.max_html_depth - 10))
    assert doc.text == "deep text"
    sloppy = b"<title>Sloppy</title><ul>" + b"<li>item <b>bold" * 3000 + b"</ul><p>one<p>two<br><img src=x>"
    assert load_bytes("sloppy.html", sloppy).title == "Sloppy"
    scripted = b"<p>Visible.</p><script>" + b"<div>" * 5000 + b"</script><!-- " + b"<div>" * 5000 + b" -->"
    assert load_bytes("scripted.html", scripted).text == "Visible."


def test_too_many_elements_are_refused() -> None:
    limits = dataclasses.replace(DEFAULTS, max_html_elements=1000)
    flat = b"<span>x</span>" * 1001
    with pytest.raises(DocumentOverLimit, match="RAG_MAX_HTML_ELEMENTS"):
        load_bytes("flat.html", flat, limits=limits)
    assert load_bytes("flat.html", b"<span>x</span>" * 999, limits=limits).text.startswith("xxx")


def test_a_parse_over_the_time_limit_is_killed() -> None:
    limits = dataclasses.replace(DEFAULTS, max_html_depth=100_000, timeout=0.5)
    started = time.perf_counter()
    with pytest.raises(DocumentOverLimit, match="RAG_PARSE_TIMEOUT"):
        load_bytes("slow.html", nested_divs(60_000), limits=limits)  # a parse of several seconds
    assert time.perf_counter() - started < 3
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("rag-parse")]


def test_pdf_page_and_decompressed_size_limits() -> None:
    limits = dataclasses.replace(DEFAULTS, max_pdf_pages=10, max_pdf_decompressed_bytes=1_000_000)
    with pytest.raises(DocumentOverLimit, match="RAG_MAX_PDF_PAGES") as info:
        load_bytes("many.pdf", blank_pdf(50), limits=limits)
    assert "50 pages" in str(info.value)
    bomb = inflating_pdf(5_000_000)
    assert len(bomb) < 20_000
    with pytest.raises(DocumentOverLimit, match="RAG_MAX_PDF_DECOMPRESSED_BYTES"):
        load_bytes("bomb.pdf", bomb, limits=limits)
    assert "AAAA" in load_bytes("small.pdf", inflating_pdf(10_000), limits=limits).text
    pdf = load_bytes("report.pdf", make_pdf(["The reactor has 42 pumps."], "Reactor"), limits=limits)
    assert pdf.title == "Reactor" and "42 pumps" in pdf.text
