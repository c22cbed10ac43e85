"""Ranking metrics computed by ir-measures (trec_eval semantics)."""

from __future__ import annotations

from collections.abc import Mapping

import ir_measures
from ir_measures import MRR, R, nDCG

Run = Mapping[str, Mapping[str, float]]  # query id -> doc id -> score
Qrels = Mapping[str, Mapping[str, int]]  # query id -> doc id -> grade

MEASURES = {"ndcg@10": nDCG @ 10, "recall@10": R @ 10, "mrr@10": MRR @ 10}


def ranked_run(rankings: Mapping[str, list[str]]) -> dict[str, dict[str, float]]:
    """A run from ranked doc ids (best first), scored by reciprocal position."""
    return {
        qid: {doc: 1.0 / (rank + 1) for rank, doc in enumerate(dict.fromkeys(docs))}
        for qid, docs in rankings.items()
    }


def evaluate(qrels: Qrels, run: Run) -> dict[str, float]:
    """Mean nDCG@10, Recall@10 and MRR@10 over the judged queries (a missing query scores 0)."""
    full_run = {qid: dict(run.get(qid, {})) for qid in qrels}
    scores = ir_measures.calc_aggregate(
        list(MEASURES.values()),
        {q: dict(d) for q, d in qrels.items()},
        {q: d for q, d in full_run.items() if d},
    )
    present = sum(1 for d in full_run.values() if d)
    # ir-measures averages over queries present in the run; scale so a missing query counts 0.
    factor = present / len(qrels) if qrels else 0.0
    return {name: float(scores[measure]) * factor for name, measure in MEASURES.items()}
