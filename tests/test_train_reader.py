"""The reader's training script end to end on a few written passages (CPU, 1 layer): it trains, selects on the
hold-out, logs the report rows' figures without selecting on them, and exports a folder the run-time Reader loads."""

from __future__ import annotations

import json
from pathlib import Path

from rag.answer.reader import Reader
from training import train_reader
from training.text_pairs import synthetic_rows


def test_training_exports_a_loadable_reader_with_report_figures(tmp_path: Path) -> None:
    rows = list(synthetic_rows())
    train = [r for r in rows if r["split"] == "train"][:96]
    held = [r for r in rows if r["split"] == "holdout"][:64]
    report = [{**r, "split": "report"} for r in held[:32]]
    data, report_file = tmp_path / "pairs.jsonl", tmp_path / "report.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in train + held), encoding="utf-8")
    report_file.write_text("".join(json.dumps(r) + "\n" for r in report), encoding="utf-8")
    init, out = tmp_path / "init", tmp_path / "reader"
    train_reader.main(["init", "--layers", "1", "--out", str(init)])
    train_reader.main(
        ["train", "--data", str(data), "--init", str(init), "--out", str(out), "--layers", "1"]
        + ["--inputs", "sentence", "--epochs", "2", "--select", "question", "--report", str(report_file)]
    )
    meta = json.loads((out / "training.json").read_text(encoding="utf-8"))
    assert meta["layers"] == 1 and meta["input"] == "sentence" and meta["epoch"] in (1, 2)
    assert meta["data"] == {"train_pairs": 96, "held_out_pairs": 64}
    assert [g["epoch"] for g in meta["grid"]] == [1, 2]
    assert all(g["figures"]["report"]["questions"] >= 1 for g in meta["grid"])
    reader = Reader(out)
    scores = reader.scores("how much did harlowe bank make in q3", ["a", "b"])
    assert scores.shape == (2,)
