"""Issue 12, items 2 and 6: several writers on one index, and builds that survive a crash."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.embedding import Embedder
from rag.pipeline import Pipeline
from rag.stores import EmbeddedStore
from tests.conftest import CORPUS, REPO, make_settings

RAG = [str(Path(sys.executable).parent / "rag")]


def _env(index_dir: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "RAG_INDEX_DIR": str(index_dir), "HF_HUB_OFFLINE": "1", **extra}
    env.pop("RAG_INDEX_NAME", None)
    return env


def _write_docs(folder: Path, count: int, sentences: int, prefix: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"{prefix}{i}.txt").write_text(
            " ".join(
                f"Note {prefix}{i} fact {j}: the {prefix} item {i} weighs {j} kilograms."
                for j in range(sentences)
            ),
            "utf-8",
        )


def _versions(path: Path) -> list[str]:
    """Version names on disk, with any staging or orphaned segment left behind (there should be none)."""
    names = [p.stem for p in (path / "versions").iterdir()] if (path / "versions").is_dir() else []
    names += [p.name for p in path.rglob(".tmp-*")]
    current = json.loads((path / "versions" / f"{(path / 'CURRENT').read_text().strip()}.json").read_text())
    listed = {s["name"] for s in current["segments"]}
    names += [p.name for p in (path / "segments").iterdir() if p.name not in listed]
    return sorted(names)


def test_a_cli_build_and_a_served_index_share_one_index(tmp_path: Path, embedder: Embedder) -> None:
    index_dir = tmp_path / "index"
    server = Pipeline(make_settings(index_dir, index_name="x", index_refresh_seconds=0), embedder=embedder)
    server.index([CORPUS])
    assert len(server.documents()) == 5

    more = tmp_path / "more"
    _write_docs(more, 3, 4, "more")
    done = subprocess.run(
        [*RAG, "index", str(more), "--index", "x"],
        check=False,
        capture_output=True,
        text=True,
        env=_env(index_dir),
        timeout=300,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    # The running pipeline sees the other process's commit on its next read, before writing anything.
    assert {r.doc_id for r in server.documents()} >= {"more0", "more1", "more2"}
    assert len(server.data.documents) == 8

    # Its next upload builds on the newest version: nothing the CLI added is lost.
    server.add_text(
        "The Hangzhou office has a rooftop garden with 300 trees.", "Rooftop garden", doc_id="garden"
    )
    on_disk = EmbeddedStore.load(server.path)
    assert len(on_disk.documents) == 9 and {"more0", "garden"} <= set(on_disk.documents)
    assert len(server.documents()) == 9


def test_two_pipeline_objects_on_one_index_never_lose_each_others_writes(
    tmp_path: Path, embedder: Embedder
) -> None:
    index_dir = tmp_path / "index"
    first = Pipeline(make_settings(index_dir, index_name="x"), embedder=embedder)  # refresh every second
    first.index([CORPUS])
    second = Pipeline(make_settings(index_dir, index_name="x"), embedder=embedder)
    second.add_text("Cainiao opened a parcel hub in Kuala Lumpur.", "Kuala Lumpur hub", doc_id="kl")
    first.add_text("AliExpress runs a warehouse near Madrid.", "Madrid warehouse", doc_id="madrid")
    second.delete_document("2016-singles-day-goes-global")
    first.add_text("Alibaba Cloud opened a region in Seoul.", "Seoul region", doc_id="seoul")
    expected = {"kl", "madrid", "seoul"} | {p.stem for p in CORPUS.glob("*.txt")} - {
        "2016-singles-day-goes-global"
    }
    assert set(EmbeddedStore.load(first.path).documents) == expected
    assert set(first.data.documents) == expected
    time.sleep(1.1)  # the second pipeline looks at CURRENT at most once a second
    assert set(second.data.documents) == expected


def test_a_killed_first_build_resumes_from_its_last_batch(tmp_path: Path, embedder: Embedder) -> None:
    index_dir = tmp_path / "index"
    docs = tmp_path / "docs"
    _write_docs(docs, 30, 40, "doc")
    proc = subprocess.Popen(
        [*RAG, "index", str(docs), "--index", "t"],
        env=_env(index_dir, RAG_INDEX_BATCH_SIZE="3"),
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    current = index_dir / "t" / "CURRENT"
    deadline = time.monotonic() + 240
    while not current.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)  # right after the first batch's commit, long before the last
    proc.wait(timeout=30)
    assert current.is_file(), "no batch was committed before the kill"
    committed = set(EmbeddedStore.load(index_dir / "t").documents)
    assert 0 < len(committed) < 30

    pipeline = Pipeline(make_settings(index_dir, index_name="t", index_batch_size=3), embedder=embedder)
    report = pipeline.index([docs])
    assert set(report.stats.unchanged) == committed
    assert len(report.stats.added) == 30 - len(committed) and not report.stats.changed
    expected_chunks = sum(pipeline.data.records[d].chunks for d in report.stats.added)
    assert report.stats.embedded_chunks == expected_chunks
    assert report.documents == 30
    version = current.read_text().strip()
    assert _versions(index_dir / "t") == [version]


def test_partial_version_folders_are_removed_on_load(tmp_path: Path, embedder: Embedder) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(CORPUS, tmp_path / "docs")
    Pipeline(make_settings(index_dir, index_name="t"), embedder=embedder).index([tmp_path / "docs"])
    path = index_dir / "t"
    version = (path / "CURRENT").read_text().strip()
    (path / "versions" / "v-20260101000000-deadbeef.json").write_text("{half written")
    for name in ("s-20260101000000-deadbeef", ".tmp-s-20260101000000-cafebabe"):
        (path / "segments" / name).mkdir()
        (path / "segments" / name / "vectors.npy").write_bytes(b"half written")
    Pipeline(make_settings(index_dir, index_name="t"), embedder=embedder)
    assert _versions(path) == [version]
    assert len(EmbeddedStore.load(path).documents) == 5


def test_a_build_in_progress_elsewhere_keeps_its_staging_folder(tmp_path: Path, embedder: Embedder) -> None:
    import fcntl

    index_dir = tmp_path / "index"
    Pipeline(make_settings(index_dir, index_name="t"), embedder=embedder).index([CORPUS])
    path = index_dir / "t"
    staging = path / "segments" / ".tmp-s-20260101000000-inflight"
    staging.mkdir()
    code = (
        "import fcntl, sys, time; fh = open(sys.argv[1], 'a'); fcntl.flock(fh, fcntl.LOCK_EX); "
        "print('locked', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(path / ".lock")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        EmbeddedStore.load(path)  # another process is writing: its staging folder is not a leftover
        assert staging.is_dir()
    finally:
        holder.kill()
        holder.wait(timeout=30)
    with open(path / ".lock", "a") as fh:  # the lock is free again
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fh, fcntl.LOCK_UN)
    EmbeddedStore.load(path)
    assert not staging.exists()


@pytest.mark.parametrize("size", [2])
def test_batched_build_equals_a_single_commit(tmp_path: Path, embedder: Embedder, size: int) -> None:
    batched = Pipeline(
        make_settings(tmp_path / "a", index_name="t", index_batch_size=size), embedder=embedder
    )
    whole = Pipeline(make_settings(tmp_path / "b", index_name="t"), embedder=embedder)
    one, two = batched.index([CORPUS]), whole.index([CORPUS])
    assert sorted(one.stats.added) == sorted(two.stats.added)
    assert one.stats.embedded_chunks == two.stats.embedded_chunks == one.chunks == two.chunks
    assert set(batched.data.documents) == set(whole.data.documents)
