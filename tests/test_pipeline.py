"""The Pipeline: bad input gets clear errors and loses nothing; follow-ups use the conversation; uploads work."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import DocumentNotFound, InvalidInput, UnreadableFile, UnsupportedFile
from rag.pipeline import Pipeline
from tests.conftest import make_pdf


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_empty_question_is_refused(seed_pipeline: Pipeline, question: str) -> None:
    with pytest.raises(InvalidInput, match="empty"):
        seed_pipeline.ask(question)


def test_over_long_question_is_refused_with_the_limit(seed_pipeline: Pipeline) -> None:
    with pytest.raises(InvalidInput, match="2001 characters long; the limit is 2000"):
        seed_pipeline.ask("x" * 2001)
    assert seed_pipeline.ask("y" * 1990).question  # at the limit it is answered (or abstains), no error


def test_bad_top_k_and_mode_are_refused(seed_pipeline: Pipeline) -> None:
    with pytest.raises(InvalidInput, match="top_k"):
        seed_pipeline.ask("Where is Lazada?", top_k=0)
    with pytest.raises(InvalidInput, match="unknown answer mode"):
        seed_pipeline.ask("Where is Lazada?", mode="poetry")


def test_follow_up_question_uses_the_conversation(seed_pipeline: Pipeline) -> None:
    history = ["Where is Alibaba building a warehouse in Europe?"]
    passages = seed_pipeline.search("How big is it?", top_k=1, history=history)
    assert "Liege Airport" in passages[0].chunk.text
    answer = seed_pipeline.ask("How big is it?", history=history)
    assert "220000 square meters" in answer.answer
    assert answer.question == "How big is it?"
    # A self-contained question is not bent by the conversation.
    assert seed_pipeline.ask("What is the capital of Australia?", history=history).abstained


def test_stream_pieces_add_up_to_the_answer(seed_pipeline: Pipeline) -> None:
    items = list(seed_pipeline.ask_stream("How large is the warehouse at Liège airport?"))
    final = items[-1]
    assert "".join(items[:-1]) == final.answer and len(items) > 3


def test_an_empty_corpus_is_refused_and_the_index_is_kept(
    writable_pipeline: Pipeline, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    chunks = writable_pipeline.data.chunk_count
    with pytest.raises(InvalidInput, match="no readable documents"):
        writable_pipeline.index([empty])
    (empty / "junk.bin.txt").write_bytes(b"\x00" * 64)
    with pytest.raises(InvalidInput, match="1 unreadable"):
        writable_pipeline.index([empty])
    with pytest.raises(InvalidInput, match="no such file or folder"):
        writable_pipeline.index([tmp_path / "missing"])
    assert writable_pipeline.data.chunk_count == chunks
    assert not writable_pipeline.ask("How large is the warehouse at Liège airport?").abstained


def test_upload_ask_and_delete(writable_pipeline: Pipeline) -> None:
    question = "How many pumps does the reactor have?"
    assert writable_pipeline.ask(question).abstained
    doc = writable_pipeline.add_file(
        "reactor.pdf", make_pdf(["The reactor at Dunmore has 42 cooling pumps.", "It was built in 1999."])
    )
    answer = writable_pipeline.ask(question)
    assert not answer.abstained and answer.citations[0].doc_id == doc.doc_id and "42" in answer.answer
    writable_pipeline.delete_document(doc.doc_id)
    assert all(c.doc_id != doc.doc_id for c in writable_pipeline.ask(question).citations)
    with pytest.raises(DocumentNotFound):
        writable_pipeline.delete_document(doc.doc_id)


def test_failed_uploads_leave_the_index_as_it_was(writable_pipeline: Pipeline) -> None:
    before = [r.doc_id for r in writable_pipeline.documents()]
    with pytest.raises(UnsupportedFile):
        writable_pipeline.add_file("x.exe", b"MZ")
    with pytest.raises(UnreadableFile):
        writable_pipeline.add_file("x.pdf", b"%PDF-1.4 broken")
    assert [r.doc_id for r in writable_pipeline.documents()] == before
