"""The Store contract, run against every backend: the embedded store and Milvus (a Milvus Lite file)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.documents import load_paths
from rag.embedding import Embedder
from rag.errors import IndexUnavailable
from rag.ingest import prepare
from rag.pipeline import Pipeline
from rag.retrieval import HybridRetriever
from rag.settings import Settings
from rag.stores import ChunkingConfig, PreparedDocument, Store, empty_store, load_store
from rag.text import tokenize
from rag.types import Document
from tests.conftest import CORPUS, make_settings

BACKENDS = ["embedded", "milvus"]
QUERY = "How large is the warehouse at Liège airport?"


def backend_settings(backend: str, root: Path, **overrides: object) -> Settings:
    """Test settings for `backend`; Milvus runs as Milvus Lite in `root/index/milvus.db` (the default file)."""
    return make_settings(root / "index", store=backend, **overrides)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each contract test runs once per backend."""
    return request.param


@pytest.fixture(scope="module")
def seed_docs() -> list[Document]:
    loaded = load_paths([CORPUS])
    assert not loaded.failures
    return sorted(loaded.documents, key=lambda d: d.doc_id)


@pytest.fixture(scope="module")
def prepared(seed_docs: list[Document], embedder: Embedder) -> list[PreparedDocument]:
    """The seed corpus chunked and embedded once for every test here."""
    return prepare(seed_docs, ChunkingConfig(600, 1), embedder.embed)


def build(settings: Settings, embedder: Embedder, docs: list[PreparedDocument]) -> Store:
    """An index of `docs` saved at the settings' index path, loaded back."""
    store = empty_store(settings, embedder.model_id, embedder.dimension, ChunkingConfig(600, 1))
    store.update(upsert=docs, remove=[]).save(settings.index_path)
    return load_store(settings, settings.index_path)


@pytest.fixture()
def store(backend: str, tmp_path: Path, embedder: Embedder, prepared: list[PreparedDocument]) -> Store:
    return build(backend_settings(backend, tmp_path), embedder, prepared)


def saved(data: Store, settings: Settings) -> Store:
    data.save(settings.index_path)
    return load_store(settings, settings.index_path)


def keyed(ranking: list[tuple[int, float]], data: Store) -> list[tuple[str, int, float]]:
    """A ranking with rows replaced by (doc_id, start) so backends with other row numbers compare."""
    return [(data.chunk(r).doc_id, data.chunk(r).start, round(s, 4)) for r, s in ranking]


def searches(data: Store, embedder: Embedder, query: str, n: int = 10) -> list[list[tuple[str, int, float]]]:
    vector = embedder.embed_query(query)
    tokens = tokenize([query])[0]
    fused, _, _ = data.hybrid_search(vector, tokens, HybridRetriever(embedder, candidates=n).fusion)
    best = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
    return [
        keyed(data.dense_search(vector, n), data),
        keyed(data.keyword_search(tokens, n), data),
        keyed(best, data),
    ]


def consistent(data: Store) -> None:
    chunks = list(data.iter_chunks())
    assert data.chunk_count == len(chunks) == sum(r.chunks for r in data.records.values())
    assert set(data.documents) == set(data.records) == {c.doc_id for _, c in chunks}
    for row, chunk in chunks:
        assert data.documents[chunk.doc_id].text[chunk.start : chunk.end] == chunk.text
        assert data.chunk(row) == chunk and data.chunk_vector(row).shape == (data.dimension,)
        assert data.sentence_vectors([(chunk.doc_id, s, e) for s, e in chunk.sentences]) is not None
    for doc_id in data.records:
        assert [c for _, c in data.chunks_of(doc_id)] == [c for _, c in chunks if c.doc_id == doc_id]


# ---- the contract, per backend -------------------------------------------------------------------------
def test_upsert_and_search(store: Store, embedder: Embedder) -> None:
    consistent(store)
    assert len(store.records) == 5 and store.has_sentence_vectors
    dense, sparse, fused = searches(store, embedder, QUERY)
    for ranking in (dense, sparse, fused):
        assert ranking and ranking[0][0] == "2020-alibaba-europe-expansion"
    assert all(score > 0 for _, _, score in sparse)
    assert [s for _, _, s in dense] == sorted((s for _, _, s in dense), reverse=True)


