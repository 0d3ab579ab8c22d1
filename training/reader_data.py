"""Build the (question, text, label) pairs the answer reader (rag/answer/reader.py) is trained on.

Recipe (deterministic: no sampling except the seeded hold-out draw):

(a) In-domain candidates. The bundled corpus (corpus/) is indexed by the real `Pipeline` in a temporary folder.
    Every question of evals/seed_questions.jsonl and of the *dev* split of evals/natural_questions.jsonl (the
    test split is never read) goes through `Pipeline.assess`; each of its `decision.candidates` (the top-8
    sentences the answerability model scores) becomes one pair whose question is the standalone question
    (follow-ups rewritten from their history, as at run time). `sentence` is the candidate sentence, `window`
    the sentence with its neighbours inside its passage (exactly `rag.answer.answerability.sentence_window`).
    `label` is 1 when the sentence overlaps an evidence span of the question (as
    `rag.evaluation.answerability.collect` labels candidates), `window_label` when the window does.
    Unanswerable questions give only negatives.
(b) Removal twins. For each answerable seed / natural-dev question with evidence, the index variant with the
    sentences holding its evidence removed (`removal_pairs`) is asked the same question: all negatives.
(c) SciFact train claims (/work/shared/data/scifact, claims_train.csv only). Abstracts are re-split with
    `rag.chunking.split_sentences` and SciFact's `evidence_sentences` indices are taken as indices into that
    split (approximate: BEIR's corpus joins SciFact's sentence list with spaces, and our splitter agrees with
    it on most abstracts; indices past the split's end are dropped). Positive: (claim, evidence sentence);
    negatives: the abstract's other sentences, and every sentence of the cited abstracts of claims without
    evidence (NEI). Windows are the sentence with its neighbours in the abstract.
(e) Whole-document pairs. Each answerable seed / natural-dev question of the `train` split (never a held-out one)
    against every sentence of its evidence documents (loaded as the indexer loads them): positives overlap an
    evidence span, negatives are the document's other sentences (hard, same-topic negatives the retriever
    did not necessarily rank). Windows are the sentence with its neighbours in the document.
(f) With --synthetic: the written passages of training/synthetic_qa (batch 1; training/synthetic_qa_2 is batch 2;
    training/synthetic_data.py), each question against every sentence of its passage; a seeded 15% of each
    folder's passages is the hold-out. --no-natural leaves the natural set out of (a), (b) and (e): the shipped
    recipe.

Each row carries `group` (the question it comes from: a removal twin shares its original's group) and `split`:
`holdout` for the held-out written passages and (without --no-natural) a seeded 40% of the natural-dev questions
(stratified by answerability, twins included), kept out of training and used to select the epoch and config;
`train` for everything else. (c) and (f) are built in training/text_pairs.py.

    # the shipped recipe
    .venv/bin/python -m training.reader_data --no-natural --synthetic training/synthetic_qa \\
        --out artifacts/reader/pairs.jsonl
    # the natural dev candidates that train_reader --report logs (never trained or selected on)
    .venv/bin/python -m training.reader_data --natural-report artifacts/reader/natural_dev_report.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

from rag.answer.answerability import sentence_window
from rag.chunking import split_sentences
from rag.errors import RagError
from rag.evaluation.answerability import evidence_spans, removal_pairs
from rag.evaluation.questions import Question, load_questions
from training.text_pairs import overlaps, scifact_rows, synthetic_rows

HOLDOUT_SHARE = 0.4
SEED = 13


def _window_span(sentence, data) -> tuple[int, int]:
    """Character span of `sentence_window`'s text in the document (same neighbour rule)."""
    spans = sentence.passage.chunk.sentences
    if not spans:
        return sentence.passage.chunk.start, sentence.passage.chunk.end
    inside = [i for i, (s, e) in enumerate(spans) if s < sentence.end and sentence.start < e] or [0]
    lo, hi = max(0, inside[0] - 1), min(len(spans) - 1, inside[-1] + 1)
    return spans[lo][0], spans[hi][1]


def candidate_pairs(pipeline, item: Question, source: str, group: str, split: str) -> Iterator[dict]:
    """One row per candidate sentence the pipeline's decision step scores for `item`."""
    try:
        question, _, decision = pipeline.assess(item.question, item.history or None)
    except RagError:
        return
    data = pipeline.data
    spans = (
        {d: evidence_spans(pipeline.document(d).text, item.evidence) for d in item.doc_ids}
        if item.answerable
        else {}
    )
    for rank, candidate in enumerate(decision.candidates):
        s = candidate.sentence
        doc_spans = spans.get(s.passage.chunk.doc_id, [])
        window, _ = sentence_window(s, data)
        w_start, w_end = _window_span(s, data)
        yield {
            "question": question,
            "sentence": s.text,
            "window": window,
            "label": int(item.answerable and overlaps(s.start, s.end, doc_spans)),
            "window_label": int(item.answerable and overlaps(w_start, w_end, doc_spans)),
            "answerable": int(item.answerable),
            "qid": item.id,
            "group": group,
            "source": source,
            "style": item.style or item.type,
            "rank": rank,
            "split": split,
        }


def holdout_ids(items: Sequence[Question], share: float = HOLDOUT_SHARE, seed: int = SEED) -> set[str]:
    """A seeded, answerability-stratified `share` of the items' ids."""
    rng = random.Random(seed)
    out: set[str] = set()
    for answerable in (True, False):
        ids = sorted(i.id for i in items if i.answerable == answerable)
        rng.shuffle(ids)
        out |= set(ids[: round(share * len(ids))])
    return out


