"""GET /metrics (Prometheus): requests, latency per route, pipeline stage times, index size, abstentions."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag import stages
from rag.pipeline import Pipeline

router = APIRouter(tags=["health"])

# Seconds; answers take milliseconds extractively and up to tens of seconds generatively.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
UNMATCHED = "unmatched"  # the route label of requests no route matched (keeps label values few)


class _IndexAndAnswers(Collector):
    """Gauges read when scraped: the index size (from the Pipeline's public API), the abstention rate."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = weakref.proxy(metrics)

    def collect(self) -> Iterator[Metric]:
        pipeline = self.metrics.pipeline
        records = pipeline.documents()
        loaded = GaugeMetricFamily("rag_index_loaded", "1 when a usable index is loaded, else 0.")
        loaded.add_metric([], 1.0 if pipeline.loaded else 0.0)
        documents = GaugeMetricFamily("rag_index_documents", "Documents in the index.")
        documents.add_metric([], float(len(records)))
        chunks = GaugeMetricFamily("rag_index_chunks", "Chunks (passages) in the index.")
        chunks.add_metric([], float(sum(r.chunks for r in records)))
        given, abstained = self.metrics.answer_totals()
        rate = GaugeMetricFamily(
            "rag_abstention_rate",
            "Share of answers since start-up that abstained "
            "('not in the documents'); 0 before the first answer.",
        )
        rate.add_metric([], abstained / given if given else 0.0)
        yield from (loaded, documents, chunks, rate)


class Metrics:
    """The server's metrics in their own registry (several apps may live in one process, e.g. in tests)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "rag_http_requests",
            "HTTP requests served, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "rag_http_request_duration_seconds",
            "Time to serve a request, whole body "
            "included (a stream until its end), by method and route template.",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )
        self.stages = Histogram(
            "rag_pipeline_stage_duration_seconds",
            "Time spent in each stage of the pipeline: "
            "embed (the question), search (the index), answer (extractive), generate "
            "(language model and citation check).",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.answers = Counter(
            "rag_answers",
            "Answers given (API, OpenAI endpoint and chat page), by answer mode and whether they abstained.",
            ["mode", "abstained"],
            registry=self.registry,
        )
        for stage in stages.STAGES:
            self.stages.labels(stage)
        self._lock = threading.Lock()
        self._given = self._abstained = 0
        self.registry.register(_IndexAndAnswers(self))
        ref = weakref.ref(self)
        removers = [
            stages.add_observer(lambda stage, seconds: _call(ref, "on_stage", stage, seconds)),
            stages.add_answer_observer(lambda mode, abstained: _call(ref, "on_answer", mode, abstained)),
        ]
        self.close = weakref.finalize(self, _remove_all, removers)  # also runs when the app is collected

    def on_stage(self, stage: str, seconds: float) -> None:
        """Record one timed pipeline stage."""
        self.stages.labels(stage).observe(seconds)

    def on_answer(self, mode: str, abstained: bool) -> None:
        """Record one answer."""
        self.answers.labels(mode, "true" if abstained else "false").inc()
        with self._lock:
            self._given += 1
            self._abstained += int(abstained)

    def answer_totals(self) -> tuple[int, int]:
        """(answers given, of which abstained) since start-up."""
        with self._lock:
            return self._given, self._abstained


def _remove_all(removers: list) -> None:
    """Unsubscribe a Metrics object from the pipeline events (it was closed or collected)."""
    for remove in removers:
        remove()


def _call(ref: weakref.ref[Metrics], method: str, *args: object) -> None:
    metrics = ref()
    if metrics is not None:
        getattr(metrics, method)(*args)


class RequestMetrics:
    """ASGI middleware: counts and times every HTTP request, labelled by the route template that served it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            label = (getattr(route, "path", "") or "/") if route is not None else UNMATCHED
            method = scope.get("method", "")
            self.metrics.requests.labels(method, label, str(status[0])).inc()
            self.metrics.latency.labels(method, label).observe(time.perf_counter() - started)


def install_metrics(app: FastAPI, pipeline: Pipeline) -> None:
    """Measure `app`'s requests, `pipeline`'s stages and answers; GET /metrics (this router) serves them."""
    app.state.metrics = Metrics(pipeline)
    app.add_middleware(RequestMetrics, metrics=app.state.metrics)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Prometheus text exposition format.",
        }
    },
)
def metrics(request: Request) -> Response:
    """Prometheus metrics: `rag_http_requests_total` and `rag_http_request_duration_seconds` per route,
    `rag_pipeline_stage_duration_seconds` per stage (embed, search, answer, generate), `rag_index_documents`,
    `rag_index_chunks`, `rag_answers_total` and `rag_abstention_rate`."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
