"""The dashboard's pages (GET): overview, my queue, duplicates (and a copy's diff), conflicts.

Each page reads through the same listings as the API (`hygiene.report` and kin) with the
visitor as reader, so a page never shows, lists or counts a document its reader may not read.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from dashboard.charts import sparkline
from dashboard.paging import PAGE_SIZE, Offset
from dashboard.paging import pages as _pages
from dashboard.textdiff import side_by_side
from dashboard.visits import RuntimeDep, VisitDep, refusal, render, sign_in_first
from evaluation.metrics import HEADLINE
from evaluation.runs import EvalRecords
from hygiene import overview as health
from hygiene import queue as work
from hygiene import report
from hygiene.conflicts import KINDS as CONFLICT_KINDS
from hygiene.freshness import FRESHNESS_DAYS
from hygiene.history import trend
from hygiene.overview import STATES
from hygiene.queue import SEVERITY
from hygiene.records import MAX_REVIEW_DAYS, HygieneRecords
from hygiene.view import reader_key
from steward.access import Role
from steward.catalog import Catalog
from steward.domain import utc_now
from steward.errors import NotFoundError

router = APIRouter(include_in_schema=False)

# What the queue confirms after an action (never text taken from the query string).
Done = Literal["verified", "deprecated", "review date set", "handed over"]

FINDING_LABELS = {
    "superseded": "newer edition exists",
    "conflict": "open conflict",
    "expired": "review expired",
    "negative_feedback": "judged not relevant",
    "duplicate": "copy of another page",
}


@router.get("/", name="dashboard_overview")
def overview(request: Request, visit: VisitDep, runtime: RuntimeDep) -> Response:
    """The health of each source the visitor may read and its trend over the last scans,
    answer freshness, evaluation scores with their sparklines, last syncs."""
    if visit.principal is None:
        return sign_in_first(request, visit)
    database = runtime.database
    view = runtime.listings.view()  # every count of the page, filtered for the visitor
    sources = runtime.listings.listing(
        view,
        None,
        ("by_source", reader_key(visit.principal)),
        lambda: health.by_source(database, visit.principal, view),
    )
    catalog = Catalog(database)
    syncs = {line.source: catalog.last_run(line.source) for line in sources}
    history = trend(database, visit.principal)
    trends = {
        source: {
            "scans": len(points),
            "findings": sparkline(
                [p.open_findings for p in points],
                f"{source}: pages needing an owner over the last {len(points)} scans",
            ),
            "fresh": sparkline(
                [p.freshness for p in points],
                f"{source}: answer freshness over the last {len(points)} scans",
                low=0.0,
                high=1.0,
            ),
        }
        for source, points in history.items()
    }
    fresh = health.freshness(
        database, visit.principal, view=view, traffic=runtime.listings.traffic()
    )
    records = EvalRecords(database)
    scores = []
    for golden in records.golden_sets():
        recent = records.runs(golden.name, 20)
        good = [r for r in reversed(recent) if r.status == "ok" and r.metrics]
        scores.append(
            {
                "name": golden.name,
                "run": recent[0] if recent else None,
                "spark": sparkline(
                    [(r.metrics or {}).get(HEADLINE[0]) for r in good],
                    f"{golden.name}: {HEADLINE[0]} over its last {len(good)} runs",
                    low=0.0,
                    high=1.0,
                ),
            }
        )
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
        trends=trends,
        fresh=fresh,
        overall=health.overall_freshness(fresh),
        freshness_days=FRESHNESS_DAYS,
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
    view = runtime.listings.view()
    traffic = runtime.listings.traffic()
    rows = view.rows
    items = runtime.listings.listing(
        view,
        traffic,
        ("queue", chosen, reader_key(principal)),
        lambda: work.queue(runtime.database, chosen, principal, view=view, traffic=traffic),
    )
    return render(
        request,
        visit,
        "queue.html",
        items=items[offset : offset + PAGE_SIZE],
        pages=_pages(len(items), offset),
        owner=chosen,
        owners=work.owners(runtime.database, principal, rows) if admin else [],
        # Suggestions for a hand-over: the owners of pages the visitor may read.
        known_owners=work.owners(runtime.database, principal, rows),
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
    view = runtime.listings.view()
    clusters = runtime.listings.listing(
        view,
        None,
        ("duplicates", reader_key(visit.principal)),
        lambda: report.duplicates(runtime.database, report.Filters(reader=visit.principal), view),
    )
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


Show = Literal["open", "resolved", "all"]
Text = Annotated[str | None, Query(max_length=200)]


@router.get("/conflicts", name="dashboard_conflicts")
def conflicts(
    request: Request,
    visit: VisitDep,
    runtime: RuntimeDep,
    offset: Offset = 0,
    resolved: bool = False,
    show: Annotated[Show | None, Query()] = None,
    kind: Text = None,
    source: Text = None,
    owner: Text = None,
) -> Response:
    """Both statements of each conflict in context, their values, which side is newer;
    filtered by kind, source, owner, and open or resolved."""
    if visit.principal is None:
        return sign_in_first(request, visit)
    # `resolved=true` (older links) shows every conflict, as `show=all` does.
    show = show or ("all" if resolved else "open")
    database = runtime.database
    filters = report.Filters(source=source or None, owner=owner or None, reader=visit.principal)
    view = runtime.listings.view()
    rows = view.rows
    found = runtime.listings.listing(
        view,
        None,
        ("conflicts", reader_key(visit.principal), source, owner, kind, show != "open"),
        lambda: report.conflicts(
            database, filters, kind or None, include_resolved=show != "open", view=view
        ),
    )
    if show == "resolved":
        found = [c for c in found if c["resolution"]]
    shown = [
        {
            **c,
            "a_text": _highlight(c["a"]["span"], c["a"]["value"]),
            "b_text": _highlight(c["b"]["span"], c["b"]["value"]),
        }
        for c in found[offset : offset + PAGE_SIZE]
    ]
    chosen = {"show": show, "kind": kind or "", "source": source or "", "owner": owner or ""}
    return render(
        request,
        visit,
        "conflicts.html",
        conflicts=shown,
        pages=_pages(len(found), offset),
        chosen=chosen,
        kinds=CONFLICT_KINDS,
        sources=report.sources(database, visit.principal, rows),
        owners=work.owners(database, visit.principal, rows),
        query=urlencode({k: v for k, v in chosen.items() if v}) + "&",
    )


@router.get("/duplicates/diff", name="dashboard_diff")
def duplicate_diff(
    request: Request,
    visit: VisitDep,
    runtime: RuntimeDep,
    canonical: Annotated[str, Query(min_length=1, max_length=64)],
    member: Annotated[str, Query(min_length=1, max_length=64)],
) -> Response:
    """A copy side by side with its canonical page's text, the changed words marked."""
    if visit.principal is None:
        return sign_in_first(request, visit)
    rows = {}
    for doc_id in (canonical, member):
        row = runtime.catalog.document(doc_id)
        # Either side unreadable answers as missing: a diff would show its text.
        if row is None or not visit.principal.can_read(row.acl):
            return refusal(request, visit, NotFoundError("document", doc_id))
        rows[doc_id] = row

    def text(doc_id: str) -> str:
        return "\n\n".join(c.payload.text for c in runtime.store.document_chunks(doc_id))

    return render(
        request,
        visit,
        "diff.html",
        canonical=rows[canonical],
        member=rows[member],
        lines=side_by_side(text(canonical), text(member)),
    )
