"""Benchmark: encoding SciFact chunk texts in one process (all cores) against RAG_ENCODE_PROCESSES-style pools.

Run: .venv/bin/python bench/encode_processes.py [--processes 2,4,8,16] [--docs 1000] [--texts FILE]
     [--random-weights DIR]
The texts are the chunk texts of the first `--docs` SciFact abstracts (../shared/data/scifact), or a JSON file
`{"chunks": [...]}` (`--texts`, for a machine without the data). One process encodes them with every core (batch
32, best of two runs); then, per pool size N, `rag.encode_pool.EncodePool` (N processes, cores/N threads each)
encodes them twice: the first call includes starting the workers. `--random-weights DIR` writes the bundled
model's architecture with random weights into DIR (config and tokenizer copied, nothing downloaded) and times
that instead: same arithmetic and speed, for a machine the 90 MB model cannot be carried to.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.encode_pool import EncodePool, available_cores

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact"


def chunk_texts(docs: int) -> list[str]:
    """The chunk texts `rag index` would embed for the first `docs` SciFact abstracts."""
    from rag.chunking import chunk_document
    from rag.evaluation.beir import load_corpus
    from rag.settings import Settings
    from rag.stores.protocol import passage_text

    settings = Settings(_env_file=None)
    corpus = load_corpus(SCIFACT)[:docs]
    return [
        passage_text(c)
        for d in corpus
        for c in chunk_document(d, settings.chunk_size, settings.chunk_overlap)
    ]


def random_copy(folder: Path) -> str:
    """`folder` as a sentence-transformers model with the bundled model's files (copied unless `folder` already
    holds a config.json) and random weights in place of its own."""
    from transformers import BertConfig, BertModel

    from rag.embedding import default_model_path

    if not (folder / "config.json").exists():
        ignore = shutil.ignore_patterns("*.safetensors", "*.bin")
        shutil.copytree(default_model_path(), folder, dirs_exist_ok=True, ignore=ignore)
    if not (folder / "model.safetensors").exists():
        torch.manual_seed(0)
        BertModel(BertConfig.from_pretrained(folder)).save_pretrained(folder)
    return str(folder)


def main() -> None:
    """Time and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", default="2,4,8,16", help="pool sizes, comma-separated")
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--texts", type=Path, help='JSON file {"chunks": [...]} instead of SciFact')
    parser.add_argument(
        "--random-weights", type=Path, metavar="DIR", help="time a random-weight copy (see above)"
    )
    args = parser.parse_args()
    from sentence_transformers import SentenceTransformer

    from rag.embedding import default_model_path

    path = default_model_path() if args.random_weights is None else random_copy(args.random_weights)
    texts = json.loads(args.texts.read_text())["chunks"] if args.texts else chunk_texts(args.docs)
    print(
        f"{available_cores()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"{len(texts)} chunk texts\n"
    )
    model = SentenceTransformer(path, device="cpu", local_files_only=True)
    model.encode(texts[:64], batch_size=32)
    runs = []
    for _ in range(2):
        started = time.perf_counter()
        reference = model.encode(texts, batch_size=32, convert_to_numpy=True, normalize_embeddings=True)
        runs.append(time.perf_counter() - started)
    one = min(runs)
    print("| processes x threads | first call s (start included) | second call s | texts/s | vs 1 process |")
    print("|---|---:|---:|---:|---:|")
    print(f"| 1 x {torch.get_num_threads()} | - | {one:.1f} | {len(texts) / one:.0f} | 1.00x |", flush=True)
    for n in (int(x) for x in args.processes.split(",")):
        pool = EncodePool(path, n)
        started = time.perf_counter()
        pool.encode(texts, 32)
        first = time.perf_counter() - started
        started = time.perf_counter()
        vectors = pool.encode(texts, 32)
        second = time.perf_counter() - started
        pool.close()
        assert np.abs(vectors - reference).max() < 1e-4
        print(
            f"| {n} x {pool.threads} | {first:.1f} | {second:.1f} | {len(texts) / second:.0f} | "
            f"{one / second:.2f}x |",
            flush=True,
        )


if __name__ == "__main__":
    main()
