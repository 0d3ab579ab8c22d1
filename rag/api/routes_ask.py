"""POST /api/ask (answer with citations) and POST /api/search (ranked passages, no answer).

Both are `async def` that hand the blocking work to the thread pool themselves, once: as plain `def` routes,
FastAPI would also validate the returned model in the thread pool, a second hand-off per request.
"""

from __future__ import annotations

import time

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from rag.api.deps import PipelineDep
from rag.api.responses import errors
from rag.api.schemas import AskRequest, SearchHit, SearchRequest, SearchResponse
from rag.types import Answer

router = APIRouter(prefix="/api", tags=["ask"])


def _history(turns: list | None) -> list[str | dict[str, str]] | None:
    """History items as the pipeline takes them: strings, or {role, content} dicts."""
    if turns is None:
        return None
    return [t if isinstance(t, str) else t.model_dump() for t in turns]


@router.post("/ask", response_model=Answer, responses=errors(401, 413, 422, 503))
async def ask(body: AskRequest, pipeline: PipelineDep) -> Answer:
    """Answer a question from the indexed documents, citing passages as `[n]` with exact character spans.

    A follow-up question ("How big is it?") is resolved against `history`. When the evidence is weak the answer
    abstains: `abstained` is true and `citations` is empty.
    """
    return await run_in_threadpool(
        pipeline.ask, body.question, history=_history(body.history), top_k=body.top_k, mode=body.mode
    )


@router.post("/search", response_model=SearchResponse, responses=errors(401, 413, 422, 503))
async def search(body: SearchRequest, pipeline: PipelineDep) -> SearchResponse:
    """The best passages for a query, ranked by hybrid (vector + BM25) retrieval; no answer is produced."""
    started = time.perf_counter()
    passages = await run_in_threadpool(
        pipeline.search, body.query, top_k=body.top_k, history=_history(body.history)
    )
    hits = [
        SearchHit(
            rank=i,
            doc_id=p.chunk.doc_id,
            title=p.chunk.title,
            chunk_id=p.chunk.chunk_id,
            start=p.chunk.start,
            end=p.chunk.end,
            text=p.chunk.text,
            score=float(p.score),
            dense_score=None if p.dense_score is None else float(p.dense_score),
            bm25_score=None if p.bm25_score is None else float(p.bm25_score),
        )
        for i, p in enumerate(passages, start=1)
    ]
    return SearchResponse(
        query=body.query, passages=hits, latency_ms=round((time.perf_counter() - started) * 1000, 2)
    )
