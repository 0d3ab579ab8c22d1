"""Hybrid retrieval: dense and BM25 each find what the other misses, and fusion (convex or RRF) keeps both."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rag.pipeline import Pipeline
from rag.retrieval import HybridRetriever, normalized
from rag.settings import FusionMethod, Settings


def test_the_liege_passage_ranks_first(seed_pipeline: Pipeline) -> None:
    top = seed_pipeline.search("How large is the warehouse at Liège airport?", top_k=3)
    assert "220000 square meters" in top[0].chunk.text
    assert top[0].score >= top[1].score >= top[2].score


def test_accents_do_not_matter_for_keyword_search(seed_pipeline: Pipeline) -> None:
    retriever, data = seed_pipeline.retriever, seed_pipeline.data
    with_accent = retriever.sparse(data, "Liège", 5)
    without = retriever.sparse(data, "Liege", 5)
    assert with_accent and with_accent == without


def test_fusion_combines_keyword_and_semantic_hits(seed_pipeline: Pipeline) -> None:
    retriever, data = seed_pipeline.retriever, seed_pipeline.data
    # An exact rare token only BM25 can rely on, and a paraphrase with no shared content words.
    keyword = "Guerlain"
    vector = retriever.embedder.embed_query(keyword)
    sparse_rows = [row for row, _ in retriever.sparse(data, keyword, 3)]
    assert sparse_rows and "Guerlain" in data.chunk(sparse_rows[0]).text
    fused = retriever.run(data, keyword, 3, vector).passages
    assert fused[0].row == sparse_rows[0] and fused[0].bm25_score is not None

    paraphrase = "counterfeit goods complaint from fashion trade groups"
    dense_rows = [row for row, _ in retriever.dense(data, retriever.embedder.embed_query(paraphrase), 3)]
    assert data.chunk(dense_rows[0]).doc_id == "2016-counterfeit-notorious-markets-dispute"
    assert (
        retriever.run(data, paraphrase, 3).passages[0].chunk.doc_id
        == "2016-counterfeit-notorious-markets-dispute"
    )


def test_a_query_of_only_stop_words_still_returns_dense_hits(seed_pipeline: Pipeline) -> None:
    retriever, data = seed_pipeline.retriever, seed_pipeline.data
    assert retriever.sparse(data, "the of and", 5) == []
    assert len(retriever.run(data, "the of and", 5).passages) == 5


def test_normalized_maps_best_to_one_and_floor_to_zero():
    assert normalized([(3, 10.0), (1, 6.0), (2, 2.0)]) == {3: 1.0, 1: 0.5, 2: 0.0}
    assert normalized([(3, 10.0), (1, 6.0)], floor=0.0) == {3: 1.0, 1: 0.6}
    assert normalized([(1, 4.0), (2, 4.0)]) == {1: 1.0, 2: 1.0}
    assert normalized([]) == {}


def test_convex_fusion_weights_the_normalised_scores(embedder):
    retriever = HybridRetriever(embedder, candidates=3, dense_weight=3.0, bm25_weight=1.0)
    dense = [(1, 0.9), (2, 0.7), (3, 0.5)]  # full list: floor is its last score
    sparse = [(2, 8.0), (4, 4.0)]  # shorter than `candidates`: every match is here, floor 0
    fused = retriever.fuse(dense, sparse, chunk_count=10)
    assert fused == pytest.approx({1: 0.75, 2: 0.75 * 0.5 + 0.25, 3: 0.0, 4: 0.25 * 0.5})


def test_rrf_fusion_uses_ranks_only(embedder):
    retriever = HybridRetriever(embedder, rrf_k=10, fusion="rrf")
    fused = retriever.fuse([(1, 0.9), (2, 0.1)], [(2, 100.0)], chunk_count=5)
    assert fused == pytest.approx({1: 1 / 11, 2: 1 / 12 + 1 / 11})


@pytest.mark.parametrize("fusion", list(FusionMethod))
def test_a_quoted_sentence_finds_its_document_first(seed_pipeline, fusion):
    retriever = HybridRetriever(seed_pipeline.embedder, fusion=fusion, candidates=1000)
    data = seed_pipeline.data
    doc = data.documents["2020-alibaba-europe-expansion"]
    sentence = next(c for _, c in data.chunks_of(doc.doc_id)).text.split(". ")[0]
    passages = retriever.run(data, sentence, top_k=8).passages
    assert passages[0].chunk.doc_id == doc.doc_id
    scores = [p.score for p in passages]
    assert scores == sorted(scores, reverse=True) and len({p.row for p in passages}) == len(passages)
    assert all(p.dense_score is not None for p in passages)
    if fusion is FusionMethod.convex:
        assert scores[0] <= 1.0 and scores[-1] >= 0.0


def test_one_sided_retrieval_follows_that_retriever(seed_pipeline):
    data = seed_pipeline.data
    query = "Singles Day sales record"
    bm25_only = HybridRetriever(seed_pipeline.embedder, dense_weight=0.0, bm25_weight=1.0)
    rows = [p.row for p in bm25_only.run(data, query, top_k=5).passages]
    assert rows == [r for r, _ in bm25_only.sparse(data, query, 5)]
    stop_words_only = HybridRetriever(seed_pipeline.embedder).run(data, "it was to be", top_k=3).passages
    assert len(stop_words_only) == 3 and all(p.bm25_score is None for p in stop_words_only)


def test_settings_select_and_validate_the_fusion(monkeypatch):
    assert Settings(_env_file=None).fusion is FusionMethod.convex
    monkeypatch.setenv("RAG_FUSION", "rrf")
    assert Settings(_env_file=None).fusion is FusionMethod.rrf
    with pytest.raises(ValidationError):
        Settings(_env_file=None, fusion="best")
