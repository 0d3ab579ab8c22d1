"""The written passages of part (f) of the reader's data: natural and near-miss questions, and their hold-out.

`training/synthetic_qa/part*.jsonl` (batch 1) and `training/synthetic_qa_2/part*.jsonl` (batch 2) hold invented
passages (news, company documents, reports, help pages, ...), each with seven questions typed the way a person who has not read it would: four answerable ones
(paraphrased, chatty, keyword, why/how), each with the verbatim span of the passage that answers it, and three
near misses about the same entities that the passage does not answer (a missing detail, an attribute of another
entity or period, an unstated reason). They were written for this project (by the engineering sessions, see
training/README.md) and are not drawn from any evaluation set.

`training.text_pairs.synthetic_rows` turns each question into one pair per sentence of its passage. A seeded
share of each folder's passages (all their questions) is the hold-out the reader's epochs and configs are selected on, and
bench/synthetic_holdout.py asks it of the answer layer.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

FOLDER = Path(__file__).with_name("synthetic_qa")  # batch 1 (800 passages): the shipped reader's
SECOND = Path(__file__).with_name(
    "synthetic_qa_2"
)  # batch 2 (800 more, written later: see training/README.md)
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
