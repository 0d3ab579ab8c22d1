"""Sources people can use, in chromium: one card per passage, `[n]` brings its card into view, the document page
opens the whole document at the quote, plain-words strength and paragraph, the phone layout, file names."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Locator, Page, expect

from rag.api.locations import file_name, location_words
from tests.api.conftest import LIEGE_DOC
from tests.ui.browser import ANSWER_TIMEOUT_MS, Driver, UiServer
from tests.ui.test_page_browser import ANSWERED, OTHER, TOP_K_QUESTION, assert_clean, norm
from ui.sources import group_by_passage, strength

SHARED = TOP_K_QUESTION  # its answer quotes one passage twice and another once
PHONE = {"width": 390, "height": 844}


def card(page: Page, n: int) -> Locator:
    """The source card quoting `[n]`."""
    return page.locator(f'#sources .source[data-n~="{n}"]')


def test_quotes_of_one_passage_share_a_card_with_words_not_numbers(
    driver: Driver, ui_server: UiServer
) -> None:
    expected = ui_server.pipeline.ask(SHARED)
    groups = group_by_passage(expected.citations)
    shared = next((g for g in groups if len(g) > 1), None)
    assert shared is not None, "precondition: one passage is quoted twice"
    driver.open(ui_server.url)
    driver.ask(SHARED)
    page = driver.page
    expect(page.locator("#sources .source")).to_have_count(len(groups))
    numbers = " ".join(str(c.n) for c in shared)
    both = page.locator(f'#sources .source[data-n="{numbers}"]')
    expect(both.locator(".passage-full mark")).to_have_count(len(shared))
    for c in shared:
        assert norm(both.locator(f'.excerpt mark[data-n~="{c.n}"]').inner_text()) == norm(c.quote)
        line = both.locator(f'.source-quotes li[data-n="{c.n}"]')
        where = location_words(ui_server.pipeline.document(c.doc_id), c.start)
        expect(line).to_contain_text(where)
        expect(line).to_contain_text(strength(c.score))
        expect(line.get_by_role("link", name="open in document")).to_have_attribute(
            "href", f"/documents/{c.doc_id}?start={c.start}&end={c.end}"
        )
    text = page.locator("#sources").inner_text()
    assert not re.search(r"score \d|characters \d", text), "no raw scores or character offsets"
    assert re.search(r"(strong|good|weak) match", text)
    driver.shot("one-card-per-passage")
    assert_clean(driver)


def test_clicking_a_marker_brings_its_card_into_view_and_flashes_it(
    driver: Driver, ui_server: UiServer
) -> None:
    expected = ui_server.pipeline.ask(SHARED)
    last = group_by_passage(expected.citations)[-1][0].n  # the lowest card
    driver.page.set_viewport_size({"width": 1280, "height": 520})
    driver.open(ui_server.url)
    driver.ask(SHARED)
    page = driver.page
    target = card(page, last)
    page.locator("#sources").evaluate("el => el.scrollTo(0, 0)")
    page.evaluate("window.scrollTo(0, 0)")
    expect(target).not_to_be_in_viewport(ratio=0.9)  # precondition: the card starts out of view
    driver.shot("before-click")
    page.locator(f"#chat sup.cite-n-{last}").click()
    expect(target).to_have_class(re.compile(r"\bflash\b"))
    expect(target).to_be_in_viewport(ratio=0.9)
    driver.shot("card-flashed")
    expect(target).not_to_have_class(re.compile(r"\bflash\b"), timeout=10_000)  # the flash passes
    assert_clean(driver)


def test_marker_of_an_earlier_answer_shows_that_answers_card(driver: Driver, ui_server: UiServer) -> None:
    first, second = ui_server.pipeline.ask(ANSWERED), ui_server.pipeline.ask(OTHER)
    assert first.citations[0].doc_id != second.citations[0].doc_id
    driver.open(ui_server.url)
    driver.ask(ANSWERED, "first")
    driver.ask(OTHER, "second")
    page = driver.page
    expect(card(page, 1)).to_have_attribute("data-doc", second.citations[0].doc_id)
    driver.bot_messages().nth(0).locator("sup.cite-n-1").click()
    expect(card(page, 1)).to_have_attribute("data-doc", first.citations[0].doc_id)
    expect(card(page, 1)).to_have_class(re.compile(r"\bflash\b"))
    driver.shot("earlier-answer-card")
    assert_clean(driver)


def test_open_in_document_shows_the_whole_document_at_the_quote(driver: Driver, ui_server: UiServer) -> None:
    expected = ui_server.pipeline.ask(ANSWERED)
    cited = expected.citations[0]
    document = ui_server.pipeline.document(cited.doc_id)
    driver.open(ui_server.url)
    driver.ask(ANSWERED)
    with driver.page.context.expect_page() as opened:
        card(driver.page, 1).locator('li[data-n="1"]').get_by_role("link", name="open in document").click()
    view = opened.value
    errors: list[str] = []
    view.on("pageerror", lambda exc: errors.append(str(exc)))
    view.wait_for_load_state("load")
    quote = view.locator("mark#quote")
    expect(quote).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    assert norm(quote.inner_text()) == norm(cited.quote)
    expect(quote).to_be_in_viewport()
    expect(view.locator("#title")).to_have_text(document.title)
    expect(view.locator("header")).to_contain_text(location_words(document, cited.start))
    expect(view.locator("header")).to_contain_text(file_name(document.source))
    shown = norm(view.locator("#document").inner_text())
    paragraphs = [p for p in document.text.split("\n\n") if p.strip()]
    assert norm(paragraphs[0]) in shown and norm(paragraphs[-1]) in shown, "the whole document is shown"
    assert view.evaluate("window.scrollY") > 0, "scrolled down to the quote"
    driver.shot("document-view", view, full_page=False)  # what the reader sees: the quote, in view
    assert errors == []
    assert_clean(driver)


def test_phone_width_puts_the_sources_in_a_tab_beside_the_chat(driver: Driver, ui_server: UiServer) -> None:
    expected = ui_server.pipeline.ask(ANSWERED)
    page = driver.page
    page.set_viewport_size(PHONE)
    driver.open(ui_server.url)
    tabs = page.locator("#narrow-tabs")
    expect(tabs).to_be_visible()
    expect(page.locator("#sources-column")).to_be_hidden()
    driver.ask(ANSWERED, "phone")
    sources_tab = tabs.get_by_role("tab", name=re.compile("Sources"))
    groups = len(group_by_passage(expected.citations))
    expect(sources_tab).to_have_text(f"Sources ({groups})")
    tab_top = sources_tab.bounding_box()["y"]  # type: ignore[index]
    assert tab_top < page.locator("#chat").bounding_box()["y"], "the tab sits above the chat, not below it"  # type: ignore[index]

    sources_tab.click()
    expect(page.locator("#sources .source").first).to_be_visible()
    expect(page.locator("#chat")).to_be_hidden()
    expect(sources_tab).to_have_attribute("aria-selected", "true")
    driver.shot("phone-sources-tab")
    tabs.get_by_role("tab", name="Chat").click()
    expect(page.locator("#chat")).to_be_visible()
    expect(page.locator("#sources-column")).to_be_hidden()

    page.locator("#chat sup.cite-n-1").click()  # a marker switches to the sources tab and shows its card
    expect(card(page, 1)).to_be_in_viewport()
    expect(card(page, 1)).to_have_class(re.compile(r"\bflash\b"))
    expect(page.locator("#chat")).to_be_hidden()
    driver.shot("phone-marker-clicked")
    assert_clean(driver)


def test_document_table_shows_file_names_and_links_to_each_document(
    driver: Driver, ui_server: UiServer
) -> None:
    driver.open(ui_server.url)
    driver.open_documents()
    records = ui_server.pipeline.documents()
    cells = driver.page.locator("#documents td.doc-source")
    expect(cells).to_have_count(len(records))
    assert cells.all_inner_texts() == [file_name(r.source) for r in records]
    assert all("/" not in text for text in cells.all_inner_texts())
    assert any("/" in r.source for r in records), "precondition: the index holds server paths"
    link = driver.page.locator(f'#documents tr[data-doc="{records[0].doc_id}"] td.doc-title a')
    expect(link).to_have_attribute("href", f"/documents/{records[0].doc_id}")
    driver.page.locator("#documents").scroll_into_view_if_needed()
    driver.shot("documents-file-names")
    assert_clean(driver)


def test_with_a_key_the_logged_in_page_opens_documents_and_strangers_get_401(
    driver: Driver, start_ui_server: Callable[..., UiServer]
) -> None:
    server = start_ui_server(api_key="view-key")
    page = driver.page
    url = server.server.url + "/documents/" + LIEGE_DOC
    browser = page.context.browser
    assert browser is not None
    stranger = browser.new_context()
    refused = stranger.request.get(url)
    assert refused.status == 401 and refused.headers["www-authenticate"].startswith("Basic")
    assert "Liège" not in refused.text()
    stranger.close()
    prompted = browser.new_context(http_credentials={"username": "anyone", "password": "view-key"})
    response = prompted.new_page().goto(url)  # what a browser's login prompt sends
    assert response is not None and response.status == 200 and "Liège" in response.text()
    prompted.close()

    page.goto(server.url, wait_until="load")
    page.get_by_label("username").fill("reader")
    page.get_by_label("password").fill("view-key")
    driver.shot("login")
    page.get_by_role("button", name="Login").click()
    page.wait_for_selector("#question textarea", timeout=ANSWER_TIMEOUT_MS)
    driver.ask(ANSWERED)
    with page.context.expect_page() as opened:
        card(page, 1).get_by_role("link", name="open in document").first.click()
    view = opened.value
    expect(view.locator("mark#quote")).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    driver.shot("logged-in-document", view, full_page=False)
    assert_clean(driver)
