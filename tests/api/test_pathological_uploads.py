"""Pathological uploads against a real server: refused fast with a clear 413, the index untouched, the server
answering other requests meanwhile, and no parser left running."""

from __future__ import annotations

import multiprocessing
import threading
import time

import httpx
import pytest

from tests.api.conftest import ServerFactory
from tests.test_parsing import blank_pdf, inflating_pdf, nested_divs


def test_half_a_million_nested_divs_are_a_fast_413(start_server: ServerFactory) -> None:
    server = start_server(max_upload_bytes=8_000_000)
    data = nested_divs(500_000)  # 5.5 MB
    with httpx.Client(base_url=server.url, timeout=120) as c:
        before = c.get("/api/documents").json()
        started = time.perf_counter()
        r = c.post("/api/documents", files={"file": ("deep.html", data, "text/html")})
        elapsed = time.perf_counter() - started
        assert r.status_code == 413, r.text[:300]
        assert "nest more than" in r.json()["detail"] and "RAG_MAX_HTML_DEPTH" in r.json()["detail"]
        assert elapsed < 10, elapsed  # minutes of parsing before
        assert c.get("/api/documents").json() == before


def test_pdf_limits_are_413(start_server: ServerFactory) -> None:
    server = start_server(max_pdf_pages=20, max_pdf_decompressed_bytes=1_000_000)
    with httpx.Client(base_url=server.url, timeout=120) as c:
        r = c.post("/api/documents", files={"file": ("many.pdf", blank_pdf(40), "application/pdf")})
        assert r.status_code == 413 and "RAG_MAX_PDF_PAGES" in r.json()["detail"], r.text
        r = c.post(
            "/api/documents", files={"file": ("bomb.pdf", inflating_pdf(3_000_000), "application/pdf")}
        )
        assert r.status_code == 413 and "RAG_MAX_PDF_DECOMPRESSED_BYTES" in r.json()["detail"], r.text


def test_a_slow_parse_is_cut_off_while_other_requests_are_served(start_server: ServerFactory) -> None:
    server = start_server(max_upload_bytes=2_000_000, max_html_depth=100_000, parse_timeout=2.0)
    result: dict[str, httpx.Response] = {}

    def upload() -> None:
        with httpx.Client(base_url=server.url, timeout=120) as c:
            result["r"] = c.post(
                "/api/documents", files={"file": ("slow.html", nested_divs(60_000), "text/html")}
            )

    thread = threading.Thread(target=upload)
    started = time.perf_counter()
    thread.start()
    latencies = []
    with httpx.Client(base_url=server.url, timeout=120) as c:
        while thread.is_alive():
            t = time.perf_counter()
            assert c.get("/api/health").status_code == 200
            latencies.append(time.perf_counter() - t)
            time.sleep(0.05)
    thread.join()
    r = result["r"]
    assert r.status_code == 413 and "RAG_PARSE_TIMEOUT" in r.json()["detail"], r.text[:300]
    assert time.perf_counter() - started < 8
    assert len(latencies) >= 5 and max(latencies) < 1.0, latencies
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("rag-parse")]


def test_a_client_that_gives_up_cancels_its_parse(start_server: ServerFactory) -> None:
    server = start_server(max_upload_bytes=2_000_000, max_html_depth=100_000, parse_timeout=60.0)

    def parsing() -> list[multiprocessing.Process]:
        return [p for p in multiprocessing.active_children() if p.name.startswith("rag-parse")]

    with httpx.Client(base_url=server.url, timeout=1.0) as impatient:
        try:
            impatient.post("/api/documents", files={"file": ("slow.html", nested_divs(90_000), "text/html")})
        except httpx.TimeoutException:
            pass
        else:
            pytest.fail("the parse of 90,000 nested divs should take longer than the client waits")
    assert parsing(), "the parse should still be running right after the client gave up"
    deadline = time.monotonic() + 5
    while parsing() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not parsing(), "the parse of a request whose client went away is still running"
    assert httpx.get(server.url + "/api/health").status_code == 200
