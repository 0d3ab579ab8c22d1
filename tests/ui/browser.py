"""Browser-test helpers: where chromium is, the server under test, and a driver for the chat page."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Locator, Page

from rag.api.server import BackgroundServer
from rag.pipeline import Pipeline
from tests.conftest import REPO

SCREENSHOTS = REPO / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ANSWER_TIMEOUT_MS = 60_000


def chromium_executable() -> str | None:
    """Debian's chromium (or RAG_CHROMIUM), or None when it is not installed."""
    candidates = [
        os.environ.get("RAG_CHROMIUM"),
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        "/usr/bin/chromium",
    ]
    return next((c for c in candidates if c and Path(c).is_file() and os.access(c, os.X_OK)), None)


@dataclass
class UiServer:
    """A running server with the page mounted, and the Pipeline behind it."""

    server: BackgroundServer
    pipeline: Pipeline

    @property
    def url(self) -> str:
        """The page's URL."""
        return self.server.url + "/"


@dataclass
class Driver:
    """One browser tab on the page, with helpers to ask, wait for answers and save numbered screenshots."""

    page: Page
    name: str
    external_requests: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    step: int = 0

    def shot(self, label: str, page: Page | None = None, *, full_page: bool = True) -> Path:
        """Save a screenshot of the page (or of another tab, `page`) as artifacts/screenshots/<test>/<NN>-<label>.png."""
        self.step += 1
        path = SCREENSHOTS / self.name / f"{self.step:02d}-{label}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        (page or self.page).screenshot(path=str(path), full_page=full_page)
        return path

    def open(self, url: str) -> None:
        """Load the page and wait until it has listed the documents (the load event ran)."""
        self.page.goto(url, wait_until="load")
        self.page.wait_for_selector("#chat", timeout=ANSWER_TIMEOUT_MS)
        self.page.wait_for_selector("#question textarea", timeout=ANSWER_TIMEOUT_MS)

    def bot_messages(self) -> Locator:
        """Locator of the assistant's messages in the chat."""
        return self.page.locator('#chat [data-testid="bot"]')

    def wait_for_answer(self, count: int) -> str:
        """Wait until the chat holds `count` finished assistant messages; return the last one's text."""
        self.page.wait_for_function(
            """(count) => {
                const bots = document.querySelectorAll('#chat [data-testid="bot"]');
                return bots.length >= count && !bots[count - 1].querySelector('.typing');
            }""",
            arg=count,
            timeout=ANSWER_TIMEOUT_MS,
        )
        return self.bot_messages().nth(count - 1).inner_text()

    def ask(self, question: str, label: str = "asked") -> str:
        """Type `question`, press Enter, wait for the finished answer and return its text."""
        count = self.bot_messages().count() + 1
        box = self.page.locator("#question textarea")
        box.fill(question)
        self.shot(f"{label}-typed")
        box.press("Enter")
        text = self.wait_for_answer(count)
        self.shot(f"{label}-answered")
        return text

    def open_documents(self) -> None:
        """Expand the documents panel and wait for its table."""
        self.page.get_by_text("Documents: upload, list, remove").click()
        self.page.wait_for_selector("#documents table.documents", timeout=ANSWER_TIMEOUT_MS)
