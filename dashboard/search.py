"""The search playground: a query as retrieval answers it for the visitor, each result with its
flags, the copies folded into it, its score and the hygiene factors that moved it; and a form to
judge a result (the same feedback as POST /feedback).

The search runs with the visitor's groups inside the index query, like POST /retrieve, and is
logged in the query log like it (feedback names a logged answer). Pages a result points to (its
canonical copy, its successor, its folded copies) are named only when the visitor may read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal
from uuid import uuid4

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from dashboard.visits import RuntimeDep, VisitDep, form, redirect, refusal, render, sign_in_first
from evaluation.feedback import FeedbackRecords
from retrieval.ranking import factors
from retrieval.search import MODES
from steward.domain import ScoredChunk, SearchFilters, utc_now
from steward.errors import NotFoundError, QueryError, StewardError

router = APIRouter(include_in_schema=False)

TOP_K = 10
# A factor is shown when it moved the score by at least half a percent (two decimals).
SHOWN_BELOW = 0.995


@dataclass(frozen=True, slots=True)
class Shown:
    """One result as the playground shows it."""

    hit: ScoredChunk
    factors: dict[str, float]  # the hygiene factors below 1 (what moved it down)
    duplicate_of: str | None
    superseded_by: str | None
    duplicates: list[str]


@router.get("/playground", name="dashboard_playground")
def playground(
    request: Request,
    visit: VisitDep,
    runtime: RuntimeDep,
    q: Annotated[str, Query(max_length=1000)] = "",
    mode: Annotated[Literal["hybrid", "dense", "sparse"] | None, Query()] = None,
    judged: Annotated[Literal["relevant", "not relevant"] | None, Query()] = None,
) -> Response:
    if visit.principal is None:
        return sign_in_first(request, visit)
    reader = visit.principal
    results: list[Shown] = []
    query_id = None
    retriever = runtime.retriever
    chosen = mode or retriever.settings.mode
    if q.strip():
        groups = reader.search_groups
        filters = None if groups is None else SearchFilters(groups=groups)
        try:
            found = retriever.retrieve(q, TOP_K, chosen, filters)
        except QueryError as error:
            return refusal(request, visit, error)
        query_id = str(uuid4())
        runtime.query_log.record(
            query_id,
            q,
            chosen,
            TOP_K,
            round(found.took_ms, 3),
            found.hits,
            top_cosine=found.top_cosine,
        )
        named = {
            d for h in found.hits for d in (h.duplicate_of, h.superseded_by, *h.duplicates) if d
        }
        acls = runtime.catalog.acls(sorted(named))
        shown = {d for d, acl in acls.items() if reader.can_read(acl)}
        snapshot = runtime.hygiene()
        marks = snapshot.documents if snapshot is not None else {}
        now = utc_now()
        settings = runtime.settings.hygiene
        for hit in found.hits:
            moved = factors(marks.get(hit.payload.doc_id), settings, now)
            results.append(
                Shown(
                    hit=hit,
                    factors={k: v for k, v in moved.items() if v < SHOWN_BELOW},
                    duplicate_of=hit.duplicate_of if hit.duplicate_of in shown else None,
                    superseded_by=hit.superseded_by if hit.superseded_by in shown else None,
                    duplicates=[d for d in hit.duplicates if d in shown],
                )
            )
    return render(
        request,
        visit,
        "playground.html",
        q=q,
        mode=chosen,
        modes=MODES,
        results=results,
        query_id=query_id,
        judged=judged,
    )


@router.post("/playground/feedback")
async def judge(request: Request, visit: VisitDep, runtime: RuntimeDep) -> Response:
    """Judge one result of a playground answer: relevant or not (feeds the feedback figures)."""
    if visit.principal is None:
        return sign_in_first(request, visit)
    reader = visit.principal
    try:
        fields = await form(request, visit)
        query_id, chunk_id = fields.get("query_id", ""), fields.get("chunk_id", "")
        relevant = fields.get("relevant")
        if relevant not in ("1", "0"):
            raise QueryError("relevant", "must be 1 or 0")
        records = FeedbackRecords(runtime.database)
        hit = next((r for r in records.results_of(query_id) if r["chunk_id"] == chunk_id), None)
        row = runtime.catalog.document(hit["doc_id"]) if hit else None
        # A result of an answer the visitor could not have seen answers as missing.
        if row is None or not reader.can_read(row.acl):
            raise NotFoundError("result", chunk_id)
        note = fields.get("note", "").strip()[:2000] or None
        await run_in_threadpool(records.add, query_id, chunk_id, relevant == "1", note)
    except StewardError as error:
        return refusal(request, visit, error)
    word = "relevant" if relevant == "1" else "not%20relevant"
    return redirect(request, visit, f"/playground?judged={word}")
