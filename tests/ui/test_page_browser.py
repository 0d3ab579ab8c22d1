"""The chat page in a real browser: ask, read the cited sources, follow up, upload, remove, and see errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import expect

from rag.documents import make_doc_id
from tests.ui.browser import Driver, UiServer
from ui.sources import group_by_passage, strength

ANSWERED = "How large is the warehouse at Liège airport?"
OTHER = "Which pop singer hosted the opening concert of Alibaba's Singles Day event?"
UNANSWERABLE = "Who won the 2018 FIFA World Cup?"
RELATED = "how much did alibaba pay for its stake in lazada?"
FIRST, FOLLOW_UP = "When did Alibaba begin building its warehouse at Liège Airport?", "How large is it?"
TOP_K_QUESTION = "How do IDC and Gartner rank Alibaba's cloud?"  # several passages: fewer with top-k 1

ZORBLAX = (
    "# Zorblax reactor\n\nThe Zorblax fusion reactor stands on the shore of Lake Varnholm. "
    "The Zorblax reactor produces 42 megawatts of electricity for the valley. "
    "It was commissioned by the Varnholm Energy Board.\n"
)
ZORBLAX_QUESTION = "How many megawatts of electricity does the Zorblax reactor produce?"


def norm(text: str) -> str:
    """Whitespace-normalised text, for comparing rendered text with the source."""
    return " ".join(text.split())


def assert_clean(driver: Driver) -> None:
    """No request left the machine, no script error, no traceback on the page."""
    assert driver.external_requests == [], f"the page fetched from outside: {driver.external_requests}"
    assert driver.page_errors == [], f"script errors: {driver.page_errors}"
    assert "Traceback" not in driver.page.locator("body").inner_text()


def test_answer_shows_marker_and_matching_source(driver: Driver, ui_server: UiServer) -> None:
    expected = ui_server.pipeline.ask(ANSWERED)
    assert not expected.abstained and expected.citations, (
        "precondition: the pipeline answers this seed question"
    )
    driver.open(ui_server.url)
    driver.shot("loaded")
    text = driver.ask(ANSWERED)

    first = expected.citations[0]
    assert "[1]" in text
    assert norm(first.quote) in norm(text)
    cards = driver.page.locator("#sources .source")
    expect(cards).to_have_count(len(group_by_passage(expected.citations)))
    card = driver.page.locator('#sources .source[data-n~="1"]')
    expect(card).to_be_visible()
    assert card.get_attribute("data-doc") == first.doc_id
    assert card.locator(".source-title").inner_text() == first.title
    assert norm(card.locator('mark[data-n~="1"]').first.inner_text()) == norm(first.quote)
    assert strength(first.score) in card.inner_text() and f"{first.score:.2f}" not in card.inner_text()

    full = card.locator(".passage-full")
    expect(full).to_be_hidden()
    card.locator("summary").click()
    expect(full).to_be_visible()
    assert norm(full.inner_text()) == norm(first.text)
    assert norm(full.locator('mark[data-n~="1"]').inner_text()) == norm(first.quote)
    driver.shot("source-expanded")
    assert_clean(driver)


def test_follow_up_question_uses_the_conversation(driver: Driver, ui_server: UiServer) -> None:
    pipeline = ui_server.pipeline
    first = pipeline.ask(FIRST)
    with_history = pipeline.ask(
        FOLLOW_UP,
        history=[{"role": "user", "content": FIRST}, {"role": "assistant", "content": first.answer}],
    )
    alone = pipeline.ask(FOLLOW_UP)
    assert with_history.answer != alone.answer, "precondition: the follow-up depends on the earlier turn"
    assert not with_history.abstained

    driver.open(ui_server.url)
    driver.ask(FIRST, "first")
    text = driver.ask(FOLLOW_UP, "follow-up")
    assert norm(with_history.citations[0].quote) in norm(text)
    assert "Not found in the documents" not in text
    expect(driver.page.locator("#chat [data-testid='user']")).to_have_count(2)
    assert_clean(driver)


def test_clicking_an_earlier_answer_shows_its_sources(driver: Driver, ui_server: UiServer) -> None:
    first, second = ui_server.pipeline.ask(ANSWERED), ui_server.pipeline.ask(OTHER)
    assert first.citations and second.citations
    assert first.citations[0].doc_id != second.citations[0].doc_id
    driver.open(ui_server.url)
    driver.ask(ANSWERED, "first")
    driver.ask(OTHER, "second")
    card = driver.page.locator('#sources .source[data-n~="1"]')
    expect(card).to_have_attribute("data-doc", second.citations[0].doc_id)
    driver.bot_messages().nth(0).click()
    expect(card).to_have_attribute("data-doc", first.citations[0].doc_id)
    driver.shot("earlier-sources")
    assert_clean(driver)


def test_example_question_abstains_visibly(driver: Driver, ui_server: UiServer) -> None:
    assert ui_server.pipeline.ask(UNANSWERABLE).abstained, "precondition: the documents do not answer this"
    driver.open(ui_server.url)
    driver.page.get_by_role("button", name=UNANSWERABLE).click()
    text = driver.wait_for_answer(1)
    driver.shot("abstained")
    assert "Not found in the documents." in text
    assert "[1]" not in text
    expect(driver.page.locator("#sources .source")).to_have_count(0)
    expect(driver.page.locator("#sources")).to_contain_text("No sources")
    assert_clean(driver)


def test_related_passages_are_shown_as_such_without_a_claim(driver: Driver, ui_server: UiServer) -> None:
    expected = ui_server.pipeline.ask(RELATED)
    assert expected.outcome == "related" and expected.related, "precondition: related passages, no answer"
    driver.open(ui_server.url)
    text = driver.ask(RELATED)
    driver.shot("related")
    assert "Not stated in the documents." in text and "Not found" not in text
    assert "[1]" not in text
    cards = driver.page.locator("#sources .source")
    expect(cards).to_have_count(len(group_by_passage(expected.related)))
    expect(driver.page.locator("#sources")).to_contain_text("do not state the answer")
    expect(cards.first.locator(".badge.related")).to_be_visible()
    assert norm(cards.first.locator("mark").first.inner_text()) == norm(expected.related[0].quote)
    assert_clean(driver)


def test_top_k_setting_reaches_the_pipeline(driver: Driver, ui_server: UiServer) -> None:
    narrow, default = ui_server.pipeline.ask(TOP_K_QUESTION, top_k=1), ui_server.pipeline.ask(TOP_K_QUESTION)
    assert len(group_by_passage(narrow.citations)) != len(group_by_passage(default.citations)), (
        "precondition: top-k changes the passages cited"
    )
    driver.open(ui_server.url)
    driver.page.get_by_text("Settings").click()
    number = driver.page.locator('#top-k input[type="number"]')
    slider = driver.page.locator('#top-k input[type="range"]')
    expect(slider).to_be_visible()
    expect(number).to_have_value(str(ui_server.pipeline.settings.top_k))
    number.fill("1")
    number.press("Tab")
    expect(slider).to_have_value("1")
    driver.shot("top-k-1")
    driver.ask(TOP_K_QUESTION)
    expect(driver.page.locator("#sources .source")).to_have_count(len(group_by_passage(narrow.citations)))
    assert_clean(driver)


def test_bad_questions_get_readable_errors(driver: Driver, ui_server: UiServer) -> None:
    driver.open(ui_server.url)
    driver.page.locator("#question textarea").press("Enter")
    expect(driver.page.locator("#status")).to_contain_text("Type a question first.")
    driver.shot("empty-question")

    limit = ui_server.pipeline.settings.max_question_chars
    text = driver.ask("why " * (limit // 4 + 10), "too-long")
    assert f"the limit is {limit}" in text
    expect(driver.page.locator("#chat .error")).to_contain_text(f"the limit is {limit}")
    expect(driver.page.locator("#sources .source")).to_have_count(0)
    assert_clean(driver)


def test_upload_ask_and_remove_a_document(
    driver: Driver, start_ui_server: Callable[..., UiServer], tmp_path: Path
) -> None:
    server = start_ui_server()
    before = {r.doc_id for r in server.pipeline.documents()}
    upload = tmp_path / "zorblax-reactor.md"
    upload.write_text(ZORBLAX, encoding="utf-8")
    doc_id = make_doc_id(upload.name)

    driver.open(server.url)
    driver.open_documents()
    driver.shot("documents")
    driver.page.locator("#upload input[type=file]").set_input_files(str(upload))
    expect(driver.page.locator("#upload-status")).to_contain_text("Indexed", timeout=120_000)
    expect(driver.page.locator(f'#documents tr[data-doc="{doc_id}"]')).to_be_visible()
    driver.shot("uploaded")
    assert {r.doc_id for r in server.pipeline.documents()} == before | {doc_id}

    text = driver.ask(ZORBLAX_QUESTION, "ask-upload")
    assert "42 megawatts" in text
    expect(driver.page.locator(f'#sources .source[data-doc="{doc_id}"]').first).to_be_visible()

    driver.page.locator("#remove-choice input").click()
    driver.page.get_by_role("option", name=f"Zorblax reactor ({doc_id})").click()
    driver.page.locator("#remove").click()
    expect(driver.page.locator("#remove-confirm")).to_contain_text("Zorblax reactor")
    driver.shot("remove-asked")
    assert doc_id in {r.doc_id for r in server.pipeline.documents()}, "asking removes nothing"
    driver.page.locator("#remove-yes").click()
    expect(driver.page.locator("#upload-status")).to_contain_text(f"Removed {doc_id}")
    expect(driver.page.locator("#remove-confirm")).to_be_hidden()
    expect(driver.page.locator(f'#documents tr[data-doc="{doc_id}"]')).to_have_count(0)
    driver.shot("removed")
    assert {r.doc_id for r in server.pipeline.documents()} == before

    driver.ask(ZORBLAX_QUESTION, "ask-after-remove")
    expect(driver.page.locator(f'#sources .source[data-doc="{doc_id}"]')).to_have_count(0)
    assert_clean(driver)


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("program.exe", b"MZ\x90\x00\x03\x00\x00\x00", "unsupported file type .exe"),
        ("broken.pdf", b"%PDF-1.4\nthis is not really a pdf", "broken.pdf"),
    ],
    ids=["unsupported-type", "broken-pdf"],
)
def test_bad_upload_shows_a_readable_error_and_keeps_the_good_file(
    driver: Driver,
    start_ui_server: Callable[..., UiServer],
    tmp_path: Path,
    name: str,
    content: bytes,
    message: str,
) -> None:
    server = start_ui_server()
    before = {r.doc_id for r in server.pipeline.documents()}
    bad, good = tmp_path / name, tmp_path / "good-notes.txt"
    bad.write_bytes(content)
    good.write_text("Good notes\n\nThe quartz garden opens at dawn every Tuesday.\n", encoding="utf-8")

    driver.open(server.url)
    driver.open_documents()
    driver.page.locator("#upload input[type=file]").set_input_files([str(good), str(bad)])
    status = driver.page.locator("#upload-status")
    expect(status.locator(".status.error")).to_contain_text("Not indexed", timeout=120_000)
    expect(status.locator(".status.error")).to_contain_text(message)
    expect(status.locator(".status.ok")).to_contain_text("Indexed")
    driver.shot("upload-error")
    assert {r.doc_id for r in server.pipeline.documents()} == before | {make_doc_id(good.name)}
    assert_clean(driver)
