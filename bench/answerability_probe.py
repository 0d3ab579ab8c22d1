"""Probe: which signals separate answerable natural questions from near-miss unanswerable ones (dev split only).

Run: .venv/bin/python bench/answerability_probe.py [--llm]
Indexes the seed corpus into a temporary folder, asks every natural-set dev question through `Pipeline.assess`
and prints the ROC AUC, answerable against near-miss unanswerable (off-topic questions left out: they are easy),
of each candidate feature of the answerability model (best value over the candidates, and the top candidate's),
of the shipped model's confidence, of the trained answer reader's best logit (on the reader's own held-out
questions only: it was trained on the others), and with --llm of the bundled SmolLM2's yes/no judgement
("Does the text state the answer?") on the top two candidates' windows (about 3 minutes). The test split is never
read. The README quotes its figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # training/ is a folder of scripts, not part of the installed package

from rag.answer.answerability import FEATURES, sentence_window
from rag.answer.reader import Reader
from rag.embedding import Embedder
from rag.evaluation.questions import load_questions
from rag.pipeline import Pipeline
from rag.settings import Settings
from training.reader_data import holdout_ids


def auc(labels: list[int], scores: list[float]) -> float:
    """ROC AUC of `scores` for `labels` (1 = answerable)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


def llm_judge(rows: list[dict]) -> list[float]:
    """The bundled SmolLM2's log-odds of "Yes" over "No", best of the top two candidate windows, per question."""
    import torch

    from rag.llm.local import bundled_model_path, load_model, resolve_model_path

    model, tok = load_model(*resolve_model_path(bundled_model_path()))
    yes = [tok.encode(w, add_special_tokens=False)[0] for w in ("Yes", " Yes", "yes")]
    no = [tok.encode(w, add_special_tokens=False)[0] for w in ("No", " No", "no")]
    out = []
    for row in rows:
        best = -np.inf
        for window in row["windows"][:2]:
            prompt = f"Text: {window}\n\nQuestion: {row['question']}\n\nDoes the text state the answer to the question? Reply Yes or No."
            ids = tok.apply_chat_template(
                [{"role": "user", "content": prompt}], add_generation_prompt=True, return_tensors="pt"
            )
            ids = ids if isinstance(ids, torch.Tensor) else ids["input_ids"]
            with torch.inference_mode():
                last = model(ids).logits[0, -1]
            best = max(best, float(torch.logsumexp(last[yes], 0) - torch.logsumexp(last[no], 0)))
        out.append(best)
    return out


def main() -> None:
    """Index the corpus, collect the dev questions' candidates and print one AUC per signal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=REPO / "evals" / "natural_questions.jsonl")
    parser.add_argument("--llm", action="store_true", help="also judge with the bundled SmolLM2 (slow)")
    args = parser.parse_args()
    items = [i for i in load_questions(args.questions, "dev") if i.answerable or i.style == "near_miss"]
    held = holdout_ids(load_questions(args.questions, "dev"))
    reader = Reader()
    rows = []
    with tempfile.TemporaryDirectory() as root:
        settings = Settings(_env_file=None, index_dir=Path(root), corpus_dir=REPO / "corpus")
        pipeline = Pipeline(settings, embedder=Embedder())
        pipeline.index([REPO / "corpus"])
        for item in items:
            question, _, decision = pipeline.assess(item.question, item.history or None)
            candidates = decision.candidates
            if not candidates:
                continue
            texts = [c.sentence.text for c in candidates]
            rows.append(
                {
                    "answerable": int(item.answerable),
                    "question": question,
                    "held": item.id in held,
                    "features": np.array([[c.features[f] for f in FEATURES] for c in candidates]),
                    "confidence": decision.confidence,
                    "reader": float(reader.scores(question, texts).max()),
                    "windows": [sentence_window(c.sentence, pipeline.data)[0] for c in candidates],
                }
            )
    labels = [r["answerable"] for r in rows]
    print(
        f"{sum(labels)} answerable, {len(labels) - sum(labels)} near-miss unanswerable (natural set, dev)\n"
    )
    print("| signal | AUC, best candidate | AUC, top candidate |\n|---|---:|---:|")
    for i, name in enumerate(FEATURES):
        best = auc(labels, [float(r["features"][:, i].max()) for r in rows])
        top = auc(labels, [float(r["features"][0, i]) for r in rows])
        print(f"| {name} | {best:.3f} | {top:.3f} |")
    print(f"| shipped model's confidence | {auc(labels, [r['confidence'] for r in rows]):.3f} | |")
    kept = [r for r in rows if r["held"]]
    reader_auc = auc([r["answerable"] for r in kept], [r["reader"] for r in kept])
    print(f"| answer reader, best logit ({len(kept)} reader-held-out questions) | {reader_auc:.3f} | |")
    if args.llm:
        print(f"| SmolLM2-135M yes/no, top two windows | {auc(labels, llm_judge(rows)):.3f} | |")


if __name__ == "__main__":
    main()
