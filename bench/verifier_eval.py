"""Benchmark: precision and recall of the claim checker flagging the false claims of the verifier set.

Run: .venv/bin/python bench/verifier_eval.py [--split dev|test|all] [--errors]
Indexes the seed corpus into a temporary folder with the bundled embedding model, then checks every claim of
the split against the passages retrieved for it, citing the passage that holds its evidence sentence. Prints a
markdown table per kind of false claim; the README quotes its figures.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from rag.embedding import Embedder
from rag.evaluation.verifier import errors, evaluate, load_claims
from rag.pipeline import Pipeline
from rag.settings import Settings

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    """Index the corpus, run the checker on the split and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["dev", "test", "all"], default="test")
    parser.add_argument("--claims", type=Path, default=REPO / "evals" / "verifier_claims.jsonl")
    parser.add_argument("--errors", action="store_true", help="also list the claims judged wrongly")
    args = parser.parse_args()
    cases = load_claims(args.claims, None if args.split == "all" else args.split)
    with tempfile.TemporaryDirectory() as root:
        settings = Settings(_env_file=None, index_dir=Path(root), corpus_dir=REPO / "corpus")
        pipeline = Pipeline(settings, embedder=Embedder())
        pipeline.index([REPO / "corpus"])
        started = time.perf_counter()
        report = evaluate(pipeline, cases)
        seconds = time.perf_counter() - started
    print(
        f"split: {args.split} ({len(cases)} claims, {1000 * seconds / max(1, len(cases)):.0f} ms a claim)\n"
    )
    print(report.table())
    if args.errors:
        print("\nwrongly judged:\n" + "\n".join(errors(report, cases)))


if __name__ == "__main__":
    main()
