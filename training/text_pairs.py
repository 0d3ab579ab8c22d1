"""Reader pairs from plain texts: (c) SciFact claims and (f) written passages, each against every sentence of its text.

No index is needed. Used by training/reader_data.py, which documents the recipe.
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path

from rag.chunking import split_sentences
from training.synthetic_data import FOLDER as SYNTHETIC
from training.synthetic_data import holdout_passages, passages

SCIFACT = Path("/work/shared/data/scifact")


def overlaps(start: int, end: int, spans: Sequence[tuple[int, int]]) -> bool:
    """True when [start, end) overlaps any of `spans`."""
    return any(a < end and start < b for a, b in spans)


def _windows(text: str) -> list[tuple[str, str, tuple[int, int]]]:
    """(sentence, window, sentence-index range of the window) for each sentence of `text`."""
    spans = split_sentences(text)
    out = []
    for i, (s, e) in enumerate(spans):
        lo, hi = max(0, i - 1), min(len(spans) - 1, i + 1)
        out.append((text[s:e], text[spans[lo][0] : spans[hi][1]], (lo, hi)))
    return out


def _sentence_rows(
    question: str,
    text: str,
    gold: set[int],
    answerable: bool,
    qid: str,
    group: str,
    source: str,
    style: str,
    split: str,
) -> Iterator[dict]:
    """One row per sentence of `text` for `question`: positive when the sentence's index is in `gold`, its
    window positive when the window holds one."""
    for index, (sentence, window, (lo, hi)) in enumerate(_windows(text)):
        yield {
            "question": question,
            "sentence": sentence,
            "window": window,
            "label": int(index in gold),
            "window_label": int(any(lo <= g <= hi for g in gold)),
            "answerable": int(answerable),
            "qid": qid,
            "group": group,
            "source": source,
            "style": style,
            "rank": index,
            "split": split,
        }


def _ints(cell: str) -> list[str]:
    """The numbers of a list cell, written either as `[1, 2]` or NumPy-style as `[1 2]`."""
    return re.findall(r"\d+", cell or "")


def scifact_rows(root: Path = SCIFACT) -> Iterator[dict]:
    """(c): SciFact train claims against the sentences of their evidence (or cited) abstracts."""
    corpus = {}
    with open(root / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            corpus[row["_id"]] = row["text"]
    evidence: dict[tuple[str, str], set[int]] = defaultdict(set)
    claims: dict[str, str] = {}
    cited: dict[str, list[str]] = {}
    with open(root / "extra_scifact_claims_hf_csv" / "claims_train.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            claims[row["id"]] = row["claim"]
            cited[row["id"]] = _ints(row["cited_doc_ids"])
            if row["evidence_doc_id"]:
                evidence[(row["id"], row["evidence_doc_id"])] |= set(
                    map(int, _ints(row["evidence_sentences"]))
                )
    pairs = sorted(evidence) + sorted(
        (c, d) for c in claims if not any(k[0] == c for k in evidence) for d in cited[c]
    )
    for claim_id, doc_id in pairs:
        text = corpus.get(doc_id)
        if not text:
            continue
        gold = evidence.get((claim_id, doc_id), set())
        qid = f"scifact:{claim_id}"
        yield from _sentence_rows(
            claims[claim_id], text, gold, bool(gold), qid, qid, "scifact", "claim", "train"
        )


def synthetic_rows(folder: Path = SYNTHETIC) -> Iterator[dict]:
    """(f): every written question against every sentence of its passage (positive: the sentences overlapping its
    answer span); `split` is `holdout` for the held-out passages."""
    items = passages(folder)
    held = holdout_passages(items)
    for passage in items:
        text = passage["text"]
        for number, q in enumerate(passage["questions"]):
            answer, at = q["answer"], text.find(q["answer"]) if q["answer"] else -1
            span = [(at, at + len(answer))] if at >= 0 else []
            gold = {i for i, (s, e) in enumerate(split_sentences(text)) if overlaps(s, e, span)}
            qid, group = f"synthetic:{passage['id']}:{number}", f"synthetic:{passage['id']}"
            split = "holdout" if passage["id"] in held else "train"
            yield from _sentence_rows(
                q["q"], text, gold, bool(span), qid, group, "synthetic", q["style"], split
            )
