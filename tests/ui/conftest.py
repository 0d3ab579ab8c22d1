"""Browser fixtures: Debian's chromium driven by Playwright against the real server (API + page) on a loopback port."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from rag.api.app import create_app
from rag.api.server import BackgroundServer
from rag.embedding import Embedder
from rag.pipeline import Pipeline
from tests.conftest import make_settings
from tests.ui.browser import (
    ANSWER_TIMEOUT_MS,
    CHROMIUM_ARGS,
    SCREENSHOTS,
    Driver,
    UiServer,
    chromium_executable,
)

expect.set_options(timeout=30_000)  # a loaded 2-core machine can take seconds per step; failures still fail


@pytest.fixture(scope="session")
def start_ui_server(
    tmp_path_factory: pytest.TempPathFactory, seed_index_dir: Path, embedder: Embedder
) -> Iterator[Callable[..., UiServer]]:
    """Factory: the real app (create_app, page mounted) over a private copy of the seed index, in uvicorn."""
    servers: list[BackgroundServer] = []

    def start(**overrides: object) -> UiServer:
        root = tmp_path_factory.mktemp("ui-index")
        shutil.copytree(seed_index_dir / "seed", root / "seed")
        settings = make_settings(root, **overrides)
        pipeline = Pipeline(settings, embedder=embedder)
        server = BackgroundServer(create_app(pipeline, settings)).start()
        servers.append(server)
        return UiServer(server, pipeline)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def ui_server(start_ui_server: Callable[..., UiServer]) -> UiServer:
    """The shared server for tests that only ask questions (no uploads or removals against it)."""
    return start_ui_server()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian chromium; the browser tests skip only when it is not installed."""
    executable = chromium_executable()
    if executable is None:
        pytest.skip(
            "chromium is not installed and could not be installed here (`make browser` runs "
            "`apt-get install chromium` as root); browser tests need Debian's chromium"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture()
def driver(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Driver]:
    """A fresh browser context (own Gradio session) and tab; records non-loopback requests and page errors."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")
    shutil.rmtree(SCREENSHOTS / name, ignore_errors=True)
    drv = Driver(page, name)
    page.on(
        "request",
        lambda r: (
            None
            if re.match(r"^(https?|wss?)://(127\.0\.0\.1|localhost)[:/]", r.url)
            or r.url.startswith(("data:", "blob:"))
            else drv.external_requests.append(r.url)
        ),
    )
    page.on("pageerror", lambda exc: drv.page_errors.append(str(exc)))
    page.set_default_timeout(ANSWER_TIMEOUT_MS)
    yield drv
    context.close()
