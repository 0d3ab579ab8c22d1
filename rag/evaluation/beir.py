"""BEIR-format retrieval benchmarks: load a dataset, index its corpus through the Pipeline, rank documents per query."""

from __future__ import annotations

import csv
import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rag.cleaning import clean_text
from rag.errors import InvalidInput
from rag.stores import UpdateStats
from rag.types import Document

log = logging.getLogger(__name__)

DEFAULT_DEPTH = 100  # documents ranked per query: enough for Recall@100
CHUNKS_PER_DOCUMENT = 10  # chunk hits requested per wanted document, so `depth` distinct documents come back
QUERY_BATCH = 64  # queries embedded together
Run = dict[str, dict[str, float]]  # query id -> {doc id: score}
Qrels = dict[str, dict[str, int]]  # query id -> {doc id: relevance}


@dataclass
class BeirDataset:
    """A BEIR dataset folder: corpus.jsonl, queries.jsonl and qrels/<split>.tsv (queries limited to the split)."""

    name: str
    folder: Path
    split: str
    queries: dict[str, str]
    qrels: Qrels

    @property
    def corpus_path(self) -> Path:
        """The corpus file."""
        return self.folder / "corpus.jsonl"


@dataclass
class BeirRun:
    """Ranked documents for every query of a split, with each query's latency."""

    run: Run
    latencies_ms: list[float] = field(default_factory=list)


def dataset_name(folder: Path) -> str:
    """A short safe name for a dataset folder (`.../scifact` -> `scifact`)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", folder.resolve().name).strip("-.") or "dataset"
    return name[:50]


def index_name_for(folder: Path) -> str:
    """The named index a dataset's corpus is cached in: `beir-<dataset>`."""
    return f"beir-{dataset_name(folder)}"


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict) or "_id" not in row:
                    raise ValueError("no _id field")
            except ValueError as exc:
                raise InvalidInput(f"{path}:{number}: not a BEIR line ({exc})") from None
            rows.append(row)
    return rows


def read_qrels(path: Path) -> Qrels:
    """Read a BEIR qrels file (`query-id<TAB>corpus-id<TAB>score`, header line optional)."""
    qrels: Qrels = {}
    with open(path, encoding="utf-8", newline="") as fh:
        for number, row in enumerate(csv.reader(fh, delimiter="\t"), start=1):
            if not row or (number == 1 and row[0].strip().lower() in ("query-id", "query_id", "qid")):
                continue
            if len(row) < 3:
                raise InvalidInput(
                    f"{path}:{number}: expected query-id, corpus-id and score separated by tabs"
                )
            try:
                score = int(float(row[2]))
            except ValueError:
                raise InvalidInput(f"{path}:{number}: score {row[2]!r} is not a number") from None
            qrels.setdefault(row[0].strip(), {})[row[1].strip()] = score
    return qrels


def load_beir(folder: Path, split: str = "test") -> BeirDataset:
    """Load a BEIR dataset's queries and qrels for `split`; raises InvalidInput naming what is missing."""
    if not folder.is_dir():
        raise InvalidInput(f"no such BEIR folder: {folder}")
    missing = [p for p in ("corpus.jsonl", "queries.jsonl") if not (folder / p).is_file()]
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        splits = (
            sorted(p.stem for p in (folder / "qrels").glob("*.tsv")) if (folder / "qrels").is_dir() else []
        )
        missing.append(f"qrels/{split}.tsv" + (f" (splits here: {', '.join(splits)})" if splits else ""))
    if missing:
        raise InvalidInput(f"{folder} is not a BEIR dataset: missing {', '.join(missing)}")
    qrels = read_qrels(qrels_path)
    queries = {}
    for row in _read_jsonl(folder / "queries.jsonl"):
        qid = str(row["_id"])
        if qid in qrels:
            queries[qid] = str(row.get("text") or "")
    lost = sorted(set(qrels) - set(queries))
    if lost:
        raise InvalidInput(
            f"{qrels_path}: {len(lost)} query ids have no text in queries.jsonl (e.g. {lost[0]})"
        )
    if not queries:
        raise InvalidInput(f"{qrels_path}: no queries")
    return BeirDataset(dataset_name(folder), folder, split, queries, qrels)


