"""Tune hybrid retrieval on a BEIR split (train only!): score retriever configurations on a cached index.

    python bench/beir_tune.py ../shared/data/scifact --split train \
        --config fusion=convex,candidates=1000 --config fusion=rrf,rrf_k=60,candidates=100

Each --config is a comma-separated list of HybridRetriever settings (candidates, rrf_k, dense_weight,
bm25_weight, fusion). The index `beir-<dataset>` must exist (build it with `rag eval --beir DIR`); nothing is
embedded here except the queries.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rag.evaluation.beir import index_name_for, load_beir, run_beir
from rag.evaluation.ir_metrics import evaluate
from rag.pipeline import Pipeline
from rag.settings import Settings

FIELDS = {"candidates": int, "rrf_k": int, "dense_weight": float, "bm25_weight": float, "fusion": str}


def parse(config: str) -> dict:
    """`a=1,b=2` -> {"a": 1, "b": 2}, typed by FIELDS."""
    out = {}
    for part in filter(None, config.split(",")):
        key, value = part.split("=", 1)
        out[key] = FIELDS[key](value)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--split", default="train")
    parser.add_argument(
        "--config", action="append", default=[], help="retriever settings, e.g. fusion=rrf,rrf_k=20"
    )
    parser.add_argument("--json", type=Path, help="append one JSON line per configuration here")
    args = parser.parse_args()
    settings = Settings(index_name=index_name_for(args.dataset))
    pipeline = Pipeline(settings)
    dataset = load_beir(args.dataset, args.split)
    defaults = {
        "candidates": settings.candidates,
        "rrf_k": settings.rrf_k,
        "dense_weight": settings.dense_weight,
        "bm25_weight": settings.bm25_weight,
        "fusion": settings.fusion.value,
    }
    for config in args.config or [""]:
        params = {**defaults, **parse(config)}
        tuned = Pipeline(settings.model_copy(update=params), embedder=pipeline.embedder)
        started = time.perf_counter()
        result = run_beir(tuned, dataset)
        metrics = evaluate(result.run, dataset.qrels)
        line = {
            "split": args.split,
            **params,
            **{k: round(v, 4) for k, v in metrics.items()},
            "seconds": round(time.perf_counter() - started, 1),
        }
        print(json.dumps(line), flush=True)
        if args.json:
            with open(args.json, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
