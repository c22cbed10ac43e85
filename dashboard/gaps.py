"""The knowledge gaps page: questions the knowledge base did not answer, grouped (owners and up:
the questions are other people's words)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dashboard.paging import PAGE_SIZE, Offset, pages
from dashboard.visits import RuntimeDep, VisitDep, refusal, render, sign_in_first
from evaluation.gaps import MISS_COSINE, knowledge_gaps
from hygiene.queue import RECENT_DAYS
from steward.access import Role
from steward.domain import utc_now
from steward.errors import StewardError

router = APIRouter(include_in_schema=False)


@router.get("/gaps", name="dashboard_gaps")
def gaps(request: Request, visit: VisitDep, runtime: RuntimeDep, offset: Offset = 0) -> Response:
    if visit.principal is None:
        return sign_in_first(request, visit)
    try:
        visit.principal.require(Role.OWNER)
    except StewardError as error:
        return refusal(request, visit, error)
    found = knowledge_gaps(runtime.database, utc_now() - timedelta(days=RECENT_DAYS))
    return render(
        request,
        visit,
        "gaps.html",
        groups=found.groups[offset : offset + PAGE_SIZE],
        pages=pages(len(found.groups), offset),
        without_text=found.without_text,
        days=RECENT_DAYS,
        miss_cosine=MISS_COSINE,
        query="",
    )