def load_corpus(folder: Path) -> list[Document]:
    """The corpus as cleaned Documents (`_id` becomes the doc id); entries with no text at all are skipped."""
    docs = []
    for row in _read_jsonl(folder / "corpus.jsonl"):
        title = str(row.get("title") or "").strip()
        text = clean_text(str(row.get("text") or "")) or title
        if not text:
            log.warning("skipping corpus entry %s: no text", row["_id"])
            continue
        docs.append(Document(doc_id=str(row["_id"]), title=title, text=text, source=f"beir:{row['_id']}"))
    return docs


def index_corpus(pipeline, folder: Path, *, progress: bool = False) -> UpdateStats:
    """Sync the pipeline's index with the dataset corpus; unchanged documents are not embedded again.

    Sentence vectors are not computed: they only serve answers, and a benchmark only ranks documents.
    """
    docs = load_corpus(folder)
    stale = sorted({r.doc_id for r in pipeline.documents()} - {d.doc_id for d in docs})
    stats = pipeline.add_documents(docs, progress=progress, embed_sentences=False)
    for doc_id in stale:
        pipeline.delete_document(doc_id)
    stats.removed.extend(stale)
    return stats


def rank_documents(
    pipeline, query: str, depth: int = DEFAULT_DEPTH, query_vector: np.ndarray | None = None
) -> list[tuple[str, float]]:
    """The `depth` best documents for `query`, best first; a document scores as its best chunk."""
    passages = pipeline.rank(query, depth * CHUNKS_PER_DOCUMENT, query_vector)
    best: dict[str, float] = {}
    for passage in passages:  # passages come best first, so the first chunk seen of a document is its best
        best.setdefault(passage.chunk.doc_id, passage.score)
        if len(best) >= depth:
            break
    return list(best.items())


def run_beir(
    pipeline, dataset: BeirDataset, *, depth: int = DEFAULT_DEPTH, progress: bool = False
) -> BeirRun:
    """Rank documents for every query of the dataset's split.

    Queries are embedded in batches (much faster than one by one); a query's latency is its retrieval time
    plus its share of the batch's embedding time.
    """
    result = BeirRun(run={})
    items = list(dataset.queries.items())
    bar = tqdm(total=len(items), desc=f"{dataset.name} {dataset.split}", unit="q", disable=not progress)
    for start in range(0, len(items), QUERY_BATCH):
        batch = items[start : start + QUERY_BATCH]
        started = time.perf_counter()
        vectors = pipeline.embedder.embed([text for _, text in batch])
        embed_ms = (time.perf_counter() - started) * 1000 / len(batch)
        for (qid, text), vector in zip(batch, vectors):
            started = time.perf_counter()
            ranked = rank_documents(pipeline, text, depth, vector) if text.strip() else []
            result.latencies_ms.append(embed_ms + (time.perf_counter() - started) * 1000)
            result.run[qid] = dict(ranked)
            bar.update()
    bar.close()
    return result


def write_trec_run(run: Run, path: Path, tag: str = "rag") -> None:
    """Write `run` as a TREC run file (`qid Q0 docid rank score tag`), ranks from 1, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for qid in sorted(run, key=_natural):
            ranked = sorted(run[qid].items(), key=lambda item: (-item[1], item[0]))
            fh.writelines(
                f"{qid} Q0 {doc_id} {rank} {score:.6f} {tag}\n"
                for rank, (doc_id, score) in enumerate(ranked, start=1)
            )
    tmp.replace(path)


def read_trec_run(path: Path) -> Run:
    """Read a TREC run file back into {qid: {docid: score}}."""
    run: Run = {}
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 6:
                raise InvalidInput(f"{path}:{number}: expected 'qid Q0 docid rank score tag'")
            run.setdefault(parts[0], {})[parts[2]] = float(parts[4])
    return run


def _natural(key: str) -> tuple:
    return (0, int(key), key) if key.isdigit() else (1, 0, key)
