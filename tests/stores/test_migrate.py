"""`rag migrate` copies an embedded index into Milvus without re-embedding; the seed figures stay the same."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.embedding import Embedder
from rag.evaluation.qa import evaluate_questions
from rag.evaluation.questions import load_questions
from rag.pipeline import Pipeline
from rag.stores import EmbeddedStore, MilvusStore, load_store
from tests.conftest import REPO, make_settings, run_rag

SEED = REPO / "evals" / "seed_questions.jsonl"


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory, seed_index_dir: Path) -> Path:
    """An index folder where the seed index was migrated into Milvus (Milvus Lite file in that folder)."""
    root = tmp_path_factory.mktemp("migrated")
    shutil.copytree(seed_index_dir / "seed", root / "seed")
    done = run_rag(["migrate", "--index", "seed", "--to", "milvus"], root)
    assert done.returncode == 0, done.stderr
    assert "index seed in milvus: 5 documents" in done.stdout and "--index seed.embedded" in done.stdout
    assert "copied 5/5 documents" in done.stderr
    return root


def test_migrate_copies_the_stored_vectors(migrated: Path, seed_index_dir: Path) -> None:
    source = EmbeddedStore.load(seed_index_dir / "seed")
    kept = EmbeddedStore.load(migrated / "seed.embedded")  # the embedded index stays, under another name
    copy = load_store(make_settings(migrated, store="milvus"), migrated / "seed")
    assert isinstance(copy, MilvusStore) and kept.records == source.records == copy.records
    assert (copy.model_id, copy.dimension, copy.chunking, copy.roots) == (
        source.model_id,
        source.dimension,
        source.chunking,
        source.roots,
    )
    for doc_id in source.records:
        a, b = source.export(doc_id), copy.export(doc_id)
        assert a.chunks == b.chunks and (a.chunk_vectors == b.chunk_vectors).all()
        assert (a.sentence_vectors == b.sentence_vectors).all()


def test_migrate_errors_are_one_line_with_exit_2(migrated: Path) -> None:
    done = run_rag(["migrate", "--index", "nothing-here"], migrated)
    assert (
        done.returncode == 2
        and done.stderr.count("\n") == 1
        and "no index named 'nothing-here'" in done.stderr
    )
    done = run_rag(["migrate", "--index", "seed.embedded", "--as", "seed"], migrated)
    assert done.returncode == 2 and "already exists" in done.stderr
    done = run_rag(["migrate", "--index", "seed.embedded", "--to", "faiss"], migrated)
    assert done.returncode == 2 and "--to" in done.stderr


def test_seed_question_figures_are_equal(migrated: Path, seed_pipeline: Pipeline, embedder: Embedder) -> None:
    milvus = Pipeline(make_settings(migrated, store="milvus"), embedder=embedder)
    assert isinstance(milvus.data, MilvusStore)
    questions = load_questions(SEED)  # a few of each type, to keep this quick (README: the whole set)
    questions = [q for q in questions if sum(p.type == q.type for p in questions[: questions.index(q)]) < 4]
    embedded_result = evaluate_questions(seed_pipeline, questions)
    milvus_result = evaluate_questions(milvus, questions)
    timing = {"latency_p50_ms", "latency_p95_ms"}
    figures = {k: v for k, v in milvus_result.metrics.items() if k not in timing}
    assert figures == {k: v for k, v in embedded_result.metrics.items() if k not in timing}
    assert [a.answer for a in milvus_result.answers] == [a.answer for a in embedded_result.answers]


def test_derived_pipelines_stay_in_memory(migrated: Path, embedder: Embedder) -> None:
    """What-if evaluation over a Milvus index reads an in-memory copy and writes nothing to Milvus."""
    settings = make_settings(migrated, store="milvus")
    milvus = Pipeline(settings, embedder=embedder)
    gone = "2020-alibaba-europe-expansion"
    assert gone in {p.chunk.doc_id for p in milvus.search("Liège airport warehouse", top_k=10)}
    derived = milvus.derived(remove=[gone])
    assert gone not in {p.chunk.doc_id for p in derived.search("Liège airport warehouse", top_k=10)}
    assert all(
        c.doc_id != gone for c in derived.ask("How large is the warehouse at Liège airport?").citations
    )
    assert gone in load_store(settings, migrated / "seed").records and gone in milvus.data.records
