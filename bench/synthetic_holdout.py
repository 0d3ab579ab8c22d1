"""Answer figures on the held-out written passages (training/synthetic_qa*): a larger second held-out set.

The reader's training never sees these passages (training/synthetic_data.py holds them out; its epochs are
chosen on them), and the answerability model is fitted on the natural dev split and the seed set only. The
held-out passages are indexed on their own in a temporary folder and every question is asked through the real
`Pipeline`, then scored as `rag eval` scores a question set (with removal twins). The questions were written by
the same process as the reader's training questions, so these figures favour the reader compared with
questions from elsewhere: read them beside the natural test split, not instead of it.

    .venv/bin/python bench/synthetic_holdout.py                          # the default answerability model
    RAG_ANSWER_READER=true .venv/bin/python bench/synthetic_holdout.py   # the model with the answer reader
    .venv/bin/python bench/synthetic_holdout.py --folders training/synthetic_qa   # batch 1's hold-out only

Each folder (writing batch) holds out its own 15% of passages; by default both batches' hold-outs (240 passages).
The shipped reader was trained on batch 1's other passages and never saw batch 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

# training/ is a folder of scripts, not installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.evaluation.qa import evaluate_questions
from rag.evaluation.questions import Question
from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.types import Document
from training.synthetic_data import FOLDER, SECOND, holdout_passages, passages

KEYS = (
    "answer_accuracy",
    "abstention_accuracy",
    "false_abstention_rate",
    "removal_abstention",
    "answerability_auc",
    "citation_precision",
    "citation_recall",
    "overall_accuracy",
    "latency_p50_ms",
)


def questions(items: list[dict]) -> list[Question]:
    """The held-out passages' questions as a question set (answer span = accepted answer and evidence)."""
    out = []
    for passage in items:
        for n, q in enumerate(passage["questions"]):
            answer = q["answer"]
            out.append(
                Question(
                    id=f"{passage['id']}-{n}",
                    question=q["q"],
                    answers=[answer] if answer else [],
                    evidence=[answer] if answer else [],
                    doc_ids=[f"syn-{passage['id']}"] if answer else [],
                    type="single" if answer else "unanswerable",
                    style=q["style"],
                )
            )
    return out


def main() -> None:
    """Index the held-out passages, ask their questions, print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-removal", action="store_true", help="skip the removal-based twins")
    parser.add_argument(
        "--folders", type=Path, nargs="+", default=[FOLDER, SECOND], help="written batches (default: both)"
    )
    args = parser.parse_args()
    items = []
    for folder in args.folders:
        batch = passages(folder)
        held = holdout_passages(batch)
        items += [p for p in batch if p["id"] in held]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = Pipeline(Settings(index_dir=Path(tmp), corpus_dir=Path(tmp)))
        pipeline.add_documents(
            [Document(f"syn-{p['id']}", p["title"], p["text"], "synthetic") for p in items]
        )
        result = evaluate_questions(pipeline, questions(items), removal=not args.no_removal)
        pipeline.close()
    figures = {k: result.metrics.get(k) for k in KEYS}
    figures["passages"] = len(items)
    figures["questions"] = len(result.scores)
    figures["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
