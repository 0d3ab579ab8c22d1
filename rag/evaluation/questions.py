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
    history: list[dict[str, str]] = field(
        default_factory=list
    )  # earlier turns ({role, content}), as the API takes
    split: str = ""  # dev (may be tuned on) or test (held out); "" when the set has no splits
    style: str = (
        ""  # how it is phrased: paraphrase, chatty, keyword, why_how, followup, near_miss, off_topic, ...
    )
    standalone: str = ""  # a follow-up written out as a self-contained question (scores rewriting)

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


def _history(row: dict) -> list[dict[str, str]]:
    value = row.get("history") or []
    if not isinstance(value, list) or not all(
        isinstance(t, dict) and isinstance(t.get("content"), str) for t in value
    ):
        raise TypeError("'history' must be a list of {role, content} objects")
    return [{"role": str(t.get("role", "user")), "content": t["content"]} for t in value]


def load_questions(path: Path, split: str | None = None) -> list[Question]:
    """Read a question set (only the items of `split` when given); raises InvalidInput naming the first bad
    line, or when the split has no items."""
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
                item = Question(
                    id=str(row.get("id", number)),
                    question=str(row["question"]),
                    answers=_strings(row, "answers"),
                    evidence=_strings(row, "evidence"),
                    doc_ids=_strings(row, "doc_ids"),
                    type=str(row.get("type") or ""),
                    history=_history(row),
                    split=str(row.get("split") or ""),
                    style=str(row.get("style") or ""),
                    standalone=str(row.get("standalone") or ""),
                )
                if not item.question.strip():
                    raise ValueError("empty question")
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise InvalidInput(
                    f"{path}:{number}: not a question line ({exc.__class__.__name__}: {exc})"
                ) from None
            if item.id in seen:
                raise InvalidInput(f"{path}:{number}: duplicate id {item.id!r}")
            seen.add(item.id)
            items.append(item)
    if not items:
        raise InvalidInput(f"{path}: no questions")
    if split is not None:
        items = [q for q in items if q.split == split]
        if not items:
            raise InvalidInput(f"{path}: no questions in split {split!r}")
    return items


def run_questions(
    pipeline,
    items: list[Question],
    *,
    top_k: int | None = None,
    mode=None,
    out: Path | None = None,
    progress: bool = False,
) -> list[Answer]:
    """Ask every question; write one JSON line per answer to `out` (written to a temp file, then renamed)."""
    results: list[Answer] = []
    for item in tqdm(items, desc="questions", unit="q", disable=not progress):
        try:
            answer = pipeline.ask(item.question, history=item.history or None, top_k=top_k, mode=mode)
        except RagError as exc:  # a bad question in the set is recorded, not fatal
            answer = Answer(question=item.question, answer="", abstained=True, notice=f"error: {exc}")
        answer.id = item.id
        results.append(answer)
    if out is not None:
        write_answers(results, out)
    return results


def write_answers(answers: list[Answer], out: Path) -> None:
    """One JSON line per answer (written to a temp file, then renamed)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(answer.model_dump(), ensure_ascii=False) + "\n" for answer in answers)
    tmp.replace(out)
