"""BEIR benchmarks: loading, cached indexing through the Pipeline, document-level ranking, TREC run files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import pytrec_eval

from rag.errors import InvalidInput
from rag.evaluation.beir import (
    index_corpus,
    index_name_for,
    load_beir,
    load_corpus,
    read_trec_run,
    run_beir,
    write_trec_run,
)
from rag.evaluation.ir_metrics import evaluate
from rag.pipeline import Pipeline
from tests.conftest import make_settings
from tests.evaluation.beir_fixture import QUERIES, TOPICS, write_beir


@pytest.fixture()
def dataset(tmp_path: Path) -> Path:
    return write_beir(tmp_path / "tiny")


@pytest.fixture()
def pipeline(tmp_path: Path, dataset: Path, embedder) -> Pipeline:
    # Small chunks, so every document has several and document scores come from their best chunk.
    return Pipeline(
        make_settings(tmp_path / "index", index_name=index_name_for(dataset), chunk_size=200),
        embedder=embedder,
    )


def test_load_beir_reads_the_split_and_names_the_index(dataset):
    test = load_beir(dataset, "test")
    assert set(test.queries) == {"1", "2", "3", "4"}
    assert test.qrels["2"] == {"bridge": 1}
    assert set(load_beir(dataset, "train").queries) == {"5", "6"}
    assert index_name_for(dataset) == "beir-tiny"
    assert [d.doc_id for d in load_corpus(dataset)] == list(TOPICS)


def test_load_beir_explains_what_is_missing(dataset, tmp_path):
    with pytest.raises(InvalidInput, match=r"qrels/dev.tsv \(splits here: test, train\)"):
        load_beir(dataset, "dev")
    with pytest.raises(InvalidInput, match="no such BEIR folder"):
        load_beir(tmp_path / "nowhere")
    (dataset / "queries.jsonl").write_text('{"_id": "1", "text": "x"}\nnot json\n', encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"queries.jsonl:2"):
        load_beir(dataset)


def test_documents_rank_by_their_best_chunk_and_the_relevant_one_comes_first(dataset, pipeline):
    stats = index_corpus(pipeline, dataset)
    assert len(stats.added) == len(TOPICS)
    assert pipeline.data.chunk_count > 2 * len(TOPICS)  # long texts were split
    assert not pipeline.data.has_sentence_vectors  # a benchmark needs no sentence vectors
    result = run_beir(pipeline, load_beir(dataset, "test"))
    for qid, ranking in result.run.items():
        assert len(ranking) == len(TOPICS), "each document appears once"
        best = max(ranking, key=ranking.get)
        assert best == QUERIES[qid][1]
    assert evaluate(result.run, load_beir(dataset, "test").qrels)["ndcg@10"] == 1.0
    assert len(result.latencies_ms) == 4


def test_reindexing_embeds_only_what_changed(dataset, pipeline, tmp_path, embedder):
    index_corpus(pipeline, dataset)
    again = Pipeline(pipeline.settings, embedder=embedder)  # a fresh process would load the saved index
    assert again.data.chunk_count == pipeline.data.chunk_count
    stats = index_corpus(again, dataset)
    assert stats.embedded_chunks == 0 and not stats.modified
    rows = [json.loads(line) for line in (dataset / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    rows = [r for r in rows if r["_id"] != "coffee"]
    rows[0]["text"] += " Some plants use far-red light too."
    (dataset / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    stats = index_corpus(again, dataset)
    assert stats.changed == ["photo"] and stats.removed == ["coffee"] and not stats.added
    assert 0 < stats.embedded_chunks < again.data.chunk_count
    assert "coffee" not in again.data.documents


def test_trec_run_file_is_standard_and_scores_like_trec_eval(dataset, pipeline, tmp_path):
    index_corpus(pipeline, dataset)
    data = load_beir(dataset, "test")
    result = run_beir(pipeline, data)
    path = tmp_path / "out" / "run.trec"
    write_trec_run(result.run, path, tag="beir-tiny")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4 * len(TOPICS)
    by_query: dict[str, list[list[str]]] = {}
    for line in lines:
        parts = line.split(" ")
        assert len(parts) == 6 and parts[1] == "Q0" and parts[5] == "beir-tiny"
        by_query.setdefault(parts[0], []).append(parts)
    for rows in by_query.values():
        assert [int(r[3]) for r in rows] == list(range(1, len(rows) + 1))
        scores = [float(r[4]) for r in rows]
        assert scores == sorted(scores, reverse=True)
    run = read_trec_run(path)
    reference = pytrec_eval.RelevanceEvaluator(data.qrels, {"ndcg_cut_10", "recall_100"}).evaluate(run)
    ours = evaluate(run, data.qrels)
    assert ours["ndcg@10"] == pytest.approx(
        sum(r["ndcg_cut_10"] for r in reference.values()) / len(reference)
    )
    assert ours["recall@100"] == pytest.approx(
        sum(r["recall_100"] for r in reference.values()) / len(reference)
    )