def test_delete_leaves_no_orphans(
    backend: str, store: Store, tmp_path: Path, embedder: Embedder, prepared: list[PreparedDocument]
) -> None:
    gone = "2020-alibaba-europe-expansion"
    victim = next(p for p in prepared if p.document.doc_id == gone)
    after = saved(store.update(upsert=[], remove=[gone]), backend_settings(backend, tmp_path))
    consistent(after)
    assert gone not in after.documents and gone not in after.records and after.chunks_of(gone) == []
    assert all(c.doc_id != gone for _, c in after.iter_chunks())
    assert after.sentence_vectors([(gone, int(s), int(e)) for s, e in victim.sentence_spans[:3]]) is None
    for i, chunk in enumerate(
        victim.chunks
    ):  # the deleted chunks' own vectors and words find other documents
        for ranking in searches(after, embedder, chunk.text, n=50):
            assert all(doc != gone for doc, _, _ in ranking)
        assert all(after.chunk(r).doc_id != gone for r, _ in after.dense_search(victim.chunk_vectors[i], 50))
    with pytest.raises(KeyError):
        after.export(gone)


def test_replace_a_document(
    backend: str, store: Store, tmp_path: Path, embedder: Embedder, prepared: list[PreparedDocument]
) -> None:
    old = next(p for p in prepared if p.document.doc_id == "2020-alibaba-europe-expansion").document
    new_doc = Document(
        old.doc_id, "Warehouses", "The zebra warehouse stores striped crates. It opened in 2031."
    )
    fresh = prepare([new_doc], store.chunking, embedder.embed)
    after = saved(store.update(upsert=fresh, remove=[]), backend_settings(backend, tmp_path))
    consistent(after)
    assert after.documents[old.doc_id].text == new_doc.text and after.records[old.doc_id].chunks == 1
    assert [c.text for _, c in after.chunks_of(old.doc_id)] == [new_doc.text]
    assert keyed(after.keyword_search(["zebra"], 5), after)[0][:2] == (old.doc_id, 0)
    assert all("Liège" not in after.chunk(r).text for r, _ in after.keyword_search(tokenize([QUERY])[0], 50))


def test_model_or_dimension_mismatch_is_refused(
    backend: str, tmp_path: Path, embedder: Embedder, prepared: list[PreparedDocument]
) -> None:
    settings = backend_settings(backend, tmp_path)
    vectors = [
        PreparedDocument(
            p.document, p.record, p.chunks, p.chunk_vectors[:, :8].copy(), p.sentence_spans, None
        )
        for p in prepared[:1]
    ]
    store = empty_store(settings, "other-model", 8, ChunkingConfig(600, 1))
    store.update(upsert=vectors, remove=[]).save(settings.index_path)
    pipeline = Pipeline(settings, embedder=embedder)
    with pytest.raises(IndexUnavailable, match=r"built with model 'other-model' \(dimension 8\).*--rebuild"):
        pipeline.search(QUERY)


def test_a_failed_update_leaves_the_previous_state(
    backend: str, store: Store, tmp_path: Path, embedder: Embedder, prepared: list[PreparedDocument]
) -> None:
    settings = backend_settings(backend, tmp_path)
    before = searches(store, embedder, QUERY)
    good = prepare(
        [Document("new", "New", "A brand new document about zebras.")], store.chunking, embedder.embed
    )
    p = prepared[0]
    broken = PreparedDocument(
        p.document, p.record, p.chunks, np.zeros((len(p.chunks), 7), np.float32), p.sentence_spans, None
    )
    with pytest.raises((ValueError, IndexUnavailable)):
        store.update(upsert=[*good, broken], remove=[prepared[1].document.doc_id]).save(settings.index_path)
    again = load_store(settings, settings.index_path)
    consistent(again)
    assert set(again.records) == set(store.records) and searches(again, embedder, QUERY) == before


