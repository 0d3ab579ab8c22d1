"""Ranking metrics in trec_eval's definitions: nDCG@k (ndcg_cut), Recall@k (recall_k), MRR@k (recip_rank on top k).

Like trec_eval, a run is ordered by score (descending) with ties broken by document id in *descending* string
order, gains are the qrels' relevance values, and a document is relevant when its relevance is above 0.
Means are taken over every query of the qrels, a query missing from the run scoring 0 (trec_eval -c).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

Run = Mapping[str, Mapping[str, float]]
Qrels = Mapping[str, Mapping[str, int]]


def ranked(scores: Mapping[str, float]) -> list[str]:
    """Document ids in trec_eval order: score descending, then document id descending."""
    return [doc for doc, _ in sorted(scores.items(), key=lambda item: (item[1], item[0]), reverse=True)]


def ndcg_at_k(ranking: list[str], rels: Mapping[str, int], k: int) -> float:
    """nDCG@k with linear gains (trec_eval ndcg_cut_k); 0 when the query has no relevant document."""
    ideal = sorted((r for r in rels.values() if r > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    if idcg == 0:
        return 0.0
    dcg = sum(max(rels.get(doc, 0), 0) / math.log2(i + 2) for i, doc in enumerate(ranking[:k]))
    return dcg / idcg


def recall_at_k(ranking: list[str], rels: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents found in the top k (trec_eval recall_k); 0 with none relevant."""
    relevant = {d for d, r in rels.items() if r > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def mrr_at_k(ranking: list[str], rels: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document within the top k, else 0."""
    for i, doc in enumerate(ranking[:k]):
        if rels.get(doc, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def per_query(run: Run, qrels: Qrels, ks: Iterable[int] = (10, 100)) -> dict[str, dict[str, float]]:
    """Per-query metrics: ndcg@10, mrr@10 and recall@k for each k in `ks`."""
    out: dict[str, dict[str, float]] = {}
    for qid, rels in qrels.items():
        ranking = ranked(run.get(qid, {}))
        row = {"ndcg@10": ndcg_at_k(ranking, rels, 10), "mrr@10": mrr_at_k(ranking, rels, 10)}
        for k in ks:
            row[f"recall@{k}"] = recall_at_k(ranking, rels, k)
        out[qid] = row
    return out


def evaluate(run: Run, qrels: Qrels, ks: Iterable[int] = (10, 100)) -> dict[str, float]:
    """Mean nDCG@10, MRR@10 and Recall@k over the queries of `qrels`."""
    rows = per_query(run, qrels, ks)
    if not rows:
        raise ValueError("no queries to evaluate")
    names = next(iter(rows.values())).keys()
    return {name: sum(r[name] for r in rows.values()) / len(rows) for name in names}


def recall_curve(run: Run, qrels: Qrels, max_k: int = 100) -> dict[int, float]:
    """Mean Recall@k for k = 1..max_k (for the recall@k plot)."""
    if not qrels:
        return {}
    totals = [0.0] * max_k
    for qid, rels in qrels.items():
        relevant = {d for d, r in rels.items() if r > 0}
        if not relevant:
            continue
        found = 0
        ranking = ranked(run.get(qid, {}))[:max_k]
        for i in range(max_k):
            if i < len(ranking) and ranking[i] in relevant:
                found += 1
            totals[i] += found / len(relevant)
    return {k + 1: totals[k] / len(qrels) for k in range(max_k)}
