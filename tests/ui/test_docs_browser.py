"""The API docs (/docs Swagger UI, /redoc ReDoc) render in chromium with no request leaving the server."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.ui.browser import ANSWER_TIMEOUT_MS, Driver, UiServer

OPERATIONS = ("/api/ask", "/api/search", "/api/documents", "/v1/chat/completions", "/v1/models")


def test_swagger_ui_renders_the_operations_offline(driver: Driver, ui_server: UiServer) -> None:
    page = driver.page
    page.goto(ui_server.server.url + "/docs", wait_until="load")
    page.wait_for_selector(".opblock", timeout=ANSWER_TIMEOUT_MS)
    for path in OPERATIONS:
        expect(page.locator(f'.opblock-summary-path[data-path="{path}"]').first).to_be_visible()
    expect(page.locator(".opblock-summary-method", has_text="POST").first).to_be_visible()
    driver.shot("swagger-ui")
    page.locator('.opblock-summary-path[data-path="/api/ask"]').first.click()  # expand: the schema renders
    expect(page.locator(".opblock-body").first).to_be_visible()
    driver.shot("swagger-ui-ask-expanded")
    assert driver.external_requests == [], driver.external_requests
    assert driver.page_errors == [], driver.page_errors


def test_redoc_renders_the_operations_offline(driver: Driver, ui_server: UiServer) -> None:
    page = driver.page
    page.goto(ui_server.server.url + "/redoc", wait_until="load")
    page.wait_for_selector("[data-section-id]", timeout=ANSWER_TIMEOUT_MS)
    expect(page.get_by_text("/api/ask").first).to_be_attached()
    expect(page.get_by_text("/v1/chat/completions").first).to_be_attached()
    driver.shot("redoc")
    assert driver.external_requests == [], driver.external_requests
    assert driver.page_errors == [], driver.page_errors
