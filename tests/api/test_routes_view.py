"""GET /documents/{doc_id}?start&end on a real server: the document page a citation (and its OpenAI annotation
URL) opens; escaped hostile text, 404, 422 for bad spans, the API key, a paged PDF."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterator

import httpx
import pytest

from rag.api.server import BackgroundServer
from tests.api.conftest import LIEGE_DOC, ServerFactory
from tests.test_pdf_pages import make_paged_pdf

LIEGE_Q = "How large is the warehouse at Liège airport?"
KEY = "view-secret"
HOSTILE_TITLE = '<script>alert("title")</script> {{t}} ${v}'
# Cleaning strips tags but then decodes entities: these come out as live-looking markup in the document text.
HOSTILE_TEXT = (
    "The Quillon archive opened in 1921.\n\n"
    '&lt;img src=x onerror="alert(1)"&gt; &lt;script&gt;document.title="owned"&lt;/script&gt; '
    "&lt;/mark&gt;&lt;/p&gt;&lt;/main&gt; `code` {{template}} ${x} done.\n\n"
    "The Quillon archive holds 7,400 maps."
)


def quote_mark(page: str) -> str:
    """The text of the highlighted quote on a document page (unescaped), or '' when there is none."""
    found = re.search(r'<mark class="quote" id="quote">(.*?)</mark>', page, re.DOTALL)
    return html.unescape(found.group(1)) if found else ""


@pytest.fixture(scope="module")
def view_server(start_server: ServerFactory) -> BackgroundServer:
    """A server of its own: these tests add documents."""
    return start_server()


@pytest.fixture()
def api(view_server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=view_server.url, timeout=120) as c:
        yield c


def test_citation_opens_the_whole_document_with_the_quote_highlighted(client: httpx.Client) -> None:
    citation = client.post("/api/ask", json={"question": LIEGE_Q}).json()["citations"][0]
    document = client.get(f"/api/documents/{citation['doc_id']}").json()
    r = client.get(
        f"/documents/{citation['doc_id']}", params={"start": citation["start"], "end": citation["end"]}
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert quote_mark(page) == citation["quote"]
    assert page.count('id="quote"') == 1
    shown = html.unescape(re.sub(r"<[^>]+>", "", page.split('<main id="document">')[1].split("</main>")[0]))
    for paragraph in document["text"].split("\n\n"):
        assert paragraph.strip() in shown, "the whole document is on the page"
    assert html.escape(document["title"], quote=True) in page
    assert re.search(r"The quoted passage is highlighted: paragraph \d+", page)
    assert 'scrollIntoView({ block: "center" })' in page
    policy = r.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'nonce-" in policy
    nonce = policy.split("script-src 'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in page
    assert r.headers["x-content-type-options"] == "nosniff"


def test_without_a_span_the_document_is_shown_unmarked(client: httpx.Client) -> None:
    r = client.get(f"/documents/{LIEGE_DOC}")
    assert r.status_code == 200 and "<mark" not in r.text and 'data-paragraph="1"' in r.text


def test_the_openai_annotation_url_opens_the_page(client: httpx.Client) -> None:
    body = client.post(
        "/v1/chat/completions",
        json={"model": "rag-extractive", "messages": [{"role": "user", "content": LIEGE_Q}]},
    ).json()
    annotations = body["choices"][0]["message"]["annotations"]
    citations = {(c["doc_id"], c["start"]): c for c in body["citations"]}
    assert annotations
    for annotation in annotations:
        r = httpx.get(annotation["url_citation"]["url"], timeout=60)
        assert r.status_code == 200, annotation
        start = int(re.search(r"[?&]start=(\d+)", annotation["url_citation"]["url"]).group(1))  # type: ignore[union-attr]
        doc_id = r.url.path.removeprefix("/documents/")
        assert quote_mark(r.text) == citations[(doc_id, start)]["quote"]


def test_unknown_document_is_404(client: httpx.Client) -> None:
    r = client.get("/documents/no-such-doc<script>", params={"start": 0, "end": 3})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "No such document" in r.text and "<script>" not in r.text and "&lt;script&gt;" in r.text


@pytest.mark.parametrize(
    "params",
    [
        {"start": "-1", "end": "5"},
        {"start": "abc", "end": "5"},
        {"start": "1.5", "end": "5"},
        {"start": "²", "end": "5"},
        {"start": "5"},
        {"end": "5"},
        {"start": "9", "end": "9"},
        {"start": "9", "end": "3"},
        {"start": "0", "end": "99999999"},
        {"start": "9" * 40, "end": "9" * 41},
        {"start": "", "end": ""},
    ],
)
def test_bad_spans_are_422_never_500(client: httpx.Client, params: dict) -> None:
    r = client.get(f"/documents/{LIEGE_DOC}", params=params)
    assert r.status_code == 422, (params, r.status_code)
    assert r.headers["content-type"].startswith("text/html") and "Cannot show this span" in r.text


def test_hostile_document_text_and_title_are_escaped(api: httpx.Client) -> None:
    r = api.post("/api/documents", json={"text": HOSTILE_TEXT, "title": HOSTILE_TITLE, "doc_id": "quillon"})
    assert r.status_code == 201, r.text
    text = api.get("/api/documents/quillon").json()["text"]
    hostile = text.index("<img")
    page = api.get("/documents/quillon", params={"start": hostile, "end": hostile + 60}).text
    body = page.split("<body>", 1)[1]
    assert "<img" not in body and "<script>alert" not in body and "<script>document" not in body
    assert body.count("<script") == 1, "only the page's own script"
    assert body.count("</mark>") == 1 and body.count("</main>") == 1 and "{{" not in body and "${" not in body
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in body
    assert quote_mark(page) == text[hostile : hostile + 60]
    assert (
        "&lt;script&gt;alert(&quot;title&quot;)&lt;/script&gt; &#123;&#123;t&#125;&#125; &#36;&#123;v&#125;"
        in page
    )


def test_paged_pdf_shows_its_pages_and_says_the_page_of_the_quote(api: httpx.Client) -> None:
    pages = [
        ["The Brannock depot stores grain.", "It was built in 1902."],
        ["The Brannock depot has 14 silos.", "Each silo holds 900 tonnes."],
    ]
    r = api.post(
        "/api/documents",
        files={"file": ("depot.pdf", make_paged_pdf(pages, "Depot notes"), "application/pdf")},
    )
    assert r.status_code == 201, r.text
    text = api.get("/api/documents/depot").json()["text"]
    start = text.index("Each silo")
    page = api.get("/documents/depot", params={"start": start, "end": start + len("Each silo")}).text
    assert 'id="page-1"' in page and 'id="page-2"' in page and "2 pages" in page
    assert "The quoted passage is highlighted: page 2, paragraph" in page
    assert quote_mark(page) == "Each silo"
    assert "depot.pdf" in page


@pytest.fixture(scope="module")
def locked(start_server: ServerFactory) -> BackgroundServer:
    return start_server(api_key=KEY)


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, basic("me", "wrong"), {"Authorization": "Basic %%%"}],
    ids=["none", "wrong-bearer", "wrong-basic", "malformed-basic"],
)
def test_with_a_key_set_the_page_needs_it(locked: BackgroundServer, headers: dict[str, str]) -> None:
    r = httpx.get(f"{locked.url}/documents/{LIEGE_DOC}", headers=headers, timeout=60)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Basic "), "a browser asks for the key"
    assert "Liège" not in r.text and "API key" in r.text


@pytest.mark.parametrize(
    "headers", [{"Authorization": f"Bearer {KEY}"}, basic("anyone", KEY)], ids=["bearer", "basic"]
)
def test_with_a_key_set_the_page_opens_with_it(locked: BackgroundServer, headers: dict[str, str]) -> None:
    r = httpx.get(f"{locked.url}/documents/{LIEGE_DOC}", headers=headers, timeout=60)
    assert r.status_code == 200 and "Liège" in r.text
    unknown = httpx.get(f"{locked.url}/documents/nothing-here", headers=headers, timeout=60)
    assert unknown.status_code == 404
