"""GET /metrics on a real server: Prometheus text that prometheus_client's own parser reads back."""

from __future__ import annotations

import httpx
import openai
from prometheus_client.parser import text_string_to_metric_families

from rag.stages import STAGES
from tests.api.conftest import ServerFactory

LIEGE_Q = "How large is the warehouse at Liège airport?"
OFF_TOPIC_Q = "What is the capital of Australia?"


def scrape(client: httpx.Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics as {(name, sorted labels): value}."""
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_requests_stages_index_size_and_abstentions(start_server: ServerFactory) -> None:
    server = start_server()
    with httpx.Client(base_url=server.url, timeout=60) as client:
        before = scrape(client)
        assert value(before, "rag_index_documents") == 5 and value(before, "rag_index_chunks") == 50
        assert value(before, "rag_index_loaded") == 1 and value(before, "rag_abstention_rate") == 0
        for stage in STAGES:  # every stage is listed from the start
            assert ("rag_pipeline_stage_duration_seconds_count", (("stage", stage),)) in before

        assert client.post("/api/ask", json={"question": LIEGE_Q}).json()["abstained"] is False
        assert client.post("/api/ask", json={"question": OFF_TOPIC_Q}).json()["abstained"] is True
        with openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0) as oai:
            oai.chat.completions.create(model="rag", messages=[{"role": "user", "content": LIEGE_Q}])
        assert client.get("/api/documents/no-such-doc").status_code == 404
        assert client.get("/no/such/path").status_code == 404
        assert (
            client.post(
                "/api/documents", json={"text": "Sea otters hold hands while sleeping.", "title": "Otters"}
            ).status_code
            == 201
        )

        after = scrape(client)
    ask = {"method": "POST", "route": "/api/ask"}
    assert value(after, "rag_http_requests_total", **ask, status="200") == 2
    assert value(after, "rag_http_request_duration_seconds_count", **ask) == 2
    assert value(after, "rag_http_request_duration_seconds_sum", **ask) > 0
    assert (
        value(after, "rag_http_requests_total", method="POST", route="/v1/chat/completions", status="200")
        == 1
    )
    assert (
        value(
            after, "rag_http_requests_total", method="GET", route="/api/documents/{doc_id:path}", status="404"
        )
        == 1
    )  # the route template, never the raw path
    assert value(after, "rag_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert value(after, "rag_http_requests_total", method="GET", route="/metrics", status="200") >= 1
    assert value(after, "rag_answers_total", mode="extractive", abstained="false") == 2
    assert value(after, "rag_answers_total", mode="extractive", abstained="true") == 1
    assert abs(value(after, "rag_abstention_rate") - 1 / 3) < 1e-9
    for stage in ("embed", "search", "answer"):  # this process's pipelines; at least this server's 3 answers
        count = "rag_pipeline_stage_duration_seconds_count"
        assert value(after, count, stage=stage) - value(before, count, stage=stage) >= 3, stage
    assert value(after, "rag_index_documents") == 6 and value(after, "rag_index_chunks") == 51


def test_metrics_need_the_api_key_when_one_is_set(start_server: ServerFactory) -> None:
    server = start_server(api_key="metrics-key")
    with httpx.Client(base_url=server.url, timeout=60) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/api/health").status_code == 200  # health stays open and cheap
        ok = client.get("/metrics", headers={"Authorization": "Bearer metrics-key"})
    assert ok.status_code == 200 and "rag_index_documents 5.0" in ok.text
    assert 'rag_http_requests_total{method="GET",route="/metrics",status="401"} 1.0' in ok.text
