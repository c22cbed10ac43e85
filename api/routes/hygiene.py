"""Knowledge hygiene: /hygiene/* listings, the scan, and owners' actions (all audited)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from api.deps import Limit, Offset, Owner, Reader, RuntimeDep
from api.schemas import (
    NOT_FOUND,
    Action,
    AuditPage,
    ConflictPage,
    DuplicatePage,
    NotDuplicate,
    Resolve,
    ScanRecord,
    ScanResponse,
    StalePage,
)
from app.hygiene import scan_hygiene
from app.runtime import Runtime
from hygiene import report
from hygiene.records import HygieneRecords
from steward.access import Principal
from steward.domain import rfc3339
from steward.errors import NotFoundError

router = APIRouter(tags=["hygiene"])

Source = Annotated[str | None, Query(min_length=1, description="Only this source.")]
DocOwner = Annotated[str | None, Query(min_length=1, description="Only documents of this owner.")]


@router.get("/hygiene/duplicates", response_model=DuplicatePage)
def duplicates(
    caller: Reader,
    runtime: RuntimeDep,
    source: Source = None,
    owner: DocOwner = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Clusters of copies: the canonical document and the members folded into it."""
    items = report.duplicates(runtime.database, report.Filters(source, owner, caller))
    return report.page(items, limit, offset)


@router.get("/hygiene/stale", response_model=StalePage)
def stale(
    caller: Reader,
    runtime: RuntimeDep,
    source: Source = None,
    owner: DocOwner = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Deprecated, superseded and expired documents."""
    items = report.stale(runtime.database, report.Filters(source, owner, caller))
    return report.page(items, limit, offset)


@router.get("/hygiene/conflicts", response_model=ConflictPage)
def conflicts(
    caller: Reader,
    runtime: RuntimeDep,
    source: Source = None,
    owner: DocOwner = None,
    kind: Annotated[str | None, Query(min_length=1)] = None,
    include_resolved: bool = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Pairs of statements that give different values for the same thing."""
    items = report.conflicts(
        runtime.database, report.Filters(source, owner, caller), kind, include_resolved
    )
    return report.page(items, limit, offset)


@router.post("/hygiene/scan", response_model=ScanResponse)
async def run_scan(_caller: Owner, runtime: RuntimeDep) -> dict[str, Any]:
    """Scan now (it also runs after every sync); the scan's summary."""
    found = await run_in_threadpool(scan_hygiene, runtime)
    runtime.hygiene.invalidate()
    return {"scan_id": found.scan_id, "summary": found.summary()}


@router.get("/hygiene/scans/last", response_model=ScanRecord | None)
def last_scan(_caller: Reader, runtime: RuntimeDep) -> dict[str, Any] | None:
    """The last finished scan (null before the first)."""
    return HygieneRecords(runtime.database).last_scan()


def _readable(runtime: Runtime, caller: Principal) -> Callable[[str], bool]:
    """Whether the caller may read a document by id (one the catalog lacks: left to the action)."""

    def readable(doc_id: str) -> bool:
        try:
            report.require_readable(runtime.catalog, caller, doc_id, missing_ok=True)
        except NotFoundError:
            return False
        return True

    return readable


@router.post("/documents/{doc_id}/verify", status_code=204, responses=NOT_FOUND)
def verify(doc_id: str, action: Action, caller: Owner, runtime: RuntimeDep) -> None:
    """The owner vouches for the document as it reads now; its review date starts again."""
    report.require_readable(runtime.catalog, caller, doc_id, missing_ok=True)
    HygieneRecords(runtime.database).verify(doc_id, caller.actor(action.actor), action.note)
    runtime.hygiene.invalidate()


@router.post("/documents/{doc_id}/deprecate", status_code=204, responses=NOT_FOUND)
def deprecate(doc_id: str, action: Action, caller: Owner, runtime: RuntimeDep) -> None:
    """Keep the document, but rank it last and flag it."""
    report.require_readable(runtime.catalog, caller, doc_id, missing_ok=True)
    HygieneRecords(runtime.database).deprecate(doc_id, caller.actor(action.actor), action.note)
    runtime.hygiene.invalidate()


@router.post("/hygiene/not-duplicate", status_code=204, responses=NOT_FOUND)
def not_duplicate(decision: NotDuplicate, caller: Owner, runtime: RuntimeDep) -> None:
    """Two documents are distinct, whatever their similarity; kept across syncs."""
    report.require_readable(
        runtime.catalog, caller, decision.doc_a, decision.doc_b, missing_ok=True
    )
    HygieneRecords(runtime.database).mark_distinct(
        decision.doc_a, decision.doc_b, caller.actor(decision.actor)
    )
    runtime.hygiene.invalidate()


@router.post("/hygiene/conflicts/{conflict_id}/resolve", status_code=204, responses=NOT_FOUND)
def resolve(conflict_id: str, decision: Resolve, caller: Owner, runtime: RuntimeDep) -> None:
    """Keep a, keep b, or both are valid; kept across syncs while the conflict stands."""
    HygieneRecords(runtime.database).resolve_conflict(
        conflict_id, decision.resolution, caller.actor(decision.actor), _readable(runtime, caller)
    )
    runtime.hygiene.invalidate()


@router.get("/hygiene/audit", response_model=AuditPage)
def audit(
    caller: Reader, runtime: RuntimeDep, limit: Limit = 100, offset: Offset = 0
) -> dict[str, Any]:
    """Who did what, when: newest first."""
    hidden = report.unreadable_ids(runtime.database, caller)
    # A page may come out shorter than `limit` when it held lines about unreadable documents.
    entries = [
        e
        for e in HygieneRecords(runtime.database).audit(limit, offset)
        if not report.names_any(e, hidden)
    ]
    items = [{**e, "at": rfc3339(e["at"])} for e in entries]
    return {"items": items, "limit": limit, "offset": offset}
