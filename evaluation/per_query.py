"""A run's scores query by query: its worst queries, and two runs compared query by query.

Query texts come from the run's golden set as it is now (a query replaced since shows its id).
A query judged against a document the reader may not read is left out: its text may quote that
document (a probe is a sentence of the page it must find).
"""

from __future__ import annotations

from dataclasses import dataclass

from evaluation.golden import GoldenQuery
from evaluation.runs import EvalRecords, Scores
from steward.access import Principal
from steward.catalog import DocumentRow
from steward.errors import NotFoundError


@dataclass(frozen=True, slots=True)
class QueryScore:
    query_id: str
    text: str | None
    scores: Scores


@dataclass(frozen=True, slots=True)
class QueryChange:
    """One query in two runs: its scores in each and the change of `metric` (b - a)."""

    query_id: str
    text: str | None
    a: Scores
    b: Scores
    change: float


def hidden_queries(
    queries: list[GoldenQuery], rows: dict[str, DocumentRow], reader: Principal | None
) -> set[str]:
    """The queries judged against a document the reader may not read."""
    if reader is None or reader.search_groups is None:
        return set()
    by_uri: dict[str, list[DocumentRow]] = {}
    for row in rows.values():
        by_uri.setdefault(row.source_uri, []).append(row)
    hidden = set()
    for q in queries:
        for j in q.relevant:
            judged = (
                [rows[j.doc_id]]
                if j.doc_id is not None and j.doc_id in rows
                else [r for r in by_uri.get(j.source_uri or "", []) if j.source in (None, r.source)]
            )
            if any(not reader.can_read(r.acl) for r in judged):
                hidden.add(q.query_id)
                break
    return hidden


def golden_queries(records: EvalRecords, golden_set: str) -> list[GoldenQuery]:
    """The golden set's queries as they are now (none when it was deleted since)."""
    try:
        return records.golden(golden_set)
    except NotFoundError:
        return []


def _texts(records: EvalRecords, golden_set: str) -> dict[str, str]:
    return {q.query_id: q.text for q in golden_queries(records, golden_set)}


def worst(
    records: EvalRecords, run_id: int, hidden: set[str], metric: str, limit: int = 20
) -> list[QueryScore]:
    """The run's lowest-scoring queries on `metric`, worst first (ties by query id)."""
    run = records.run(run_id)
    texts = _texts(records, run.golden_set)
    scored = [
        QueryScore(q, texts.get(q), s)
        for q, s in (run.per_query or {}).items()
        if q not in hidden and metric in s
    ]
    scored.sort(key=lambda item: (item.scores[metric], item.query_id))
    return scored[:limit]


def changes(
    records: EvalRecords, run_a: int, run_b: int, hidden: set[str], metric: str
) -> list[QueryChange]:
    """Every query both runs scored on `metric`, the largest drop first."""
    a, b = records.run(run_a), records.run(run_b)
    texts = _texts(records, b.golden_set)
    a_scores, b_scores = a.per_query or {}, b.per_query or {}
    found = [
        QueryChange(
            q, texts.get(q), a_scores[q], b_scores[q], b_scores[q][metric] - a_scores[q][metric]
        )
        for q in sorted(set(a_scores) & set(b_scores))
        if q not in hidden and metric in a_scores[q] and metric in b_scores[q]
    ]
    found.sort(key=lambda item: (item.change, item.query_id))
    return found
