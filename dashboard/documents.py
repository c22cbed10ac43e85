"""The document page: a page's metadata, its chunks in reading order, its hygiene state, the
answers that returned it, the feedback on them and its audit history.

A page the visitor may not read answers 404, as a missing one does (as GET /documents/{id}).
Other pages it names (its canonical copy, its copies, its successor, a conflict's other side)
are listed only when the visitor may read them too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from dashboard.charts import sparkline
from dashboard.visits import RuntimeDep, VisitDep, refusal, render, sign_in_first
from evaluation.feedback import FeedbackRecords
from hygiene import report
from hygiene.queue import RECENT_DAYS
from steward.audit import entries
from steward.domain import utc_now
from steward.errors import NotFoundError

router = APIRouter(include_in_schema=False)

DocId = Annotated[str, Path(min_length=1, max_length=64)]
# Audit entries shown on a document's page: its newest.
AUDIT_SHOWN = 50


@router.get("/document/{doc_id}", name="dashboard_document")
def document(doc_id: DocId, request: Request, visit: VisitDep, runtime: RuntimeDep) -> Response:
    if visit.principal is None:
        return sign_in_first(request, visit)
    reader = visit.principal
    row = runtime.catalog.document(doc_id)
    if row is None or not reader.can_read(row.acl):
        return refusal(request, visit, NotFoundError("document", doc_id))
    database = runtime.database
    view = runtime.listings.view()
    hygiene = report.document_state(database, doc_id, reader, view)
    conflicts = report.conflicts(
        database, report.Filters(reader=reader), include_resolved=True, doc_id=doc_id, view=view
    )
    named = {
        d
        for d in (
            (hygiene or {}).get("duplicate_of"),
            (hygiene or {}).get("superseded_by"),
            *((hygiene or {}).get("duplicates") or ()),
        )
        if d
    }
    titles = {d: (other.title if other else d) for d in named for other in [view.rows.get(d)]}
    now = utc_now()
    feedback = FeedbackRecords(database)
    days, recent = feedback.traffic_of(doc_id, now - timedelta(days=RECENT_DAYS))
    span = [(now - timedelta(days=n)).date().isoformat() for n in range(RECENT_DAYS - 1, -1, -1)]
    history = report.visible_entries(
        database, reader, entries(database, AUDIT_SHOWN, document=doc_id)
    )
    return render(
        request,
        visit,
        "document.html",
        row=row,
        owner=view.rows[doc_id].owner if doc_id in view.rows else row.owner,
        chunks=runtime.store.document_chunks(doc_id),
        hygiene=hygiene,
        conflicts=conflicts,
        titles=titles,
        retrieved=sum(days.values()),
        traffic=sparkline(
            [days.get(day, 0) for day in span],
            f"answers returning this page per day, last {RECENT_DAYS} days",
            low=0,
        ),
        recent=recent,
        recent_days=RECENT_DAYS,
        feedback=feedback.feedback_of(doc_id),
        history=history,
    )
