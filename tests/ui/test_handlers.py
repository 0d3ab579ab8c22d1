"""ui.handlers over a real Pipeline: streamed answers, history, readable errors, uploads and removals."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import gradio as gr
import pytest

from rag.embedding import Embedder
from rag.pipeline import Pipeline
from tests.conftest import make_settings
from ui import render, sources
from ui.handlers import SEED_EXAMPLES, PageHandlers

QUESTION = "How large is the warehouse at Liège airport?"
FIRST, FOLLOW_UP = "When did Alibaba begin building its warehouse at Liège Airport?", "How large is it?"


def run(
    handlers: PageHandlers,
    question: str,
    session: dict | None = None,
    top_k: object = 5,
    mode: str | None = "extractive",
) -> list[tuple]:
    return list(handlers.ask(question, session, top_k, mode))


def chat_of(outputs: list[tuple]) -> list[dict]:
    return outputs[-1][1]


def test_answer_streams_in_pieces_then_renders_in_full(seed_pipeline: Pipeline) -> None:
    expected = seed_pipeline.ask(QUESTION, top_k=5)
    outputs = run(PageHandlers(seed_pipeline), QUESTION)
    partials = [o[1][-1]["content"] for o in outputs[1:-1]]
    words = len(expected.answer.split())
    assert len(partials) == words, "one chat update per streamed piece"
    assert all('class="typing"' in p for p in partials)
    assert [len(p) for p in partials] == sorted(len(p) for p in partials)
    final = outputs[-1]
    assert final[1][-1]["content"] == render.answer_markdown(expected, 1)
    assert final[3] == sources.sources_html(expected, PageHandlers(seed_pipeline).locator(), 1)
    assert "cite-answer-1" in final[1][-1]["content"] and 'data-answer="1"' in final[3]
    assert "characters" not in final[3] and "paragraph" in final[3]
    session = final[2]
    assert session["turns"] == [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": expected.answer},
    ]
    assert session["answers"][1]["answer"] == expected.answer
    assert outputs[0][0] == "", "the question box is cleared at once"


def test_follow_up_passes_the_conversation(seed_pipeline: Pipeline) -> None:
    handlers = PageHandlers(seed_pipeline)
    session = run(handlers, FIRST)[-1][2]
    expected = seed_pipeline.ask(FOLLOW_UP, history=list(session["turns"]), top_k=5)
    assert expected.answer != seed_pipeline.ask(FOLLOW_UP, top_k=5).answer, (
        "precondition: history matters here"
    )
    outputs = run(handlers, FOLLOW_UP, session)
    assert chat_of(outputs)[-1]["content"] == render.answer_markdown(expected, 3)
    assert len(chat_of(outputs)) == 4 and len(outputs[-1][2]["turns"]) == 4


def test_empty_question_is_refused_without_touching_the_chat(seed_pipeline: Pipeline) -> None:
    outputs = run(PageHandlers(seed_pipeline), "   ")
    assert len(outputs) == 1
    assert "Type a question first." in outputs[0][4]
    assert outputs[0][2]["messages"] == []


def test_rag_error_message_is_shown_and_not_remembered(seed_pipeline: Pipeline) -> None:
    outputs = run(PageHandlers(seed_pipeline), QUESTION, mode="telepathic")
    last = chat_of(outputs)[-1]["content"]
    assert "unknown answer mode" in last and 'class="error"' in last
    assert outputs[-1][2]["turns"] == [] and outputs[-1][2]["answers"] == {}


def test_unexpected_error_is_generic_on_the_page_and_logged(
    seed_pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="ui.handlers"):
        outputs = run(PageHandlers(seed_pipeline), QUESTION, top_k="many")
    last = chat_of(outputs)[-1]["content"]
    assert "Something went wrong while answering the question" in last
    assert "Traceback" not in last and "ValueError" not in last
    assert any(r.exc_info and r.exc_info[0] is ValueError for r in caplog.records)


def test_selecting_an_answer_shows_its_sources(seed_pipeline: Pipeline) -> None:
    handlers = PageHandlers(seed_pipeline)
    session = run(handlers, QUESTION)[-1][2]
    shown = handlers.select(session, gr.SelectData(None, {"index": 1, "value": ""}))
    assert shown == handlers.sources_html(session["answers"][1], 1)
    assert handlers.select(session, gr.SelectData(None, {"index": 0, "value": ""})) is not None


def test_refresh_lists_documents_and_shows_examples_of_indexed_ones(seed_pipeline: Pipeline) -> None:
    table, dropdown, *buttons = PageHandlers(seed_pipeline).refresh()
    for record in seed_pipeline.documents():
        assert f'data-doc="{record.doc_id}"' in table
    assert len(dropdown.choices) == len(seed_pipeline.documents())
    assert len(buttons) == len(SEED_EXAMPLES) and all(b.visible for b in buttons)


def test_upload_indexes_good_files_and_reports_bad_ones(writable_pipeline: Pipeline, tmp_path: Path) -> None:
    good, bad = tmp_path / "tide-notes.md", tmp_path / "tool.exe"
    good.write_text("# Tide notes\n\nThe Varn tide peaks at noon on the third day.\n", encoding="utf-8")
    bad.write_bytes(b"MZ\x00\x01")
    cleared, status, table, _dropdown, *_ = PageHandlers(writable_pipeline).upload([str(good), str(bad)])
    assert cleared is None
    assert "Indexed: Tide notes (tide-notes)" in status
    assert "Not indexed: tool.exe: unsupported file type .exe" in status
    assert 'data-doc="tide-notes"' in table and "tool" not in table
    assert "tide-notes" in {d.doc_id for d in writable_pipeline.documents()}
    answer = writable_pipeline.ask("When does the Varn tide peak?")
    assert any(c.doc_id == "tide-notes" for c in answer.citations)


def test_upload_over_the_limit_is_refused(tmp_path: Path, seed_index_dir: Path, embedder: Embedder) -> None:
    shutil.copytree(seed_index_dir / "seed", tmp_path / "index" / "seed")
    pipeline = Pipeline(make_settings(tmp_path / "index", max_upload_bytes=100), embedder=embedder)
    big = tmp_path / "big.txt"
    big.write_text("Big file.\n" + "word " * 100, encoding="utf-8")
    _, status, *_ = PageHandlers(pipeline).upload([str(big)])
    assert "Not indexed: big.txt is 510 bytes; the upload limit is 100 bytes" in status
    assert "big" not in {d.doc_id for d in pipeline.documents()}


def test_upload_with_nothing_chosen(seed_pipeline: Pipeline) -> None:
    _, status, *_ = PageHandlers(seed_pipeline).upload(None)
    assert "Choose one or more files" in status


def test_removal_is_asked_first_and_can_be_cancelled(writable_pipeline: Pipeline) -> None:
    handlers = PageHandlers(writable_pipeline)
    record = writable_pipeline.documents()[0]
    pending, box, question, status = handlers.ask_remove(record.doc_id)
    assert pending == record.doc_id and box.visible and status == ""
    assert render.escape_html(record.title) in question and "cannot be undone" in question
    assert record.doc_id in {d.doc_id for d in writable_pipeline.documents()}, "asking removes nothing"
    pending, box, question, status = handlers.cancel_remove(record.doc_id)
    assert pending is None and not box.visible and "nothing was removed" in status
    assert record.doc_id in {d.doc_id for d in writable_pipeline.documents()}
    pending, box, _, status = handlers.ask_remove(None)
    assert pending is None and not box.visible and "Choose a document" in status
    pending, box, _, status = handlers.ask_remove("no-such-doc")
    assert pending is None and not box.visible and "no longer indexed" in status


def test_remove(writable_pipeline: Pipeline) -> None:
    handlers = PageHandlers(writable_pipeline)
    doc_id = writable_pipeline.documents()[0].doc_id
    pending, box, _, status, table, *_ = handlers.remove(doc_id)
    assert pending is None and not box.visible
    assert f"Removed {doc_id}." in status and f'data-doc="{doc_id}"' not in table
    assert doc_id not in {d.doc_id for d in writable_pipeline.documents()}
    status = handlers.remove(doc_id)[3]
    assert "no document with id" in status and 'class="status error"' in status
    status = handlers.remove(None)[3]
    assert "Choose a document" in status
