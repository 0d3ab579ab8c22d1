"""Hybrid retrieval: dense and BM25 each find what the other misses, and fusion keeps both."""

from __future__ import annotations

from rag.pipeline import Pipeline


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
    assert sparse_rows and "Guerlain" in data.chunks[sparse_rows[0]].text
    fused = retriever.run(data, keyword, 3, vector).passages
    assert fused[0].row == sparse_rows[0] and fused[0].bm25_score is not None

    paraphrase = "counterfeit goods complaint from fashion trade groups"
    dense_rows = [row for row, _ in retriever.dense(data, retriever.embedder.embed_query(paraphrase), 3)]
    assert data.chunks[dense_rows[0]].doc_id == "2016-counterfeit-notorious-markets-dispute"
    assert retriever.run(data, paraphrase, 3).passages[0].chunk.doc_id == "2016-counterfeit-notorious-markets-dispute"


def test_a_query_of_only_stop_words_still_returns_dense_hits(seed_pipeline: Pipeline) -> None:
    retriever, data = seed_pipeline.retriever, seed_pipeline.data
    assert retriever.sparse(data, "the of and", 5) == []
    assert len(retriever.run(data, "the of and", 5).passages) == 5
