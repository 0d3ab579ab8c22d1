"""Our nDCG@10, Recall@k and MRR@10 agree with trec_eval (through pytrec_eval) on the same runs."""

from __future__ import annotations

import random

import pytest
import pytrec_eval

from rag.evaluation.ir_metrics import (
    evaluate,
    mrr_at_k,
    ndcg_at_k,
    per_query,
    ranked,
    recall_at_k,
    recall_curve,
)


def _random_case(seed: int) -> tuple[dict, dict]:
    rng = random.Random(seed)
    docs = [f"d{i}" for i in range(300)]
    qrels, run = {}, {}
    for q in range(150):
        qid = str(q)
        qrels[qid] = {d: rng.choice([0, 1, 1, 2]) for d in rng.sample(docs, rng.randint(1, 8))}
        # Integer scores in a small range: many ties, which trec_eval breaks by document id.
        run[qid] = {d: float(rng.randint(0, 30)) for d in rng.sample(docs, rng.randint(0, 160))}
    return qrels, run


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_per_query_metrics_match_trec_eval(seed):
    qrels, run = _random_case(seed)
    reference = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut_10", "recall_10", "recall_100"}).evaluate(
        run
    )
    top10 = {q: {d: run[q][d] for d in ranked(run[q])[:10]} for q in run}
    rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top10)
    ours = per_query(run, qrels)
    compared = 0
    for qid in reference:  # pytrec_eval leaves out queries with an empty ranking
        assert ours[qid]["ndcg@10"] == pytest.approx(reference[qid]["ndcg_cut_10"], abs=1e-12)
        assert ours[qid]["recall@10"] == pytest.approx(reference[qid]["recall_10"], abs=1e-12)
        assert ours[qid]["recall@100"] == pytest.approx(reference[qid]["recall_100"], abs=1e-12)
        assert ours[qid]["mrr@10"] == pytest.approx(rr[qid]["recip_rank"], abs=1e-12)
        compared += 1
    assert compared > 100


def test_hand_computed_example():
    rels = {"a": 2, "b": 1, "z": 1}
    ranking = ["x", "a", "y", "b"]
    dcg = 2 / 1.584962500721156 + 1 / 2.321928094887362
    idcg = 2 + 1 / 1.584962500721156 + 1 / 2
    assert ndcg_at_k(ranking, rels, 10) == pytest.approx(dcg / idcg)
    assert recall_at_k(ranking, rels, 2) == pytest.approx(1 / 3)
    assert recall_at_k(ranking, rels, 10) == pytest.approx(2 / 3)
    assert mrr_at_k(ranking, rels, 10) == 0.5
    assert mrr_at_k(ranking, rels, 1) == 0.0
    assert ranked({"a": 1.0, "b": 1.0, "c": 2.0}) == ["c", "b", "a"]  # trec_eval: ties by doc id, descending


def test_queries_missing_from_the_run_count_as_zero():
    qrels = {"1": {"a": 1}, "2": {"b": 1}}
    result = evaluate({"1": {"a": 1.0}}, qrels)
    assert result["ndcg@10"] == 0.5 and result["recall@100"] == 0.5


def test_recall_curve_agrees_with_recall_at_k():
    qrels, run = _random_case(7)
    curve = recall_curve(run, qrels, 100)
    means = evaluate(run, qrels)
    assert curve[10] == pytest.approx(means["recall@10"])
    assert curve[100] == pytest.approx(means["recall@100"])
    values = [curve[k] for k in range(1, 101)]
    assert values == sorted(values)
