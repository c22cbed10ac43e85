"""The audit log page: who did what, when, filterable by actor, action and document.

An entry naming a document the visitor may not read is left out (as GET /hygiene/audit does).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from dashboard.paging import PAGE_SIZE, Offset, pages
from dashboard.visits import RuntimeDep, VisitDep, render, sign_in_first
from hygiene import report
from steward.audit import choices, entries

router = APIRouter(include_in_schema=False)

# Entries read per request before the visitor's filter: the newest ones.
MAX_READ = 2000
Text = Annotated[str | None, Query(max_length=200)]


@router.get("/audit", name="dashboard_audit")
def audit(
    request: Request,
    visit: VisitDep,
    runtime: RuntimeDep,
    actor: Text = None,
    action: Text = None,
    document: Annotated[str | None, Query(max_length=64, pattern=r"^[0-9a-f]*$")] = None,
    offset: Offset = 0,
) -> Response:
    if visit.principal is None:
        return sign_in_first(request, visit)
    database = runtime.database
    if document:
        row = runtime.catalog.document(document)
        if row is not None and not visit.principal.can_read(row.acl):
            # As if it never existed: nothing about it, not even its id echoed in the form.
            document = "0" * 32
    found = report.visible_entries(
        database,
        visit.principal,
        entries(database, MAX_READ, 0, actor or None, action or None, document or None),
    )
    chosen = {
        "actor": actor or "",
        "action": action or "",
        "document": "" if document == "0" * 32 else document or "",
    }
    return render(
        request,
        visit,
        "audit.html",
        entries=found[offset : offset + PAGE_SIZE],
        pages=pages(len(found), offset),
        chosen=chosen,
        options=choices(database),
        query=urlencode({k: v for k, v in chosen.items() if v}) + "&",
    )
