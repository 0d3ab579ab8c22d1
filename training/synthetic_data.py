"""Part (f) of the reader's data: hand-written news passages with natural and near-miss questions.

`training/synthetic_qa/part*.jsonl` holds invented news passages (business, technology, politics, culture,
health), each with seven questions typed the way a person who has not read it would: four answerable ones
(paraphrased, chatty, keyword, why/how), each with the verbatim span of the passage that answers it, and three
near misses about the same entities that the passage does not answer (a missing detail, an attribute of another
entity or period, an unstated reason). They were written for this project (by the engineering sessions, see
training/README.md) and are not drawn from any evaluation set.

Each question becomes one pair per sentence of its passage (`rag.chunking.split_sentences`): label 1 where the
sentence overlaps the answer span. A seeded share of the passages (all their questions) is the hold-out the
reader's epochs and configs are selected on.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

from rag.chunking import split_sentences

FOLDER = Path(__file__).with_name("synthetic_qa")
HOLDOUT_SHARE = 0.15
SEED = 13


def passages(folder: Path = FOLDER) -> list[dict]:
    """Every passage of every part file, in file then line order."""
    out = []
    for path in sorted(folder.glob("part*.jsonl")):
        with open(path, encoding="utf-8") as fh:
            out += [json.loads(line) for line in fh if line.strip()]
    return out


def holdout_passages(items: list[dict], share: float = HOLDOUT_SHARE, seed: int = SEED) -> set[str]:
    """A seeded `share` of the passage ids."""
    ids = sorted(p["id"] for p in items)
    random.Random(seed).shuffle(ids)
    return set(ids[: round(share * len(ids))])


def synthetic_rows(folder: Path = FOLDER, holdout: bool = True) -> Iterator[dict]:
    """(f): every question against every sentence of its passage; `split` is `holdout` for held-out passages
    (when `holdout`), else `train`."""
    items = passages(folder)
    held = holdout_passages(items) if holdout else set()
    for passage in items:
        text = passage["text"]
        spans = split_sentences(text)
        for number, q in enumerate(passage["questions"]):
            answer = q["answer"]
            at = text.find(answer) if answer else -1
            gold = (at, at + len(answer)) if at >= 0 else None
            qid = f"synthetic:{passage['id']}:{number}"
            for index, (start, end) in enumerate(spans):
                lo, hi = max(0, index - 1), min(len(spans) - 1, index + 1)
                w_start, w_end = spans[lo][0], spans[hi][1]
                yield {
                    "question": q["q"],
                    "sentence": text[start:end],
                    "window": text[w_start:w_end],
                    "label": int(gold is not None and gold[0] < end and start < gold[1]),
                    "window_label": int(gold is not None and gold[0] < w_end and w_start < gold[1]),
                    "answerable": int(gold is not None),
                    "qid": qid,
                    "group": f"synthetic:{passage['id']}",
                    "source": "synthetic",
                    "style": q["style"],
                    "rank": index,
                    "split": "holdout" if passage["id"] in held else "train",
                }
