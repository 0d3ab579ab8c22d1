"""Loaders read .txt/.md/.html/.pdf; unreadable files are reported by name and skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.documents import load_bytes, load_paths, make_doc_id
from rag.errors import UnreadableFile, UnsupportedFile
from tests.conftest import CORPUS, make_pdf


def test_seed_corpus_loads_with_titles_from_metadata() -> None:
    result = load_paths([CORPUS])
    assert result.failures == []
    ids = sorted(d.doc_id for d in result.documents)
    assert ids == [
        "2015-tmall-global-cross-border-import",
        "2016-counterfeit-notorious-markets-dispute",
        "2016-singles-day-goes-global",
        "2020-alibaba-europe-expansion",
        "2021-12-alibaba-investor-day-overseas",
    ]
    investor = next(d for d in result.documents if d.doc_id.startswith("2021-12"))
    assert investor.title == "Alibaba ramps up investment in overseas markets expansion, CEO says"
    assert investor.metadata["date"] == "2021-12-20"


def test_markdown_html_and_pdf_loaders() -> None:
    md = load_bytes("notes/guide.md", b"# Setup Guide\n\nRun **make run** and read [the docs](http://x).\n")
    assert md.title == "Setup Guide" and md.doc_id == "notes/guide"
    assert "Run make run and read the docs." in md.text and "http" not in md.text

    page = (
        b"<html><head><title>Page</title><script>var x = 1;</script></head><body><nav>Menu</nav>"
        b"<h1>Heading</h1><p>The warehouse opened in <b>May</b>.</p><footer>Copyright</footer></body></html>"
    )
    html = load_bytes("page.html", page)
    assert html.title == "Page"
    assert "The warehouse opened in May." in html.text
    assert "var x" not in html.text and "Menu" not in html.text and "Copyright" not in html.text

    pdf = load_bytes(
        "report.pdf", make_pdf(["The reactor has 42 pumps.", "It was built in 1999."], "Reactor")
    )
    assert pdf.title == "Reactor"
    assert "The reactor has 42 pumps." in pdf.text and "1999" in pdf.text


@pytest.mark.parametrize(
    ("name", "data", "error"),
    [
        ("blob.txt", b"\x00\x01\x02binary\x00data", UnreadableFile),
        ("latin.txt", "caf\xe9".encode("latin-1") * 3, UnreadableFile),
        ("empty.txt", b"   \n\n ", UnreadableFile),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", UnreadableFile),
        ("image.png", b"\x89PNG\r\n", UnsupportedFile),
        ("noext", b"text", UnsupportedFile),
    ],
)
def test_bad_files_raise_clear_errors(name: str, data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        load_bytes(name, data)
    assert str(info.value).startswith(name)


def test_a_folder_with_bad_files_reports_them_and_loads_the_rest(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Penguins live in Antarctica.", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    (tmp_path / ".hidden.txt").write_text("secret", encoding="utf-8")
    result = load_paths([tmp_path])
    assert [d.doc_id for d in result.documents] == ["good"]
    failed = {Path(path).name: reason for path, reason in result.failures}
    assert set(failed) == {"binary.txt", "photo.jpg"}
    assert "binary" in failed["binary.txt"] and "unsupported" in failed["photo.jpg"]


def test_doc_ids_are_safe() -> None:
    assert make_doc_id("My Notes/Q3 report (final).txt") == "My-Notes/Q3-report-final"
    assert make_doc_id("../../etc/passwd.md") == "..-..-etc/passwd" or "/" not in make_doc_id("x")


def test_derived_ids_always_match_the_api_pattern_and_never_collide() -> None:
    import re

    from rag.api.schemas import DOC_ID_PATTERN
    from rag.documents import derive_doc_id, load_text

    labels = [
        "../../etc/passwd",
        ".",
        "..",
        "./x",
        "a//b",
        "Otters!",
        "Otters?",
        "Otters",
        "-lead",
        "x" * 400,
        "notes/guide",
        "2020-alibaba-europe-expansion",
    ]
    ids = [derive_doc_id(label) for label in labels]
    assert all(re.match(DOC_ID_PATTERN, i) and len(i) <= 200 for i in ids), ids
    assert len(set(ids)) == len(ids)
    assert derive_doc_id("notes/guide") == "notes/guide" and derive_doc_id("Otters") == "Otters"
    assert derive_doc_id("Otters!") == derive_doc_id(
        "Otters!"
    )  # stable: the same title replaces its document
    assert re.match(DOC_ID_PATTERN, make_doc_id("../../etc/passwd.md"))
    assert re.match(DOC_ID_PATTERN, load_bytes("...txt", b"dots").doc_id)
    assert load_text("Some text.", "..").doc_id != load_text("Some text.", ".").doc_id


def test_control_characters_follow_one_rule_for_files_and_text() -> None:
    from rag.documents import load_text

    text = "Ferry.\x01\x02\x03 " * 100
    with pytest.raises(UnreadableFile, match="binary"):
        load_bytes("controls.txt", text.encode())
    with pytest.raises(UnreadableFile, match="binary"):
        load_text(text, "controls")
    few = "Ferry times are posted daily.\x01 " * 10  # about 3 % controls: refused both ways
    with pytest.raises(UnreadableFile):
        load_text(few, "few")
    fine = "Ferry times are posted daily at the harbour office.\x0b " * 10
    assert load_text(fine, "fine").text and load_bytes("fine.txt", fine.encode()).text
