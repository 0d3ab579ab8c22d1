"""Side-by-side comparison of two evaluation runs (their metrics.json files), with the differences."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rag.errors import InvalidInput

# Metrics where a smaller value is better; every other metric is better when larger.
LOWER_IS_BETTER = ("latency", "false_abstention")


@dataclass(frozen=True)
class Row:
    """One metric of both runs."""

    name: str
    a: float | int | None
    b: float | int | None

    @property
    def delta(self) -> float | int | None:
        """b - a, when both exist."""
        return None if self.a is None or self.b is None else self.b - self.a

    @property
    def better(self) -> str | None:
        """ "a", "b" or None (equal or not comparable)."""
        d = self.delta
        if not d:
            return None
        lower = any(word in self.name for word in LOWER_IS_BETTER)
        return "b" if (d < 0) == lower else "a"


def load_metrics(path: Path) -> dict:
    """Read a metrics.json written by `rag eval --report` (a report folder is accepted too)."""
    if path.is_dir():
        path = path / "metrics.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"no such metrics file: {path}") from None
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{path}: not a metrics JSON file ({exc.__class__.__name__})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("metrics"), dict):
        raise InvalidInput(f"{path}: not a metrics file of `rag eval --report` (no 'metrics' object)")
    return doc


def flat_metrics(doc: dict) -> dict[str, float | None]:
    """A run's numeric metrics, plus grouped accuracies as `<group>:<name>`."""
    out: dict[str, float | None] = {
        k: v
        for k, v in doc["metrics"].items()
        if v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
    }
    for group, rows in (doc.get("groups") or {}).items():
        for name, row in rows.items():
            if isinstance(row, dict) and isinstance(row.get("accuracy"), (int, float)):
                out[f"{group}:{name}"] = float(row["accuracy"])
    return out


def compare(a: dict, b: dict) -> list[Row]:
    """Rows for every metric of either run, in the first run's order."""
    fa, fb = flat_metrics(a), flat_metrics(b)
    names = list(fa) + [n for n in fb if n not in fa]
    return [Row(n, fa.get(n), fb.get(n)) for n in names]


def changed_settings(a: dict, b: dict) -> dict[str, tuple[object, object]]:
    """Settings that differ between the runs."""
    sa, sb = a.get("settings") or {}, b.get("settings") or {}
    return {k: (sa.get(k), sb.get(k)) for k in sorted(set(sa) | set(sb)) if sa.get(k) != sb.get(k)}
