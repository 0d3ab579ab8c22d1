"""SciFact claims as an answerability set: each claim asked over an index of the abstracts it cites.

A claim with SUPPORT or CONTRADICT evidence is answerable (the evidence sentences are its answer); a claim whose
cited abstract holds no evidence is unanswerable although its passage is present. Evidence sentence indices
refer to SciFact's own sentence split; they are mapped onto this project's splitter by position, which is
approximate where the two splits differ.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from rag.chunking import split_sentences
from rag.errors import InvalidInput
from rag.evaluation.beir import load_corpus
from rag.evaluation.questions import Question

CLAIMS_FOLDER = "extra_scifact_claims_hf_csv"
_NUMBER = re.compile(r"\d+")  # lists are written "[2 5]" or "[2, 5]"


@dataclass(frozen=True)
class Claim:
    """One SciFact claim: its text, the abstracts it cites, and evidence sentence indices per abstract."""

    id: str
    text: str
    cited: tuple[str, ...]
    evidence: dict[str, tuple[int, ...]]


def load_claims(folder: Path, split: str, limit: int | None = None) -> list[Claim]:
    """Claims of `split` (train, validation) from the dataset folder's claims CSV, merged per claim id."""
    path = folder / CLAIMS_FOLDER / f"claims_{split}.csv"
    if not path.is_file():
        raise InvalidInput(f"no SciFact claims file {path}")
    claims: dict[str, Claim] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            cid = row["id"]
            claim = claims.get(cid) or Claim(
                cid, row["claim"], tuple(_NUMBER.findall(row["cited_doc_ids"])), {}
            )
            if row["evidence_doc_id"]:
                indices = tuple(int(i) for i in _NUMBER.findall(row["evidence_sentences"]))
                claim.evidence[row["evidence_doc_id"]] = (
                    claim.evidence.get(row["evidence_doc_id"], ()) + indices
                )
            claims[cid] = claim
    items = [c for c in claims.values() if c.cited]
    return items[:limit] if limit else items


def claims_corpus(folder: Path, claims: list[Claim]) -> list:
    """The abstracts cited by `claims` (as Documents)."""
    cited = {d for c in claims for d in c.cited}
    return [d for d in load_corpus(folder) if d.doc_id in cited]


def claim_questions(claims: list[Claim], documents: dict[str, str]) -> list[Question]:
    """Question-set items: answerable claims carry their evidence sentences as answer and evidence."""
    items = []
    for claim in claims:
        evidence: list[str] = []
        for doc_id, indices in claim.evidence.items():
            text = documents.get(doc_id)
            if text is None:
                continue
            spans = split_sentences(text)
            evidence += [text[slice(*spans[i])] for i in sorted(set(indices)) if i < len(spans)]
        docs = [d for d in claim.evidence if d in documents] if evidence else []
        items.append(
            Question(
                f"claim-{claim.id}",
                claim.text,
                answers=evidence,
                evidence=evidence,
                doc_ids=docs,
                type="supported" if evidence else "not-enough-info",
            )
        )
    return items
