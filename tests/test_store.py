"""The on-disk index: incremental updates embed only what changed; saves are atomic; corruption is detected."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.embedding import Embedder
from rag.errors import IndexUnavailable
from rag.pipeline import Pipeline
from rag.stores import EmbeddedStore
from tests.conftest import CORPUS, make_settings


@pytest.fixture()
def corpus_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    shutil.copytree(CORPUS, folder)
    return folder


@pytest.fixture()
def pipeline(tmp_path: Path, embedder: Embedder) -> Pipeline:
    return Pipeline(make_settings(tmp_path / "index", index_name="t"), embedder=embedder)


def _consistent(data: EmbeddedStore) -> None:
    chunks = list(data.iter_chunks())
    assert data.chunk_count == len(chunks) == sum(r.chunks for r in data.records.values())
    assert set(data.documents) == {c.doc_id for _, c in chunks}
    for row, chunk in chunks:
        assert data.documents[chunk.doc_id].text[chunk.start : chunk.end] == chunk.text
        assert data.chunk(row) == chunk and data.chunk_vector(row).shape == (data.dimension,)
        keys = [(chunk.doc_id, s, e) for s, e in chunk.sentences]
        assert data.sentence_vectors(keys) is not None


def test_reindexing_embeds_only_what_changed(pipeline: Pipeline, corpus_copy: Path) -> None:
    first = pipeline.index([corpus_copy])
    assert len(first.stats.added) == 5 and first.stats.embedded_chunks == first.chunks
    _consistent(pipeline.data)

    again = pipeline.index([corpus_copy])
    assert again.stats.embedded_chunks == 0 and again.stats.embedded_sentences == 0
    assert len(again.stats.unchanged) == 5 and not again.stats.modified

    target = corpus_copy / "2021-12-alibaba-investor-day-overseas.txt"
    target.write_text(
        target.read_text(encoding="utf-8") + "\n\nAlibaba opened a new data centre in Dubai.",
        encoding="utf-8",
    )
    changed = pipeline.index([corpus_copy])
    assert changed.stats.changed == ["2021-12-alibaba-investor-day-overseas"]
    expected = pipeline.data.records["2021-12-alibaba-investor-day-overseas"].chunks
    assert changed.stats.embedded_chunks == expected < changed.chunks
    _consistent(pipeline.data)

    (corpus_copy / "2016-singles-day-goes-global.txt").unlink()
    removed = pipeline.index([corpus_copy])
    assert removed.stats.removed == ["2016-singles-day-goes-global"] and removed.stats.embedded_chunks == 0
    data = pipeline.data
    assert "2016-singles-day-goes-global" not in data.documents
    assert all(c.doc_id != "2016-singles-day-goes-global" for _, c in data.iter_chunks())
    _consistent(data)
    # What is on disk equals what is in memory.
    _consistent(EmbeddedStore.load(pipeline.path))
    assert EmbeddedStore.load(pipeline.path).chunk_count == data.chunk_count


def test_saved_vectors_round_trip(pipeline: Pipeline, corpus_copy: Path) -> None:
    pipeline.index([corpus_copy])
    loaded = EmbeddedStore.load(pipeline.path)
    memory = pipeline.data
    assert [(r, c.chunk_id) for r, c in loaded.iter_chunks()] == [
        (r, c.chunk_id) for r, c in memory.iter_chunks()
    ]
    for row, chunk in loaded.iter_chunks():
        assert np.allclose(loaded.chunk_vector(row), memory.chunk_vector(row))
        keys = [(chunk.doc_id, s, e) for s, e in chunk.sentences]
        assert np.allclose(loaded.sentence_vectors(keys), memory.sentence_vectors(keys))


def test_a_failed_save_leaves_the_previous_index_intact(
    pipeline: Pipeline, corpus_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline.index([corpus_copy])
    before = (pipeline.path / "CURRENT").read_text()
    chunks_before = pipeline.data.chunk_count
    (corpus_copy / "extra.txt").write_text(
        "The Hangzhou office has a rooftop garden with 300 trees.", "utf-8"
    )

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", disk_full)  # the crash happens half-way through writing the new version
    with pytest.raises(OSError):
        pipeline.index([corpus_copy])
    monkeypatch.undo()

    assert (pipeline.path / "CURRENT").read_text() == before
    assert not [p for p in pipeline.path.rglob(".tmp-*")]
    reloaded = EmbeddedStore.load(pipeline.path)
    assert reloaded.chunk_count == chunks_before and "extra" not in reloaded.documents
    assert pipeline.data.chunk_count == chunks_before  # the in-memory snapshot was not swapped either
    # And the next attempt succeeds.
    assert pipeline.index([corpus_copy]).stats.added == ["extra"]


def test_a_killed_build_leaves_the_previous_index_loadable(
    pipeline: Pipeline, corpus_copy: Path, tmp_path: Path
) -> None:
    import signal
    import subprocess
    import sys
    import time

    pipeline.index([corpus_copy])
    before = (pipeline.path / "CURRENT").read_text()
    big = tmp_path / "big"
    big.mkdir()
    for i in range(60):
        (big / f"doc{i}.txt").write_text(
            " ".join(f"Fact {i}-{j} about topic {j}." for j in range(150)), "utf-8"
        )
    script = (
        "import sys; from pathlib import Path; from rag.pipeline import Pipeline; from rag.settings import Settings;"
        f"p = Pipeline(Settings(_env_file=None, index_dir=Path({str(pipeline.path.parent)!r}), index_name='t'));"
        "print('ready', flush=True); p.index([Path(sys.argv[1])], rebuild=True)"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(big)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(1.5)  # mid-way through embedding the rebuild
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert (pipeline.path / "CURRENT").read_text() == before
    reloaded = EmbeddedStore.load(pipeline.path)
    assert set(reloaded.documents) == set(pipeline.data.documents)
    _consistent(reloaded)


def test_corrupt_or_missing_index_is_a_clear_error(pipeline: Pipeline, corpus_copy: Path) -> None:
    with pytest.raises(IndexUnavailable, match="no index named 't'"):
        EmbeddedStore.load(pipeline.path)
    pipeline.index([corpus_copy])
    segment = next((pipeline.path / "segments").iterdir())
    (segment / "vectors.npy").write_bytes(b"garbage")
    with pytest.raises(IndexUnavailable, match="corrupt.*rag index --index t --rebuild"):
        EmbeddedStore.load(pipeline.path)


def test_an_index_built_with_another_model_is_refused_then_rebuilt(
    pipeline: Pipeline, corpus_copy: Path, embedder: Embedder
) -> None:
    pipeline.index([corpus_copy])
    version = pipeline.path / "versions" / f"{(pipeline.path / 'CURRENT').read_text().strip()}.json"
    manifest = json.loads(version.read_text())
    manifest["model"] = "some-other-model"
    version.write_text(json.dumps(manifest))
    other = Pipeline(pipeline.settings, embedder=embedder)
    with pytest.raises(IndexUnavailable, match="built with model 'some-other-model'.*--rebuild"):
        other.ask("How large is the warehouse at Liège airport?")
    report = other.index([corpus_copy])
    assert report.rebuilt and report.stats.embedded_chunks == report.chunks
    assert other.data.model_id == embedder.model_id
    assert not other.ask("How large is the warehouse at Liège airport?").abstained
