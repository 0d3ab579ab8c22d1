"""Shared fixtures: the real embedding model (loaded once) and a real index of the seed corpus."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.embedding import Embedder
from rag.pipeline import Pipeline
from rag.settings import Settings

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
SCIFACT = REPO.parent / "shared" / "data" / "scifact"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The bundled all-MiniLM-L6-v2 model, loaded once for the whole run."""
    return Embedder()


def make_settings(index_dir: Path, **overrides: object) -> Settings:
    """Settings for a test: its own index folder, everything else at the defaults (environment ignored)."""
    return Settings(_env_file=None, index_dir=index_dir, corpus_dir=CORPUS, **overrides)


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """A folder holding a real index of the seed corpus, built once per run."""
    root = tmp_path_factory.mktemp("seed-index")
    Pipeline(make_settings(root), embedder=embedder).index([CORPUS])
    return root


@pytest.fixture(scope="session")
def seed_pipeline(seed_index_dir: Path, embedder: Embedder) -> Pipeline:
    """A read-only pipeline over the seed index (tests must not modify it)."""
    return Pipeline(make_settings(seed_index_dir), embedder=embedder)


@pytest.fixture()
def writable_pipeline(tmp_path: Path, seed_index_dir: Path, embedder: Embedder) -> Pipeline:
    """A pipeline over a private copy of the seed index, free to modify."""
    shutil.copytree(seed_index_dir / "seed", tmp_path / "index" / "seed")
    return Pipeline(make_settings(tmp_path / "index"), embedder=embedder)
