"""Benchmark: seed-corpus index build time and in-process query latency (p50/p95) of search and ask.

Run: .venv/bin/python bench/query_latency.py [--rounds 5]
Prints a markdown table; the README quotes its figures.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from rag.embedding import Embedder
from rag.pipeline import Pipeline
from rag.settings import Settings

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="passes over the question set (default 5)")
    parser.add_argument("--questions", type=Path, default=REPO / "evals" / "seed_questions.jsonl")
    args = parser.parse_args()

    started = time.perf_counter()
    embedder = Embedder()
    load_s = time.perf_counter() - started
    questions = [
        json.loads(line)["question"] for line in args.questions.read_text(encoding="utf-8").splitlines()
    ]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, index_dir=Path(tmp), corpus_dir=REPO / "corpus")
        pipeline = Pipeline(settings, embedder=embedder)
        started = time.perf_counter()
        report = pipeline.index([REPO / "corpus"])
        build_s = time.perf_counter() - started
        started = time.perf_counter()
        pipeline.index([REPO / "corpus"])
        noop_s = time.perf_counter() - started

        for question in questions[:5]:  # warm-up
            pipeline.ask(question)
        timings: dict[str, list[float]] = {"embed query": [], "search (hybrid)": [], "ask (extractive)": []}
        for _ in range(args.rounds):
            for question in questions:
                t0 = time.perf_counter()
                embedder.embed_query(question)
                t1 = time.perf_counter()
                pipeline.search(question)
                t2 = time.perf_counter()
                pipeline.ask(question)
                t3 = time.perf_counter()
                timings["embed query"].append((t1 - t0) * 1000)
                timings["search (hybrid)"].append((t2 - t1) * 1000)
                timings["ask (extractive)"].append((t3 - t2) * 1000)

    print(
        f"Machine: {platform.processor() or platform.machine()}, torch threads {torch.get_num_threads()}, "
        f"Python {platform.python_version()}"
    )
    print(
        f"\nSeed corpus: {report.documents} documents, {report.chunks} chunks, "
        f"{pipeline.data.stats()['sentences']} sentences\n"
    )
    print("| step | time |\n|---|---|")
    print(f"| load embedding model | {load_s:.2f} s |")
    print(f"| build index from scratch (embed chunks + sentences, save) | {build_s:.2f} s |")
    print(f"| re-index unchanged corpus | {noop_s * 1000:.0f} ms |")
    n = len(next(iter(timings.values())))
    print(f"\n{n} queries ({len(questions)} questions x {args.rounds} rounds), in process, model loaded:\n")
    print("| operation | p50 | p95 | mean |\n|---|---|---|---|")
    for name, values in timings.items():
        print(
            f"| {name} | {statistics.median(values):.1f} ms | {np.percentile(values, 95):.1f} ms | "
            f"{statistics.fmean(values):.1f} ms |"
        )


if __name__ == "__main__":
    main()
