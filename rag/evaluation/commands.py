"""What `rag eval` does for a question set, a BEIR dataset or a comparison; printing goes to a rich Console."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from rag.errors import InvalidInput
from rag.evaluation.compare import changed_settings, compare, load_metrics
from rag.settings import Settings

# Heavy modules (FAISS, matplotlib, the model) are imported inside the commands that need them, so that
# `rag eval --compare` and input errors answer at once.

MakePipeline = Callable[[Settings], object]


def _progress() -> bool:
    return sys.stderr.isatty()


def _table(title: str, metrics: dict) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics.items():
        table.add_row(
            name, "–" if value is None else (f"{value:.4f}" if isinstance(value, float) else str(value))
        )
    return table


def _report_questions(
    console: Console, name: str, unit: str, result, settings: dict, groups: dict, report: Path | None
) -> dict:
    """The metrics document of a scored question set: printed as a table, and written as a report when asked."""
    from rag.evaluation.report import build_metrics, write_report

    doc = build_metrics(
        "questions",
        name,
        result.metrics,
        settings=settings,
        groups=groups,
        recall_at_k=result.recall_at_k,
        latencies_ms=[a.latency_ms for a in result.answers],
    )
    console.print(_table(f"{name}: {len(result.scores)} {unit}", result.metrics))
    if report is not None:
        write_report(report, doc, per_item=[s.as_dict() for s in result.scores])
        console.print(f"report in {report}/ (summary.md, metrics.json, plots)", highlight=False)
    return doc


def eval_questions(
    console: Console,
    make_pipeline: MakePipeline,
    settings: Settings,
    questions: Path,
    *,
    out: Path | None,
    report: Path | None,
    top_k: int | None,
    mode: object,
    split: str | None = None,
    removal: bool = False,
) -> dict:
    """Run, score and (optionally) report a question set; returns the metrics document."""
    from rag.evaluation.qa import evaluate_questions
    from rag.evaluation.questions import load_questions
    from rag.evaluation.report import settings_snapshot

    items = load_questions(questions, split)
    pipeline = make_pipeline(settings)
    _ = pipeline.data  # fail early with the index message
    result = evaluate_questions(
        pipeline, items, top_k=top_k, mode=mode, out=out, progress=_progress(), removal=removal
    )
    snapshot = settings_snapshot(pipeline.settings)
    if top_k is not None:
        snapshot["top_k"] = top_k
    if mode is not None:
        snapshot["answer_mode"] = getattr(mode, "value", mode)
    name = questions.stem + (f" {split}" if split else "") + (" +removal" if removal else "")
    groups = {"type": result.by_type, "document": result.by_document, "style": result.by_style}
    doc = _report_questions(console, name, "questions", result, snapshot, groups, report)
    if out is not None:
        console.print(f"per-question results in {out}", highlight=False)
    return doc


def eval_claims(
    console: Console,
    make_pipeline: MakePipeline,
    settings: Settings,
    folder: Path,
    *,
    split: str,
    report: Path | None,
    removal: bool,
    limit: int | None = None,
) -> dict:
    """SciFact claims as an answerability set over an index of the abstracts they cite (built once, reused)."""
    from rag.evaluation.claims import claim_questions, claims_corpus, load_claims
    from rag.evaluation.qa import evaluate_questions
    from rag.evaluation.report import settings_snapshot

    claims = load_claims(folder, split, limit)
    docs = claims_corpus(folder, claims)
    pipeline = make_pipeline(settings)
    stats = pipeline.add_documents(docs, progress=_progress())
    console.print(
        f"index [bold]{pipeline.index_name}[/]: {len(docs)} cited abstracts ({stats.embedded_chunks} "
        "chunks embedded now)",
        highlight=False,
    )
    items = claim_questions(claims, {d.doc_id: d.text for d in docs})
    result = evaluate_questions(pipeline, items, progress=_progress(), removal=removal)
    name = f"scifact claims {split}" + (" +removal" if removal else "")
    snapshot = settings_snapshot(pipeline.settings)
    doc = _report_questions(console, name, "claims", result, snapshot, {"type": result.by_type}, report)
    return doc


def eval_beir(
    console: Console,
    make_pipeline: MakePipeline,
    settings: Settings,
    folder: Path,
    *,
    split: str,
    run_path: Path | None,
    report: Path | None,
    depth: int,
) -> dict:
    """Index (or reuse) a BEIR corpus, rank documents for the split's queries and score them."""
    import numpy as np

    from rag.evaluation import ir_metrics
    from rag.evaluation.beir import index_corpus, load_beir, run_beir, write_trec_run
    from rag.evaluation.report import build_metrics, settings_snapshot, write_report

    dataset = load_beir(folder, split)
    pipeline = make_pipeline(settings)
    stats = index_corpus(pipeline, folder, progress=_progress())
    console.print(
        f"index [bold]{pipeline.index_name}[/]: {len(pipeline.data.documents)} documents, "
        f"{pipeline.data.chunk_count} chunks ({stats.embedded_chunks} chunks embedded now)",
        highlight=False,
    )
    result = run_beir(pipeline, dataset, depth=depth, progress=_progress())
    metrics = ir_metrics.evaluate(result.run, dataset.qrels, ks=(10, 100))
    metrics = {
        "queries": len(dataset.queries),
        "ndcg@10": metrics["ndcg@10"],
        "recall@10": metrics["recall@10"],
        "recall@100": metrics["recall@100"],
        "mrr@10": metrics["mrr@10"],
    }
    metrics["latency_p50_ms"] = float(np.percentile(result.latencies_ms, 50))
    metrics["latency_p95_ms"] = float(np.percentile(result.latencies_ms, 95))
    name = f"{dataset.name} {split}"
    doc = build_metrics(
        "beir",
        name,
        metrics,
        settings=settings_snapshot(pipeline.settings),
        recall_at_k=ir_metrics.recall_curve(result.run, dataset.qrels, depth),
        latencies_ms=result.latencies_ms,
        extra={"dataset": str(folder.resolve()), "split": split},
    )
    console.print(_table(f"{name}: {len(dataset.queries)} queries (document level)", metrics))
    if run_path is not None:
        write_trec_run(result.run, run_path, tag=pipeline.index_name)
        console.print(f"TREC run in {run_path}", highlight=False)
    if report is not None:
        write_report(report, doc)
        console.print(f"report in {report}/ (summary.md, metrics.json, plots)", highlight=False)
    return doc