def test_save_and_load_round_trip(backend: str, store: Store, tmp_path: Path, embedder: Embedder) -> None:
    settings = backend_settings(backend, tmp_path)
    again = load_store(settings, settings.index_path)
    assert (again.model_id, again.dimension, again.chunking) == (
        store.model_id,
        store.dimension,
        store.chunking,
    )
    assert again.records == store.records
    assert {d: again.documents[d] for d in again.documents} == {
        d: store.documents[d] for d in store.documents
    }
    assert [c for _, c in again.iter_chunks()] == [c for _, c in store.iter_chunks()]
    for doc_id in store.records:
        a, b = again.export(doc_id), store.export(doc_id)
        assert a.chunks == b.chunks and np.array_equal(a.chunk_vectors, b.chunk_vectors)
        assert np.array_equal(a.sentence_spans, b.sentence_spans)
        assert np.array_equal(a.sentence_vectors, b.sentence_vectors)
    assert searches(again, embedder, QUERY) == searches(store, embedder, QUERY)


# ---- the backends agree --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def both(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, prepared: list[PreparedDocument]
) -> dict[str, Store]:
    root = tmp_path_factory.mktemp("both")
    return {b: build(backend_settings(b, root), embedder, prepared) for b in BACKENDS}


def test_document_frequencies_and_idf_are_equal(both: dict[str, Store]) -> None:
    embedded, milvus = both["embedded"], both["milvus"]
    assert embedded.chunk_count == milvus.chunk_count
    terms = {t for _, c in embedded.iter_chunks() for t in tokenize([c.text])[0]} | {"absent-term"}
    for term in terms:
        assert embedded.document_frequency(term) == milvus.document_frequency(term), term
        assert embedded.idf(term) == pytest.approx(milvus.idf(term)), term


def test_rankings_are_equal(both: dict[str, Store], embedder: Embedder) -> None:
    for query in (QUERY, "When was the company founded and by whom?", "electric vehicle battery recycling"):
        embedded, milvus = (searches(both[b], embedder, query, n=30) for b in BACKENDS)
        for a, b in zip(embedded, milvus):
            assert [x[:2] for x in a] == [x[:2] for x in b], query
            assert [x[2] for x in a] == pytest.approx([x[2] for x in b], abs=2e-4), query


# ---- Milvus only: a write cut short ----------------------------------------------------------------------
class FailingClient:
    """A pymilvus client that raises on the n-th call of one method (a server that goes away mid-write)."""

    def __init__(self, client: object, method: str, n: int) -> None:
        self.client, self.method, self.left = client, method, n

    def __getattr__(self, name: str) -> object:
        call = getattr(self.client, name)
        if name != self.method:
            return call

        def failing(*args: object, **kwargs: object) -> object:
            self.left -= 1
            if self.left == 0:
                raise ConnectionError("Milvus went away")
            return call(*args, **kwargs)

        return failing


def milvus_rows(data: Store, doc_id: str) -> int:
    from rag.stores.milvus_collections import CHUNKS

    return len(data.cols.scan(CHUNKS, f'doc_id == "{doc_id}"', ["row"]))


@pytest.mark.parametrize(("method", "n"), [("insert", 2), ("delete", 1)])
def test_milvus_write_cut_short(
    method: str, n: int, tmp_path: Path, embedder: Embedder, prepared: list[PreparedDocument]
) -> None:
    """Cut before the switch: nothing of the write stays. Cut after it: the new copy is live, the old rows
    are invisible, and the next write deletes them."""
    from rag.stores.milvus_collections import Collections

    settings = backend_settings("milvus", tmp_path)
    store = build(settings, embedder, prepared)
    before = searches(store, embedder, QUERY)
    target = prepared[3].document
    changed = Document(
        target.doc_id, target.title, target.text + " A zebra sentence closes it.", target.source
    )
    pending = store.update(upsert=prepare([changed], store.chunking, embedder.embed), remove=[])
    pending.cols = Collections(FailingClient(store.cols.client, method, n), store.cols.prefix)
    with pytest.raises(ConnectionError):
        pending.save(settings.index_path)
    again = load_store(settings, settings.index_path)
    consistent(again)
    if method == "insert":
        assert (
            again.documents[target.doc_id].text == target.text and searches(again, embedder, QUERY) == before
        )
        assert milvus_rows(again, target.doc_id) == again.records[target.doc_id].chunks
    else:
        assert again.documents[target.doc_id].text == changed.text
        assert milvus_rows(again, target.doc_id) > again.records[target.doc_id].chunks  # old rows, invisible
    after = saved(again.update(upsert=[], remove=[prepared[0].document.doc_id]), settings)
    consistent(after)
    assert milvus_rows(after, target.doc_id) == after.records[target.doc_id].chunks
