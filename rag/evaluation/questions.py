"""Question sets: load `.jsonl` question files and run them through the pipeline, writing per-question results."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from rag.errors import InvalidInput, RagError
from rag.types import Answer


@dataclass(frozen=True)
class Question:
    """One question of a set; `answers == []` means the corpus does not answer it."""

    id: str
    question: str
    answers: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    doc_ids: list[str] = field(default_factory=list)
    type: str = ""  # free label such as single / multi / unanswerable, used to group results

    @property
    def answerable(self) -> bool:
        """True when the set lists accepted answers."""
        return bool(self.answers)


def _strings(row: dict, key: str) -> list[str]:
    value = row.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise TypeError(f"{key!r} must be a list of strings")
    return [str(v) for v in value]


def load_questions(path: Path) -> list[Question]:
    """Read a question set; raises InvalidInput naming the first bad line."""
    if not path.is_file():
        raise InvalidInput(f"no such question file: {path}")
    items: list[Question] = []
    seen: set[str] = set()
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                item = Question(id=str(row.get("id", number)), question=str(row["question"]),
                                answers=_strings(row, "answers"), evidence=_strings(row, "evidence"),
                                doc_ids=_strings(row, "doc_ids"), type=str(row.get("type") or ""))
                if not item.question.strip():
                    raise ValueError("empty question")
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise InvalidInput(f"{path}:{number}: not a question line ({exc.__class__.__name__}: {exc})") from None
            if item.id in seen:
                raise InvalidInput(f"{path}:{number}: duplicate id {item.id!r}")
            seen.add(item.id)
            items.append(item)
    if not items:
        raise InvalidInput(f"{path}: no questions")
    return items


def run_questions(pipeline, items: list[Question], *, top_k: int | None = None, mode=None,  # noqa: ANN001
                  out: Path | None = None, progress: bool = False) -> list[Answer]:
    """Ask every question; write one JSON line per answer to `out` (written to a temp file, then renamed)."""
    results: list[Answer] = []
    for item in tqdm(items, desc="questions", unit="q", disable=not progress):
        try:
            answer = pipeline.ask(item.question, top_k=top_k, mode=mode)
        except RagError as exc:  # a bad question in the set is recorded, not fatal
            answer = Answer(question=item.question, answer="", abstained=True, notice=f"error: {exc}")
        answer.id = item.id
        results.append(answer)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            for answer in results:
                fh.write(json.dumps(answer.model_dump(), ensure_ascii=False) + "\n")
        tmp.replace(out)
    return results
