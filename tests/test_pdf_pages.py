"""PDF pages: the loader keeps page boundaries, chunks never span two pages, and every citation of a PDF carries
its page number (API object, sources card, CLI)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from rag.answer.extractive import citation_for
from rag.chunking import chunk_document, page_ranges
from rag.documents import clean_pages, load_bytes, load_paths
from rag.embedding import Embedder
from rag.pipeline import Pipeline
from rag.types import Document, Passage
from tests.conftest import make_settings, pdf_bytes, pdf_escape, run_rag
from ui.sources import card_html

# One fact per page, each asked about below; filler sentences make every page longer than one chunk.
FACTS = [
    "The Dunmore reactor has 42 cooling pumps.",
    "The Harwick lighthouse was painted red in 1911.",
    "The Corvel bridge spans 380 metres across the river Lune.",
]
QUESTIONS = [
    "How many cooling pumps does the Dunmore reactor have?",
    "In which year was the Harwick lighthouse painted red?",
    "How long is the Corvel bridge?",
]
FILLER = [
    "Inspectors visited the site every spring and wrote a short report afterwards.",
    "The reports were filed in the county archive together with the drawings.",
    "Visitors may read them on weekdays between nine and five o'clock.",
    "A summary of each report was printed in the local newspaper.",
    "Several photographs from the inspections are kept in the archive as well.",
    "The archive also holds letters from the engineers who designed the works.",
]


def page_lines(number: int) -> list[str]:
    """The lines of page `number` (1-based): filler, the page's fact, more filler, and on page 1 a sentence
    that runs on into page 2 (so the loader must split it at the page boundary)."""
    lines = [f"Section {number}.", *FILLER[:3], FACTS[number - 1], *FILLER[3:]]
    if number == 1:
        lines.append("This sentence starts on the first page and")
    if number == 2:
        lines.insert(0, "ends on the second page.")
    return lines


def make_paged_pdf(pages: list[list[str]], title: str = "") -> bytes:
    """A small, valid PDF with one page per entry of `pages`, each a list of text lines in Helvetica."""

    esc = pdf_escape
    n = len(pages)
    font, info = 3 + 2 * n, 4 + 2 * n
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n))
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", f"<< /Type /Pages /Kids [{kids}] /Count {n} >>"]
    for i, lines in enumerate(pages):
        content = "BT /F1 10 Tf 40 750 Td 14 TL " + " ".join(f"({esc(line)}) Tj T*" for line in lines) + " ET"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>"
        )
        objects.append(f"<< /Length {len(content.encode('latin-1'))} >>\nstream\n{content}\nendstream")
    objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    objects.append(f"<< /Title ({esc(title)}) >>" if title else "<< >>")
    return pdf_bytes(objects, info)


PDF = make_paged_pdf([page_lines(p) for p in (1, 2, 3)], "Inspection notes")


def page_of_text(doc: Document, needle: str) -> int | None:
    found = doc.text.find(needle)
    assert found >= 0, needle
    return doc.page_at(found)


def test_loader_records_page_starts_in_the_cleaned_text() -> None:
    doc = load_bytes("notes.pdf", PDF)
    starts = doc.page_starts()
    assert doc.metadata["page_starts"] == ",".join(map(str, starts))
    assert len(starts) == 3 and starts[0] == 0
    for number in (1, 2, 3):
        assert page_of_text(doc, FACTS[number - 1]) == number
        assert doc.text[starts[number - 1] :].startswith(f"Section {number}." if number != 2 else "ends on")
    # pages are separated by a paragraph break, so the run-on sentence is two sentences
    assert doc.text[starts[1] - 2 : starts[1]] == "\n\n"
    assert page_of_text(doc, "This sentence starts") == 1 and page_of_text(doc, "ends on the second") == 2


def test_text_files_have_no_pages_even_if_folder_metadata_claims_some(tmp_path: Path) -> None:
    doc = load_bytes("notes.txt", b"Plain text. Two sentences.", metadata={"page_starts": "0,5"})
    assert "page_starts" not in doc.metadata and doc.page_starts() == [] and doc.page_at(3) is None
    (tmp_path / "notes.pdf").write_bytes(PDF)
    (tmp_path / "metadata.json").write_text('{"notes.pdf": {"page_starts": "0,1", "title": "T"}}')
    loaded = load_paths([tmp_path]).documents[0]
    assert loaded.title == "T" and len(loaded.page_starts()) == 3


def test_clean_pages_offsets_and_empty_pages() -> None:
    text, starts = clean_pages(["  First   page.  ", "", "< p >Third page.", "\n\n", "Fifth."])
    assert text == "First page.\n\nThird page.\n\nFifth."
    assert starts == [0, 13, 13, 26, 26]
    doc = Document("d", "t", text, metadata={"page_starts": ",".join(map(str, starts))})
    assert [doc.page_at(text.find(w)) for w in ("First", "Third", "Fifth")] == [1, 3, 5]
    assert clean_pages(["", "Only page two."]) == ("Only page two.", [0, 0])


@pytest.mark.parametrize("raw", ["", "x", "5,10", "0,10,5", "0,a"])
def test_malformed_page_starts_mean_no_pages(raw: str) -> None:
    doc = Document("d", "t", "some text here", metadata={"page_starts": raw})
    assert doc.page_starts() == [] and doc.page_at(4) is None


@pytest.mark.parametrize("chunk_size", [80, 200, 600, 5000])
def test_no_chunk_or_sentence_crosses_a_page_boundary(chunk_size: int) -> None:
    doc = load_bytes("notes.pdf", PDF)
    chunks = chunk_document(doc, chunk_size=chunk_size, overlap=1)
    assert len(chunks) >= 3
    for chunk in chunks:
        page = doc.page_at(chunk.start)
        assert doc.page_at(chunk.end - 1) == page, (chunk.start, chunk.end)
        for start, end in chunk.sentences:
            assert doc.page_at(start) == doc.page_at(end - 1) == page
    # every page's text is in some chunk: nothing dropped at the boundaries
    for number, (start, end) in enumerate(page_ranges(doc), start=1):
        covered = [c for c in chunks if doc.page_at(c.start) == number]
        assert (
            covered
            and covered[0].start == start
            and covered[-1].end == start + len(doc.text[start:end].rstrip())
        )


def test_documents_without_pages_chunk_as_before() -> None:
    text = " ".join(FILLER * 3)
    with_pages = Document("d", "t", text, metadata={"page_starts": "0"})
    assert chunk_document(Document("d", "t", text), 200) == chunk_document(with_pages, 200)
    assert page_ranges(Document("d", "t", text)) == [(0, len(text))]


def test_citation_for_gives_the_page_and_none_without_pages() -> None:
    doc = load_bytes("notes.pdf", PDF)
    plain = Document("plain", "Plain", "One sentence here. Another one there.")
    data = SimpleNamespace(documents={doc.doc_id: doc, plain.doc_id: plain})
    for chunk in chunk_document(doc, 200):
        for start, end in chunk.sentences:
            citation = citation_for(1, Passage(chunk, 0.5), start, end, 0.5, data)  # type: ignore[arg-type]
            assert citation.page == doc.page_at(start) and citation.page in (1, 2, 3)
    chunk = chunk_document(plain)[0]
    citation = citation_for(1, Passage(chunk, 0.5), chunk.start, chunk.end, 0.5, data)  # type: ignore[arg-type]
    assert citation.page is None and "page" not in card_html([citation])
    assert "characters" not in card_html([citation])


def test_each_page_is_cited_with_its_page_number(tmp_path: Path, embedder: Embedder) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "notes.pdf").write_bytes(PDF)
    (folder / "plain.txt").write_text("The Marlow canal is 14 kilometres long. Barges use it in summer.\n")
    settings = make_settings(tmp_path / "index")
    Pipeline(settings, embedder=embedder).index([folder])
    pipeline = Pipeline(settings, embedder=embedder)  # a fresh pipeline: metadata read back from disk
    doc = pipeline.data.documents["notes"]
    assert len(doc.page_starts()) == 3
    for number, question in enumerate(QUESTIONS, start=1):
        answer = pipeline.ask(question)
        assert answer.outcome == "answered", (question, answer.answer)
        cited = answer.citations[0]
        assert cited.doc_id == "notes" and cited.page == number, (question, cited)
        assert FACTS[number - 1] in cited.quote or cited.quote in FACTS[number - 1]
        assert answer.model_dump()["citations"][0]["page"] == number  # the API / --json shape
        assert f"page {number}" in card_html([cited])
    txt = pipeline.ask("How long is the Marlow canal?")
    assert txt.citations and txt.citations[0].doc_id == "plain" and txt.citations[0].page is None
    for _, chunk in pipeline.data.iter_chunks():
        if chunk.doc_id == "notes":
            assert doc.page_at(chunk.start) == doc.page_at(chunk.end - 1)


def test_uploaded_pdf_citations_carry_the_page(writable_pipeline: Pipeline) -> None:
    doc = writable_pipeline.add_file("inspection.pdf", PDF)
    answer = writable_pipeline.ask(QUESTIONS[1])
    assert answer.citations and answer.citations[0].doc_id == doc.doc_id and answer.citations[0].page == 2


def test_cli_shows_the_page(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "notes.pdf").write_bytes(PDF)
    done = run_rag(["index", str(folder), "--index", "pdfs"], tmp_path / "index")
    assert done.returncode == 0, done.stderr
    done = run_rag(["ask", QUESTIONS[2], "--index", "pdfs"], tmp_path / "index")
    assert done.returncode == 0, done.stderr
    assert "(notes, page 3, chars" in done.stdout, done.stdout
