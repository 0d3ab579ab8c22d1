"""Evaluation reports: a folder with summary.md, metrics.json and PNG plots (matplotlib, headless Agg backend)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

REPORT_SETTINGS = (
    "index_name",
    "model_path",
    "chunk_size",
    "chunk_overlap",
    "top_k",
    "candidates",
    "rrf_k",
    "dense_weight",
    "bm25_weight",
    "fusion",
    "answer_mode",
    "answer_threshold",
    "related_threshold",
    "max_answer_sentences",
)


def settings_snapshot(settings) -> dict:
    """The settings that shape results, as plain JSON."""
    dumped = settings.model_dump(mode="json")
    return {k: dumped[k] for k in REPORT_SETTINGS if k in dumped}


def build_metrics(
    kind: str,
    name: str,
    metrics: Mapping,
    *,
    settings: Mapping | None = None,
    groups: Mapping | None = None,
    recall_at_k: Mapping[int, float] | None = None,
    latencies_ms: Sequence[float] = (),
    extra: Mapping | None = None,
) -> dict:
    """The JSON document a report's metrics.json holds (also what `rag eval --compare` reads)."""
    return {
        "kind": kind,
        "name": name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "metrics": dict(metrics),
        "settings": dict(settings or {}),
        "groups": {k: dict(v) for k, v in (groups or {}).items()},
        "recall_at_k": {str(k): v for k, v in (recall_at_k or {}).items()},
        "latencies_ms": [round(x, 3) for x in latencies_ms],
        **dict(extra or {}),
    }


def _fmt(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}"
    return str(value)


def markdown(doc: Mapping, plots: Sequence[str]) -> str:
    """The report's summary.md: metrics table, grouped accuracy tables, settings and plots."""
    lines = [
        f"# Evaluation: {doc['name']}",
        "",
        f"{doc['kind']} run, {doc['created']}",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in doc["metrics"].items()]
    for group, rows in doc.get("groups", {}).items():
        lines += ["", f"## Accuracy by {group}", "", f"| {group} | questions | accuracy |", "|---|---|---|"]
        lines += [f"| {name} | {row['questions']} | {row['accuracy']:.3f} |" for name, row in rows.items()]
    if doc.get("settings"):
        lines += ["", "## Settings", "", "| setting | value |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in doc["settings"].items()]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{Path(p).stem}]({Path(p).name})" for p in plots]
    return "\n".join(lines) + "\n"


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_recall(curve: Mapping[int, float], path: Path, title: str, ylabel: str = "Recall@k") -> None:
    """Recall@k against k."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ks = sorted(int(k) for k in curve)
    ax.plot(ks, [curve[k] for k in ks], marker="." if len(ks) <= 30 else None)
    ax.set(xlabel="k", ylabel=ylabel, title=title, ylim=(0, 1.02))
    if ks and ks[-1] >= 50:
        ax.set_xscale("log")
    ax.grid(alpha=0.3)
    _save(fig, path)


def plot_latency(latencies_ms: Sequence[float], path: Path, title: str) -> None:
    """Histogram of per-query latency with p50 and p95 marked."""
    import numpy as np

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(latencies_ms, bins=min(40, max(5, len(latencies_ms) // 3)), color="#4c72b0")
    for q, style in ((50, "--"), (95, ":")):
        value = float(np.percentile(latencies_ms, q))
        ax.axvline(value, color="black", linestyle=style, label=f"p{q} {value:.0f} ms")
    ax.set(xlabel="latency (ms)", ylabel="queries", title=title)
    ax.legend()
    _save(fig, path)


def plot_groups(rows: Mapping[str, Mapping], path: Path, title: str) -> None:
    """Bar chart of accuracy per group (e.g. per document), labelled with question counts."""
    names = list(rows)
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(names) + 1.5))
    values = [rows[n]["accuracy"] for n in names]
    bars = ax.barh(names, values, color="#55a868")
    for bar, name in zip(bars, names):
        ax.text(
            bar.get_width() + 0.01,
            bar.get_y() + bar.get_height() / 2,
            f"{rows[name]['accuracy']:.2f} (n={rows[name]['questions']})",
            va="center",
            fontsize=8,
        )
    ax.set(xlim=(0, 1.2), xlabel="accuracy", title=title)
    ax.invert_yaxis()
    _save(fig, path)


def plot_answerability(per_item: Sequence[Mapping], threshold: float | None, path: Path, title: str) -> None:
    """Abstention on unanswerable against false abstention on answerable questions as the confidence threshold
    moves; the operating point (the configured threshold) is marked."""
    from rag.evaluation.answerability import roc_auc, tradeoff

    scores = [row["confidence"] for row in per_item]
    answerable = [row["answerable"] for row in per_item]
    curve = tradeoff(scores, answerable)
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.plot([f for _, _, f in curve], [u for _, u, _ in curve], color="#4c72b0", label="threshold 0..1")
    if threshold is not None:
        ((_, u, f),) = tradeoff(scores, answerable, [threshold])
        ax.scatter(
            [f],
            [u],
            color="#c44e52",
            zorder=3,
            label=f"operating point {threshold:.2f}: abstains on {u:.0%} unanswerable, {f:.0%} answerable",
        )
    auc = roc_auc(scores, answerable)
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1.02),
        xlabel="false abstention (answerable questions refused)",
        ylabel="abstention on unanswerable questions",
        title=f"{title}\nanswerability ROC AUC {auc:.3f}" if auc is not None else title,
    )
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, path)


def write_report(folder: Path, doc: Mapping, *, per_item: Sequence[Mapping] = ()) -> list[Path]:
    """Write metrics.json, summary.md, plots (and per_item.jsonl when given) into `folder`; returns the files."""
    folder.mkdir(parents=True, exist_ok=True)
    plots: list[Path] = []
    curve = {int(k): v for k, v in doc.get("recall_at_k", {}).items()}
    if curve:
        label = "Recall@k (documents)" if doc["kind"] == "beir" else "Evidence recall@k (passages)"
        plots.append(folder / "recall_at_k.png")
        plot_recall(curve, plots[-1], f"{doc['name']}: {label}", label)
    if doc.get("latencies_ms"):
        plots.append(folder / "latency.png")
        plot_latency(doc["latencies_ms"], plots[-1], f"{doc['name']}: latency per query")
    if doc.get("groups", {}).get("document"):
        plots.append(folder / "accuracy_by_document.png")
        plot_groups(doc["groups"]["document"], plots[-1], f"{doc['name']}: answer accuracy by document")
    if (
        per_item
        and any(row.get("answerable") for row in per_item)
        and not all(row.get("answerable") for row in per_item)
    ):
        plots.append(folder / "answerability.png")
        plot_answerability(
            per_item,
            doc.get("settings", {}).get("answer_threshold"),
            plots[-1],
            f"{doc['name']}: answerability",
        )
    files = [folder / "metrics.json", folder / "summary.md", *plots]
    (folder / "metrics.json").write_text(
        json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (folder / "summary.md").write_text(markdown(doc, [p.name for p in plots]), encoding="utf-8")
    if per_item:
        with open(folder / "per_item.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in per_item)
        files.append(folder / "per_item.jsonl")
    return files
