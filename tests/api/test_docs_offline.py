"""/docs and /redoc work offline: their HTML references only assets this server serves."""

from __future__ import annotations

import re

import httpx
import pytest

ASSET = re.compile(
    r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|(?:url|openapi_url)\s*:\s*["']([^"']+)["']"""
)


def referenced_urls(html: str) -> list[str]:
    """Every URL the page's tags and Swagger UI / ReDoc set-up name."""
    return [a or b for a, b in ASSET.findall(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_local_assets(client: httpx.Client, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "cdn." not in html and "fonts.googleapis" not in html
    urls = referenced_urls(html)
    scripts = [u for u in urls if u.endswith(".js")]
    assert scripts, f"no script found in {page}"
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), f"{page} loads {url} from elsewhere"
        asset = client.get(url)
        assert asset.status_code == 200, f"{url}: {asset.status_code}"
        if url.endswith(".js"):
            assert len(asset.content) > 100_000 and "javascript" in asset.headers["content-type"]
            assert b"cdn.redoc.ly" not in asset.content  # ReDoc's menu logo is pointed at the local favicon
    assert "/openapi.json" in urls


def test_the_schema_the_docs_render_lists_the_operations(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/ask", "/v1/chat/completions", "/api/documents"} <= set(paths)