def corpus_rows(corpus: Path, seed_set: Path, natural: Path | None) -> Iterator[dict]:
    """(a) and (b): candidates of seed and natural-dev questions (none when `natural` is None), and of their
    removal twins."""
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    seed_items = load_questions(seed_set)
    dev_items = load_questions(natural, "dev") if natural else []
    held = holdout_ids(dev_items)
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = Pipeline(Settings(index_dir=Path(tmp), corpus_dir=corpus))
        pipeline.index([corpus])
        for source, items in (("seed", seed_items), ("natural_dev", dev_items)):
            for item in items:
                group = f"{source}:{item.id}"
                split = "holdout" if source == "natural_dev" and item.id in held else "train"
                yield from candidate_pairs(pipeline, item, source, group, split)
            for variant, derived in removal_pairs(pipeline, items):
                original = variant.id.removesuffix("-removed")
                split = "holdout" if source == "natural_dev" and original in held else "train"
                yield from candidate_pairs(
                    derived, variant, f"{source}_removal", f"{source}:{original}", split
                )


def document_rows(corpus: Path, seed_set: Path, natural: Path | None) -> Iterator[dict]:
    """(e): train-split answerable questions against every sentence of their evidence documents."""
    from rag.documents import load_paths

    docs = {d.doc_id: d for d in load_paths([corpus]).documents}
    dev_items = load_questions(natural, "dev") if natural else []
    held = holdout_ids(dev_items)
    for source, items in (("seed", load_questions(seed_set)), ("natural_dev", dev_items)):
        for item in items:
            if not (item.answerable and item.evidence) or (source == "natural_dev" and item.id in held):
                continue
            question = item.standalone or item.question
            for doc_id in item.doc_ids:
                doc = docs.get(doc_id)
                if doc is None:
                    continue
                spans = evidence_spans(doc.text, item.evidence)
                sentences = split_sentences(doc.text)
                for index, (start, end) in enumerate(sentences):
                    lo, hi = max(0, index - 1), min(len(sentences) - 1, index + 1)
                    yield {
                        "question": question,
                        "sentence": doc.text[start:end],
                        "window": doc.text[sentences[lo][0] : sentences[hi][1]],
                        "label": int(overlaps(start, end, spans)),
                        "window_label": int(overlaps(sentences[lo][0], sentences[hi][1], spans)),
                        "answerable": 1,
                        "qid": f"{source}-doc:{item.id}",
                        "group": f"{source}:{item.id}",
                        "source": f"{source}_document",
                        "style": item.style or item.type,
                        "rank": index,
                        "split": "train",
                    }


def write_report(out: Path, corpus: Path, seed_set: Path, natural: Path) -> None:
    """The natural dev questions' candidate pairs (a) and their removal twins (b), split `report`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(out, "w", encoding="utf-8") as fh:
        for row in corpus_rows(corpus, seed_set, natural):
            if row["source"].startswith("natural_dev"):
                fh.write(json.dumps({**row, "split": "report"}, ensure_ascii=False) + "\n")
                n += 1
    print(f"{n} natural dev pairs -> {out}")


def main(argv: Sequence[str] | None = None) -> None:
    """Write the pairs as JSON lines and print their counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("artifacts/reader/pairs.jsonl"))
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--seed-set", type=Path, default=Path("evals/seed_questions.jsonl"))
    parser.add_argument("--natural", type=Path, default=Path("evals/natural_questions.jsonl"))
    parser.add_argument("--no-scifact", action="store_true", help="skip (c), e.g. when the data is absent")
    parser.add_argument("--only-scifact", action="store_true", help="only (c), e.g. to rebuild it alone")
    parser.add_argument("--only-documents", action="store_true", help="only (e), e.g. to rebuild it alone")
    parser.add_argument(
        "--no-natural",
        action="store_true",
        help="leave the natural set out entirely (the shipped recipe: it is kept for fitting and judging the "
        "answerability model, so the reader must not have seen it)",
    )
    parser.add_argument(
        "--synthetic",
        type=Path,
        nargs="+",
        default=[],
        help="add (f): the passages and questions of these folders (each holds out its own share)",
    )
    parser.add_argument(
        "--natural-report",
        type=Path,
        default=None,
        help="instead of the pairs: write the natural dev questions' candidate pairs (a, b) here, for "
        "train_reader --report to log (never trained or selected on)",
    )
    args = parser.parse_args(argv)
    if args.natural_report is not None:
        write_report(args.natural_report, args.corpus, args.seed_set, args.natural)
        return
    natural = None if args.no_natural else args.natural
    started = time.perf_counter()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    counts: Counter = Counter()
    with open(args.out, "w", encoding="utf-8") as fh:
        sources = (
            []
            if args.only_scifact or args.only_documents
            else [corpus_rows(args.corpus, args.seed_set, natural)]
        )
        if not args.only_scifact:
            sources.append(document_rows(args.corpus, args.seed_set, natural))
        if not args.no_scifact and not args.only_documents:
            sources.append(scifact_rows())
        sources += [synthetic_rows(folder) for folder in args.synthetic]
        for rows in sources:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                counts[(row["source"], row["split"], row["label"])] += 1
    for key in sorted(counts):
        print(*key, counts[key], sep="\t")
    print(f"{sum(counts.values())} pairs -> {args.out} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
