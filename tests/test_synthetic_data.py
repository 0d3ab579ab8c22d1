"""The written passages the answer reader is trained on (training/synthetic_qa*): well-formed, stable hold-outs."""

from __future__ import annotations

import pytest

from training.synthetic_data import FOLDER, HOLDOUT_SHARE, SECOND, holdout_passages, passages

STYLES = ["paraphrase", "chatty", "keyword", "why_how", "near_miss_detail", "near_miss_swap", "near_miss_why"]


@pytest.mark.parametrize("folder", [FOLDER, SECOND])
def test_every_passage_has_seven_questions_and_verbatim_answers(folder) -> None:
    items = passages(folder)
    assert len(items) == 800
    for p in items:
        assert 60 <= len(p["text"].split()) <= 260, p["id"]
        assert sorted(q["style"] for q in p["questions"]) == sorted(STYLES), p["id"]
        for q in p["questions"]:
            answerable = not q["style"].startswith("near_miss")
            assert (q["answer"] is not None) is answerable, (p["id"], q["q"])
            assert q["q"].strip(), p["id"]
            if answerable:
                assert q["answer"] in p["text"], (p["id"], q["answer"])


def test_passage_ids_are_unique_across_batches_and_each_batch_holds_out_its_share() -> None:
    first, second = passages(FOLDER), passages(SECOND)
    ids = [p["id"] for p in first + second]
    assert len(set(ids)) == len(ids)
    for items in (first, second):
        held = holdout_passages(items)
        assert len(held) == round(HOLDOUT_SHARE * len(items)) and held <= {p["id"] for p in items}
