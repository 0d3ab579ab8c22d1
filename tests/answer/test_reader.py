"""Answer reader: the bundled cross-encoder ranks an answer sentence above an unrelated one; bad folders fail clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.answer.reader import READER_PATH, Reader
from rag.errors import ModelUnavailable

ANSWER = (
    "In early October, Ali began to build a warehouse at Liege Airport in Belgium, covering an area of 220000 "
    "square meters."
)
UNRELATED = (
    "Ali international platform Global Express has been established for 10 years, but it is still regarded "
    "as a low-end Chinese platform."
)


@pytest.fixture(scope="module")
def reader() -> Reader:
    """The bundled reader, loaded once."""
    return Reader()


def test_the_bundled_reader_is_shipped_in_the_package_folder() -> None:
    assert (READER_PATH / "config.json").is_file() and (READER_PATH / "model.safetensors").is_file()
    size = sum(f.stat().st_size for f in READER_PATH.iterdir())
    assert size < 60_000_000


def test_the_answer_sentence_outscores_an_unrelated_one(reader: Reader) -> None:
    scores = reader.scores("How large is the warehouse at Liège airport?", [UNRELATED, ANSWER])
    assert scores.shape == (2,) and scores.dtype == np.float32
    assert scores[1] > scores[0]


def test_scores_are_one_logit_per_text_in_order(reader: Reader) -> None:
    texts = [UNRELATED, ANSWER, UNRELATED]
    scores = reader.scores("how big is alibaba's warehouse in belgium", texts)
    assert scores.shape == (3,)
    assert scores[0] == pytest.approx(scores[2], abs=1e-4)
    assert reader.scores("anything", []).shape == (0,)


@pytest.mark.parametrize("make", [lambda tmp: tmp / "missing", lambda tmp: tmp])
def test_a_bad_folder_raises_a_clear_error(tmp_path: Path, make) -> None:
    with pytest.raises(ModelUnavailable, match="answer reader"):
        Reader(make(tmp_path))


def test_a_corrupt_model_raises_a_clear_error(tmp_path: Path) -> None:
    for name in (
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.txt",
        "special_tokens_map.json",
    ):
        (tmp_path / name).write_bytes((READER_PATH / name).read_bytes())
    (tmp_path / "model.safetensors").write_bytes(b"not a model")
    with pytest.raises(ModelUnavailable, match="cannot load the answer reader"):
        Reader(tmp_path)


def test_a_near_miss_question_scores_below_the_questions_the_sentence_answers(reader: Reader) -> None:
    """The same sentence, asked what it states and what it does not (same warehouse, other facts)."""
    answered = ["how big is the liege warehouse", "when did work on the belgian warehouse start"]
    near_misses = ["when will the liege warehouse open", "how much did the liege warehouse cost"]
    yes = [float(reader.scores(q, [ANSWER])[0]) for q in answered]
    no = [float(reader.scores(q, [ANSWER])[0]) for q in near_misses]
    assert min(yes) > max(no)
