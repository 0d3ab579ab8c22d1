"""Claim-verifier evaluation: the citation checker on a labelled claim set, and how well it flags false ones."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rag.answer.citations import CitationChecker, Status
from rag.errors import InvalidInput
from rag.pipeline import Pipeline
from rag.types import Passage

KINDS = ("true", "number_swap", "entity_swap", "wrong_subject", "negation")
RETRIEVED = (
    5  # passages in each claim's "prompt": the claim's own top hits, plus the evidence passage if missing
)


@dataclass(frozen=True)
class ClaimCase:
    """One labelled claim: `evidence` is the verbatim cited sentence (or span of it) in document `doc_id`."""

    id: str
    claim: str
    doc_id: str
    evidence: str
    label: bool  # True: the evidence states the claim
    kind: str  # true, number_swap, entity_swap, wrong_subject or negation
    split: str  # dev (rules may be tuned on it) or test (reported)


def load_claims(path: Path, split: str | None = None) -> list[ClaimCase]:
    """The claims of a `.jsonl` set (one JSON object a line), optionally only those of one split."""
    cases = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            case = ClaimCase(
                id=str(row["id"]),
                claim=str(row["claim"]),
                doc_id=str(row["doc_id"]),
                evidence=str(row["evidence"]),
                label=bool(row["label"]),
                kind=str(row["kind"]),
                split=str(row["split"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"{path}:{number}: not a claim record ({exc})") from None
        if case.kind not in KINDS or case.label != (case.kind == "true"):
            raise InvalidInput(f"{path}:{number}: kind {case.kind!r} does not match label {case.label}")
        if split is None or case.split == split:
            cases.append(case)
    return cases


def prompt_for(pipeline: Pipeline, case: ClaimCase) -> tuple[list[Passage], int]:
    """The passages a prompt would hold for the claim (its retrieved passages) and the 1-based number of the one
    holding the evidence, which the claim cites (added last when retrieval missed it)."""
    data = pipeline.data
    text = pipeline.document(case.doc_id).text
    at = text.find(case.evidence)
    if at < 0:
        raise InvalidInput(f"{case.id}: evidence is not in the cleaned text of {case.doc_id}")
    end = at + len(case.evidence)
    passages = pipeline.search(case.claim, top_k=RETRIEVED)
    for n, passage in enumerate(passages, start=1):
        chunk = passage.chunk
        if chunk.doc_id == case.doc_id and chunk.start <= at and end <= chunk.end:
            return passages, n
    for row, chunk in data.chunks_of(case.doc_id):
        if chunk.doc_id == case.doc_id and chunk.start <= at and end <= chunk.end:
            return [*passages, Passage(chunk=chunk, score=0.0, row=row)], len(passages) + 1
    raise InvalidInput(f"{case.id}: no chunk of {case.doc_id} holds the whole evidence")


def flags(pipeline: Pipeline, case: ClaimCase) -> bool:
    """True when the checker marks the claim unsupported (a re-attribution counts as supported)."""
    passages, cited = prompt_for(pipeline, case)
    checker = CitationChecker(passages, pipeline.data, pipeline.embedder)
    return checker.check(case.claim, [cited]).status is Status.unsupported


@dataclass
class KindScore:
    """Counts for one kind of claim: how many there are and how many the checker flagged."""

    total: int = 0
    flagged: int = 0
    ids: list[str] = field(
        default_factory=list
    )  # the cases judged wrongly (a flagged true claim, a missed false one)


@dataclass
class VerifierReport:
    """Precision, recall and F1 of flagging false claims, overall and per kind of false claim.

    Per kind, precision counts that kind's caught claims against every wrongly flagged true claim of the split.
    """

    kinds: dict[str, KindScore]

    def _false_flags(self) -> int:
        return self.kinds.get("true", KindScore()).flagged

    def precision(self, kind: str | None = None) -> float:
        """Share of flagged claims that are false (of `kind`, or of any kind)."""
        caught = self.caught(kind)
        return caught / (caught + self._false_flags()) if caught + self._false_flags() else 0.0

    def recall(self, kind: str | None = None) -> float:
        """Share of false claims (of `kind`, or of any kind) that were flagged."""
        total = sum(s.total for k, s in self.kinds.items() if k != "true" and kind in (None, k))
        return self.caught(kind) / total if total else 0.0

    def f1(self, kind: str | None = None) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision(kind), self.recall(kind)
        return 2 * p * r / (p + r) if p + r else 0.0

    def caught(self, kind: str | None = None) -> int:
        """False claims (of `kind`, or of any kind) that were flagged."""
        return sum(s.flagged for k, s in self.kinds.items() if k != "true" and kind in (None, k))

    def table(self) -> str:
        """A markdown table: one row per kind of false claim, then all of them, then the true claims' false flags."""
        rows = ["| kind | claims | flagged | precision | recall | F1 |", "|---|---|---|---|---|---|"]
        for kind in [*(k for k in KINDS if k != "true" and k in self.kinds), None]:
            total = sum(s.total for k, s in self.kinds.items() if k != "true" and kind in (None, k))
            rows.append(
                f"| {kind or 'all false claims'} | {total} | {self.caught(kind)} | "
                f"{self.precision(kind):.3f} | {self.recall(kind):.3f} | {self.f1(kind):.3f} |"
            )
        true = self.kinds.get("true", KindScore())
        rows.append(f"| true claims (wrongly flagged) | {true.total} | {true.flagged} | | | |")
        return "\n".join(rows)


def evaluate(pipeline: Pipeline, cases: Iterable[ClaimCase]) -> VerifierReport:
    """Run the checker on every case and count, per kind, the flagged claims and the wrongly judged ones."""
    kinds: dict[str, KindScore] = {}
    for case in cases:
        score = kinds.setdefault(case.kind, KindScore())
        flagged = flags(pipeline, case)
        score.total += 1
        score.flagged += flagged
        if flagged == case.label:
            score.ids.append(case.id)
    return VerifierReport(kinds={k: kinds[k] for k in KINDS if k in kinds})


def errors(report: VerifierReport, cases: Sequence[ClaimCase]) -> list[str]:
    """One line per wrongly judged case: its id, kind and claim."""
    by_id = {c.id: c for c in cases}
    return [f"{i} {by_id[i].kind}: {by_id[i].claim}" for s in report.kinds.values() for i in s.ids]
