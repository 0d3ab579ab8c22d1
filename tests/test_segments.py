"""The embedded store's incremental parts: one segment per write, BM25 equal to bm25s, merges, HNSW, kill -9."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import bm25s
import faiss
import numpy as np
import pytest

from rag.ingest import prepare
from rag.stores import ChunkingConfig, EmbeddedStore, passage_text
from rag.stores.merging import MERGE_FACTOR
from rag.text import tokenize
from rag.types import Document
from tests.conftest import REPO

DIM = 16
WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "harbour",
    "warehouse",
    "liege",
    "parcel",
    "cloud",
    "payment",
    "market",
    "europe",
    "asia",
]


def _docs(n: int, seed: int = 0, prefix: str = "d") -> list[Document]:
    rng = np.random.default_rng(seed)
    docs = []
    for i in range(n):
        sentences = [
            " ".join(rng.choice(WORDS, size=8)).capitalize() + "." for _ in range(int(rng.integers(2, 9)))
        ]
        docs.append(
            Document(f"{prefix}{i}", f"Title {prefix}{i}", " ".join(sentences), f"/tmp/{prefix}{i}.txt")
        )
    return docs


def _fake_embed(texts: list[str], _progress: bool = False) -> np.ndarray:
    """Deterministic unit vectors from the text (stands in for the model: these tests are about storage)."""
    out = np.zeros((len(texts), DIM), np.float32)
    for i, text in enumerate(texts):
        rng = np.random.default_rng(abs(hash(text)) % 2**32)
        v = rng.normal(size=DIM)
        out[i] = v / np.linalg.norm(v)
    return out


def _store(**options: int) -> EmbeddedStore:
    return EmbeddedStore.empty("fake", DIM, ChunkingConfig(200, 1), **options)


def _add(store: EmbeddedStore, docs: list[Document], remove: tuple[str, ...] = ()) -> EmbeddedStore:
    return store.update(upsert=prepare(docs, store.chunking, _fake_embed), remove=list(remove))


def test_adding_a_document_writes_one_segment_and_leaves_the_others_untouched(tmp_path: Path) -> None:
    store = _add(_store(), _docs(20))
    store.save(tmp_path)
    before = {p.name: p.stat().st_ino for p in (tmp_path / "segments").iterdir()}
    store = _add(store, _docs(1, seed=5, prefix="new"))
    assert store.segments[:-1] == [s for s in store.segments if s.name in before]  # the old ones, reused
    store.save(tmp_path)
    after = {p.name: p.stat().st_ino for p in (tmp_path / "segments").iterdir()}
    assert {n: i for n, i in after.items() if n in before} == before and len(after) == len(before) + 1
    assert set(EmbeddedStore.load(tmp_path).documents) == set(store.documents)


def test_bm25_after_updates_and_deletes_equals_a_fresh_bm25s_index() -> None:
    store = _add(_store(), _docs(30))
    store = _add(store, _docs(10, seed=1, prefix="x"), remove=("d3", "d7"))
    store = _add(store, _docs(2, seed=2, prefix="d"))  # replaces d0 and d1
    live = list(store.iter_chunks())
    reference = bm25s.BM25()
    reference.index(tokenize([passage_text(c) for _, c in live]), show_progress=False)
    for query in ("warehouse liege", "cloud payment europe", "gamma gamma delta"):
        tokens = tokenize([query])
        rows, scores = reference.retrieve(tokens, k=10, show_progress=False)
        expected = [(live[r][0], float(s)) for r, s in zip(rows[0], scores[0]) if s > 0]
        ours = store.keyword_search(tokens[0], 10)
        assert [round(s, 4) for _, s in ours] == [round(s, 4) for _, s in expected]
        assert {r for r, _ in ours} == {r for r, _ in expected} or len({s for _, s in ours}) < len(ours)
    for token in ("warehous", "liege", "cloud"):
        assert store.document_frequency(token) == sum(
            token in set(t) for t in tokenize([passage_text(c) for _, c in live])
        )


def test_merges_keep_few_segments_and_the_same_results() -> None:
    store = _store()
    docs = _docs(3 * MERGE_FACTOR, seed=3)
    for doc in docs:  # one write per document
        store = _add(store, [doc])
    store = _add(store, [], remove=("d0", "d1"))
    assert len(store.segments) < MERGE_FACTOR
    fresh = _add(_store(), docs[2:])
    query = _fake_embed(["harbour market"])[0]
    assert [s for _, s in store.dense_search(query, 10)] == pytest.approx(
        [s for _, s in fresh.dense_search(query, 10)]
    )
    chunks = {store.chunk(r).chunk_id for r, _ in store.dense_search(query, 10)}
    assert chunks == {fresh.chunk(r).chunk_id for r, _ in fresh.dense_search(query, 10)}
    assert store.chunk_count == fresh.chunk_count and set(store.documents) == set(fresh.documents)


def test_large_segments_get_an_hnsw_index_with_high_recall(tmp_path: Path) -> None:
    store = _add(_store(ann_min_chunks=300), _docs(400, seed=4))
    assert store.stats()["approximate_segments"] == 1
    store.save(tmp_path)
    loaded = EmbeddedStore.load(tmp_path, ann_min_chunks=300)
    assert loaded.segments[0].ann is not None
    queries = _fake_embed([f"query {i}" for i in range(50)])
    hits = 0
    for q in queries:
        exact = {r for r, _ in loaded.dense_search(q, 10, exact=True)}
        hits += len(exact & {r for r, _ in loaded.dense_search(q, 10)})
    assert hits / (10 * len(queries)) >= 0.9


def test_a_search_from_any_thread_runs_on_one_faiss_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    store = _add(_store(), _docs(20))
    knn = faiss.knn
    during: list[int] = []

    def watched_knn(*args: object, **kwargs: object) -> object:  # FAISS's own function, observed not replaced
        during.append(faiss.omp_get_max_threads())
        return knn(*args, **kwargs)

    monkeypatch.setattr(faiss, "knn", watched_knn)
    before: list[int] = []
    after: list[int] = []

    def search() -> None:  # as a server's worker thread does: FAISS's thread setting is per thread
        faiss.omp_set_num_threads(2)
        before.append(faiss.omp_get_max_threads())
        assert store.dense_search(_fake_embed(["cloud payment"])[0], 5)
        after.append(faiss.omp_get_max_threads())

    worker = threading.Thread(target=search)
    worker.start()
    worker.join()
    assert during and set(during) == {1}  # the search itself ran on one thread
    assert after == before == [2]  # and the thread's own setting (torch's too, when shared) was put back


WRITER = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from tests.test_segments import _add, _docs, _store
from rag.stores import EmbeddedStore
path = Path(sys.argv[1])
store = EmbeddedStore.load(path) if (path / "CURRENT").exists() else _store()
i = len(store.documents)
print("ready", flush=True)
while True:
    store = _add(store, _docs(3, seed=i, prefix=f"k{i}-"))
    store.save(path)
    print(len(store.documents), flush=True)
    i += 3
"""


def test_kill_at_any_moment_leaves_the_last_commit_loadable(tmp_path: Path) -> None:
    path = tmp_path / "idx"
    committed = 0
    for delay in (0.05, 0.13, 0.21, 0.34, 0.55):  # after the first save has begun, at different moments
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(REPO)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        printed = [int(x) for x in out.split() if x.isdigit()]
        if not (path / "CURRENT").exists():  # killed before its first commit: nothing was reported either
            assert not printed and committed == 0
            continue
        store = EmbeddedStore.load(path)  # never half applied: loadable, and at least what was reported
        assert len(store.documents) % 3 == 0 and len(store.documents) >= max(printed, default=committed)
        committed = len(store.documents)
        assert store.chunk_count == sum(r.chunks for r in store.records.values())
        manifest = json.loads(
            (path / "versions" / f"{(path / 'CURRENT').read_text().strip()}.json").read_text()
        )
        assert {p.name for p in (path / "segments").iterdir()} == {s["name"] for s in manifest["segments"]}
    assert committed > 0
