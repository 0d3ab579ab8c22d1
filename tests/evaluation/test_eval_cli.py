"""`rag eval` end to end in a real process: question sets, BEIR datasets, reports, comparisons and errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CORPUS, REPO
from tests.evaluation.beir_fixture import TOPICS, write_beir

PNG = b"\x89PNG\r\n\x1a\n"


def rag(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run `rag` in `tmp_path` (so no .env is picked up) with its own index folder."""
    environ = {
        **os.environ,
        "RAG_INDEX_DIR": str(tmp_path / "index"),
        "RAG_CORPUS_DIR": str(CORPUS),
        "HF_HUB_OFFLINE": "1",
        "COLUMNS": "200",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        cwd=tmp_path,
        env=environ,
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_beir_run_writes_run_file_and_report_and_reuses_the_index(tmp_path):
    data = write_beir(tmp_path / "tiny")
    first = rag(
        tmp_path,
        "eval",
        "--beir",
        str(data),
        "--split",
        "test",
        "--run",
        "out/run.trec",
        "--report",
        "out/report",
        RAG_CHUNK_SIZE="200",
    )
    assert first.returncode == 0, first.stderr
    assert "ndcg@10" in first.stdout and "index beir-tiny" in first.stdout
    assert (tmp_path / "index" / "beir-tiny" / "CURRENT").is_file()
    run_lines = (tmp_path / "out" / "run.trec").read_text().splitlines()
    assert len(run_lines) == 4 * len(TOPICS) and run_lines[0].split()[1] == "Q0"
    report = tmp_path / "out" / "report"
    doc = json.loads((report / "metrics.json").read_text())
    assert doc["kind"] == "beir" and doc["split"] == "test" and doc["metrics"]["queries"] == 4
    assert doc["metrics"]["ndcg@10"] == 1.0 and doc["settings"]["chunk_size"] == 200
    assert len(doc["recall_at_k"]) == 100
    for name in ("recall_at_k.png", "latency.png"):
        assert (report / name).read_bytes().startswith(PNG)
    assert "| ndcg@10 | 1.000 |" in (report / "summary.md").read_text()

    again = rag(tmp_path, "eval", "--beir", str(data), RAG_CHUNK_SIZE="200")
    assert again.returncode == 0, again.stderr
    assert "(0 chunks embedded now)" in again.stdout


def test_question_set_writes_results_and_report(tmp_path, seed_index_dir):
    questions = tmp_path / "q.jsonl"
    lines = (REPO / "evals" / "seed_questions.jsonl").read_text(encoding="utf-8").splitlines()
    picked = [json.loads(x) for x in lines if json.loads(x)["type"] == "multi"][:2]
    picked += [json.loads(x) for x in lines if json.loads(x)["type"] == "unanswerable"][:2]
    picked += [json.loads(x) for x in lines if json.loads(x)["type"] == "single"][:4]
    questions.write_text("".join(json.dumps(x) + "\n" for x in picked), encoding="utf-8")
    result = rag(
        tmp_path,
        "eval",
        str(questions),
        "--out",
        "res/results.jsonl",
        "--report",
        "res/report",
        RAG_INDEX_DIR=str(seed_index_dir),
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(x) for x in (tmp_path / "res" / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [p["id"] for p in picked]
    assert {"question", "answer", "abstained", "citations", "latency_ms"} <= set(rows[0])
    report = tmp_path / "res" / "report"
    doc = json.loads((report / "metrics.json").read_text())
    assert doc["kind"] == "questions" and doc["metrics"]["questions"] == 8
    assert doc["metrics"]["unanswerable"] == 2 and set(doc["groups"]["type"]) == {
        "multi",
        "single",
        "unanswerable",
    }
    for name in ("recall_at_k.png", "latency.png", "accuracy_by_document.png"):
        assert (report / name).read_bytes().startswith(PNG)
    per_item = [json.loads(x) for x in (report / "per_item.jsonl").read_text().splitlines()]
    assert len(per_item) == 8 and {"id", "correct", "f1", "supported_citations"} <= set(per_item[0])


def _metrics_file(path: Path, accuracy: float, latency: float, threshold: float) -> Path:
    doc = {
        "kind": "questions",
        "name": path.stem,
        "metrics": {"answer_accuracy": accuracy, "latency_p50_ms": latency, "citation_precision": None},
        "groups": {"type": {"single": {"questions": 3, "accuracy": accuracy}}},
        "settings": {"abstain_threshold": threshold},
    }
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_compare_prints_both_runs_and_the_differences(tmp_path):
    a = _metrics_file(tmp_path / "a.json", 0.75, 40.0, 0.45)
    b = _metrics_file(tmp_path / "b.json", 0.80, 30.0, 0.5)
    result = rag(tmp_path, "eval", "--compare", str(a), str(b))
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "answer_accuracy" in line)
    assert "0.7500" in row and "0.8000" in row and "+0.0500" in row
    assert "-10.0000" in next(line for line in result.stdout.splitlines() if "latency_p50_ms" in line)
    assert "type:single" in result.stdout
    assert "abstain_threshold: 0.45 → 0.5" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give exactly one of"),
        (("q.jsonl", "--beir", "x"), "give exactly one of"),
        (("--beir", "nowhere"), "no such BEIR folder"),
        (("--compare", "a.json", "missing.json"), "no such metrics file"),
        (("--compare", "a.json", "bad.json"), "not a metrics JSON file"),
        (("missing.jsonl",), "no such question file"),
        (("bad.jsonl",), "bad.jsonl:2: not a question line"),
        (("q.jsonl", "--run", "x.trec"), "--run is for BEIR"),
    ],
)
def test_mistakes_get_one_clear_line_and_exit_2(tmp_path, args, message):
    _metrics_file(tmp_path / "a.json", 0.5, 1.0, 0.4)
    (tmp_path / "bad.json").write_text("{oops", encoding="utf-8")
    (tmp_path / "q.jsonl").write_text(
        '{"id": "1", "question": "Where?", "answers": ["here"]}\n', encoding="utf-8"
    )
    (tmp_path / "bad.jsonl").write_text(
        '{"id": "1", "question": "Where?"}\n{"id": "2", "answers": []}\n', encoding="utf-8"
    )
    result = rag(tmp_path, "eval", *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert "Traceback" not in result.stderr