def _number(value: float | None, sign: bool = False) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:+d}" if sign else str(value)
    return f"{value:+.4f}" if sign else f"{value:.4f}"


def eval_compare(console: Console, a_path: Path, b_path: Path) -> None:
    """Print two runs' metrics side by side with B − A (green where B is better, red where worse)."""
    a, b = load_metrics(a_path), load_metrics(b_path)
    if a.get("kind") != b.get("kind"):
        console.print(
            f"[yellow]note:[/] comparing a {a.get('kind')} run with a {b.get('kind')} run", highlight=False
        )
    console.print(f"A = {a_path} ({a.get('name')}, {a.get('created', '?')})", highlight=False)
    console.print(f"B = {b_path} ({b.get('name')}, {b.get('created', '?')})", highlight=False)
    table = Table()
    for column in ("metric", "A", "B", "B − A"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    rows = compare(a, b)
    if not rows:
        raise InvalidInput("the two files have no metrics in common")
    for row in rows:
        delta = row.delta
        style = {"b": "green", "a": "red"}.get(row.better or "", "")
        cells = [_number(v) for v in (row.a, row.b)]
        diff = "–" if delta is None else _number(delta, sign=True)
        table.add_row(row.name, *cells, f"[{style}]{diff}[/]" if style else diff)
    console.print(table)
    changed = changed_settings(a, b)
    if changed:
        console.print(
            "settings that differ: " + ", ".join(f"{k}: {va} → {vb}" for k, (va, vb) in changed.items()),
            highlight=False,
        )
