"""The dashboard's pages (GET): overview, my queue, duplicates, conflicts.

Each page reads through the same listings as the API (`hygiene.report` and kin) with the
visitor as reader, so a page never shows, lists or counts a document its reader may not read.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from dashboard.visits import RuntimeDep, VisitDep, render, sign_in_first
from evaluation.metrics import HEADLINE
from evaluation.runs import EvalRecords
from hygiene import overview as health
from hygiene import queue as work
from hygiene import report
from hygiene.overview import STATES
from hygiene.queue import SEVERITY
from hygiene.records import MAX_REVIEW_DAYS, HygieneRecords
from steward.access import Role
from steward.catalog import Catalog
from steward.domain import utc_now

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
# What the queue confirms after an action (never text taken from the query string).
Done = Literal["verified", "deprecated", "review date set", "handed over"]
Offset = Annotated[int, Query(ge=0, le=10**9)]

FINDING_LABELS = {
    "superseded": "newer edition exists",
    "conflict": "open conflict",
    "expired": "review expired",
    "negative_feedback": "judged not relevant",
    "duplicate": "copy of another page",
}


def _pages(total: int, offset: int) -> dict[str, Any]:
    """Where a paginated list is, for the template's previous / next links."""
    return {
        "offset": offset,
        "total": total,
        "previous": max(0, offset - PAGE_SIZE) if offset > 0 else None,
        "next": offset + PAGE_SIZE if offset + PAGE_SIZE < total else None,
        "shown_to": min(total, offset + PAGE_SIZE),
    }


@router.get("/", name="dashboard_overview")
def overview(request: Request, visit: VisitDep, runtime: RuntimeDep) -> Response:
    """The health of each source the visitor may read, evaluation scores, last syncs."""
    if visit.principal is None:
        return sign_in_first(request, visit)
    database = runtime.database
    sources = health.by_source(database, visit.principal)
    catalog = Catalog(database)
    syncs = {line.source: catalog.last_run(line.source) for line in sources}
    records = EvalRecords(database)
    scores = []
    for golden in records.golden_sets():
        latest = records.runs(golden.name, 1)
        scores.append({"name": golden.name, "run": latest[0] if latest else None})
    return render(
        request,
        visit,
        "overview.html",
        sources=sources,
        states=STATES,
        syncs=syncs,
        scores=scores,
        metrics=HEADLINE,
        last_scan=HygieneRecords(database).last_scan(),
    )


@router.get("/queue", name="dashboard_queue")
def my_queue(
    request: Request,
    visit: VisitDep,
    runtime: RuntimeDep,
    owner: Annotated[str | None, Query(max_length=200)] = None,
    offset: Offset = 0,
    done: Annotated[Done | None, Query()] = None,
) -> Response:
    """The documents that need the visitor (an admin picks any owner, or all of them)."""
    principal = visit.principal
    if principal is None:
        return sign_in_first(request, visit)
    admin = principal.role >= Role.ADMIN
    # Only an admin looks at another owner's queue; anyone else sees their own.
    chosen = (owner or None) if admin else principal.name
    items = work.queue(runtime.database, chosen, principal)
    return render(
        request,
        visit,
        "queue.html",
        items=items[offset : offset + PAGE_SIZE],
        pages=_pages(len(items), offset),
        owner=chosen,
        owners=work.owners(runtime.database, principal) if admin else [],
        # Suggestions for a hand-over: the owners of pages the visitor may read.
        known_owners=work.owners(runtime.database, principal),
        labels=FINDING_LABELS,
        severity=SEVERITY,
        recent_days=work.RECENT_DAYS,
        # The review-date field's bounds: tomorrow, and the furthest day the records accept.
        tomorrow=(utc_now() + timedelta(days=1)).date().isoformat(),
        latest=(utc_now() + timedelta(days=MAX_REVIEW_DAYS)).date().isoformat(),
        done=done,
    )


@router.get("/duplicates", name="dashboard_duplicates")
def duplicates(
    request: Request, visit: VisitDep, runtime: RuntimeDep, offset: Offset = 0
) -> Response:
    """Clusters of copies, the canonical page marked, each member with "not a duplicate"."""
    if visit.principal is None:
        return sign_in_first(request, visit)
    clusters = report.duplicates(runtime.database, report.Filters(reader=visit.principal))
    return render(
        request,
        visit,
        "duplicates.html",
        clusters=clusters[offset : offset + PAGE_SIZE],
        pages=_pages(len(clusters), offset),
    )


def _highlight(span: str, value: str) -> dict[str, str]:
    """A statement split around its value, so the page can mark the value in its context."""
    at = span.casefold().find(value.casefold()) if value else -1
    if at < 0:
        return {"before": span, "value": "", "after": ""}
    return {
        "before": span[:at],
        "value": span[at : at + len(value)],
        "after": span[at + len(value) :],
    }


@router.get("/conflicts", name="dashboard_conflicts")
def conflicts(
    request: Request,
    visit: VisitDep,
    runtime: RuntimeDep,
    offset: Offset = 0,
    resolved: bool = False,
) -> Response:
    """Both statements of each conflict in context, their values, which side is newer."""
    if visit.principal is None:
        return sign_in_first(request, visit)
    found = report.conflicts(
        runtime.database, report.Filters(reader=visit.principal), include_resolved=resolved
    )
    shown = [
        {
            **c,
            "a_text": _highlight(c["a"]["span"], c["a"]["value"]),
            "b_text": _highlight(c["b"]["span"], c["b"]["value"]),
        }
        for c in found[offset : offset + PAGE_SIZE]
    ]
    return render(
        request,
        visit,
        "conflicts.html",
        conflicts=shown,
        pages=_pages(len(found), offset),
        resolved=resolved,
    )
