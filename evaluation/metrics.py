"""Ranking metrics by ir-measures (trec_eval semantics): one table for runs and benchmarks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import ir_measures
from ir_measures import MRR, P, R, nDCG

Run = Mapping[str, Mapping[str, float]]  # query id -> doc id -> score
Qrels = Mapping[str, Mapping[str, int]]  # query id -> doc id -> grade

MEASURES = {
    "ndcg@10": nDCG @ 10,
    "p@5": P @ 5,
    "p@10": P @ 10,
    "recall@10": R @ 10,
    "mrr@10": MRR @ 10,
}
# What the benchmarks report.
HEADLINE = ("ndcg@10", "recall@10", "mrr@10")


def ranked_run(rankings: Mapping[str, list[str]]) -> dict[str, dict[str, float]]:
    """A run from ranked doc ids (best first), scored by reciprocal position."""
    return {
        qid: {doc: 1.0 / (rank + 1) for rank, doc in enumerate(dict.fromkeys(docs))}
        for qid, docs in rankings.items()
    }


def per_query(qrels: Qrels, run: Run) -> dict[str, dict[str, float]]:
    """Every measure for every judged query; a query the run misses (or answers empty) scores 0."""
    scores: dict[str, dict[str, float]] = {q: dict.fromkeys(MEASURES, 0.0) for q in qrels}
    present = {q: dict(docs) for q, docs in run.items() if docs and q in qrels}
    if present:
        names = {measure: name for name, measure in MEASURES.items()}
        judged = {q: dict(docs) for q, docs in qrels.items()}
        for metric in ir_measures.iter_calc(list(MEASURES.values()), judged, present):
            scores[metric.query_id][names[metric.measure]] = float(metric.value)
    return scores


def means(scores: Mapping[str, Mapping[str, float]], names: Iterable[str]) -> dict[str, float]:
    """The mean of each named metric over the queries (0 when there are none)."""
    rows = list(scores.values())
    return {name: sum(r[name] for r in rows) / len(rows) if rows else 0.0 for name in names}


def evaluate(qrels: Qrels, run: Run) -> dict[str, float]:
    """Mean nDCG@10, Recall@10 and MRR@10 over the judged queries (a missing query scores 0)."""
    return means(per_query(qrels, run), HEADLINE)
