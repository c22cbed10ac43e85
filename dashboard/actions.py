"""The dashboard's actions (POST, then a redirect): sign-in and sign-out, and owners' decisions.

Every form is refused without the session's CSRF token. A decision needs the owner role and a
document the visitor may read (one it may not read answers as missing, as in the API); it is
written by the same records as the API's, audited with the signed-in principal as actor.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from app.runtime import Runtime
from dashboard.sessions import MAX_COOKIE_BYTES, Session
from dashboard.visits import (
    RuntimeDep,
    Visit,
    VisitDep,
    client_address,
    form,
    lifetime_s,
    redirect,
    refusal,
    render,
    safe_next,
    set_session,
    sign_in_first,
    sign_in_refused,
    signer,
)
from hygiene import report
from hygiene.records import RESOLUTIONS, HygieneRecords
from steward.access import Principal, Role
from steward.authentication import Authenticator
from steward.errors import (
    AccessError,
    NotFoundError,
    QueryError,
    StewardError,
    TooManyFailuresError,
)

router = APIRouter(include_in_schema=False)

DocId = Annotated[str, Path(min_length=1, max_length=64)]


# -- signing in ----------------------------------------------------------------------------


@router.get("/sign-in", name="dashboard_sign_in")
def sign_in_page(
    request: Request,
    visit: VisitDep,
    next_path: Annotated[str | None, Query(alias="next", max_length=500)] = None,
) -> Response:
    if not visit.access_control:
        return redirect(request, visit, safe_next(next_path))
    if visit.refused is not None:
        # An Authorization header was refused: say why (never the token itself).
        return sign_in_refused(request, visit, safe_next(next_path), visit.refused)
    return render(request, visit, "sign_in.html", next=safe_next(next_path), error=None)


@router.post("/sign-in")
async def sign_in(request: Request, visit: VisitDep) -> Response:
    """Exchange an API key or a single-sign-on JWT for a session; it is checked, never stored,
    logged or shown."""
    try:
        fields = await form(request, visit)
    except StewardError as error:
        return refusal(request, visit, error)
    after = safe_next(fields.get("next"))
    if not visit.access_control:
        return redirect(request, visit, after)
    presented = fields.get("key", "").strip()
    if not presented:
        return sign_in_refused(request, visit, after, "enter an API key or a token")
    auth: Authenticator = request.app.state.authenticator
    try:
        # Off the event loop: a JWKS fetched over HTTP may take seconds.
        proof = await run_in_threadpool(auth.prove, presented, client_address(request))
    except (AccessError, TooManyFailuresError) as error:
        return sign_in_refused(request, visit, after, error)
    # A new session with a new CSRF token: nothing of the signed-out one carries over.
    response = redirect(request, visit, after)
    if proof.key_digest is not None:
        set_session(request, response, Session.fresh(proof.key_digest, lifetime_s(request)))
        return response
    # A token's session ends with the token (or sooner, after the configured lifetime).
    now = int(time.time())
    expires = min(proof.expires or now, now + lifetime_s(request))
    if expires <= now:
        # Accepted within the clock-skew leeway, but a session would be over at once.
        return sign_in_refused(request, visit, after, "the bearer token has expired")
    session = Session.for_token(proof.principal, expires)
    if len(signer(request).dump(session)) > MAX_COOKIE_BYTES:
        return sign_in_refused(
            request,
            visit,
            after,
            "the token names too many groups to keep in a session cookie; "
            "reach the dashboard through your single-sign-on proxy instead",
        )
    set_session(request, response, session, max_age=expires - now)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, visit: VisitDep) -> Response:
    try:
        await form(request, visit)
    except StewardError as error:
        return refusal(request, visit, error)
    response = redirect(request, visit, "/sign-in" if visit.access_control else "/")
    set_session(request, response, Session.fresh(None, lifetime_s(request)))
    return response


# -- owners' decisions ---------------------------------------------------------------------


async def _decide(
    request: Request,
    visit: Visit,
    runtime: Runtime,
    decision: Callable[[dict[str, str], Principal], None],
    back: Callable[[dict[str, str]], str],
) -> Response:
    """Check the form and the role, take the decision off the event loop, then redirect."""
    if visit.principal is None:
        return sign_in_first(request, visit)
    principal = visit.principal
    try:
        fields = await form(request, visit)
        principal.require(Role.OWNER)
        await run_in_threadpool(decision, fields, principal)
    except StewardError as error:
        return refusal(request, visit, error)
    # Retrieval must see the decision now, not at its next refresh.
    runtime.hygiene.invalidate()
    return redirect(request, visit, back(fields))


def _queue_back(done: str) -> Callable[[dict[str, str]], str]:
    def back(fields: dict[str, str]) -> str:
        query = {"done": done}
        if fields.get("owner"):
            query["owner"] = fields["owner"]
        return f"/queue?{urlencode(query)}"

    return back


def _note(fields: dict[str, str]) -> str | None:
    note = fields.get("note", "").strip()
    if len(note) > 2000:
        raise QueryError("note", "at most 2000 characters")
    return note or None


@router.post("/queue/{doc_id}/verify")
async def verify(doc_id: DocId, request: Request, visit: VisitDep, runtime: RuntimeDep) -> Response:
    """The owner vouches for the page as it reads now; it leaves the queue."""

    def decision(fields: dict[str, str], principal: Principal) -> None:
        report.require_readable(runtime.catalog, principal, doc_id)
        HygieneRecords(runtime.database).verify(doc_id, principal.actor(None), _note(fields))

    return await _decide(request, visit, runtime, decision, _queue_back("verified"))


@router.post("/queue/{doc_id}/deprecate")
async def deprecate(
    doc_id: DocId, request: Request, visit: VisitDep, runtime: RuntimeDep
) -> Response:
    """Keep the page, but rank it last and flag it; it leaves the queue."""

    def decision(fields: dict[str, str], principal: Principal) -> None:
        report.require_readable(runtime.catalog, principal, doc_id)
        HygieneRecords(runtime.database).deprecate(doc_id, principal.actor(None), _note(fields))

    return await _decide(request, visit, runtime, decision, _queue_back("deprecated"))


@router.post("/queue/{doc_id}/review-date")
async def review_date(
    doc_id: DocId, request: Request, visit: VisitDep, runtime: RuntimeDep
) -> Response:
    """The owner sets the page's next review; it is not expired before then, and leaves."""

    def decision(fields: dict[str, str], principal: Principal) -> None:
        report.require_readable(runtime.catalog, principal, doc_id)
        try:
            when = date.fromisoformat(fields.get("review_by", ""))
        except ValueError:
            raise QueryError("review_by", "must be a date (YYYY-MM-DD)") from None
        HygieneRecords(runtime.database).set_review_date(doc_id, when, principal.actor(None))

    return await _decide(request, visit, runtime, decision, _queue_back("review date set"))


@router.post("/queue/{doc_id}/hand-over")
async def hand_over(
    doc_id: DocId, request: Request, visit: VisitDep, runtime: RuntimeDep
) -> Response:
    """The page goes to another owner's queue, across syncs; it leaves this one."""

    def decision(fields: dict[str, str], principal: Principal) -> None:
        report.require_readable(runtime.catalog, principal, doc_id)
        HygieneRecords(runtime.database).hand_over(
            doc_id, fields.get("to", ""), principal.actor(None)
        )

    return await _decide(request, visit, runtime, decision, _queue_back("handed over"))


@router.post("/duplicates/not-duplicate")
async def not_duplicate(request: Request, visit: VisitDep, runtime: RuntimeDep) -> Response:
    """Two pages are distinct, whatever their similarity; kept across syncs."""

    def decision(fields: dict[str, str], principal: Principal) -> None:
        doc_a, doc_b = fields.get("canonical", ""), fields.get("member", "")
        for doc_id in (doc_a, doc_b):
            report.require_readable(runtime.catalog, principal, doc_id)
        HygieneRecords(runtime.database).mark_distinct(doc_a, doc_b, principal.actor(None))

    return await _decide(request, visit, runtime, decision, lambda _fields: "/duplicates")


@router.post("/conflicts/{conflict_id}/resolve")
async def resolve(
    conflict_id: Annotated[str, Path(min_length=6, max_length=32)],
    request: Request,
    visit: VisitDep,
    runtime: RuntimeDep,
) -> Response:
    """Keep a, keep b, or both are valid; kept across syncs while the conflict stands."""

    def decision(fields: dict[str, str], principal: Principal) -> None:
        visible = report.conflicts(
            runtime.database,
            report.Filters(reader=principal),
            include_resolved=True,
            view=runtime.listings.view(),
        )
        # Only a conflict the visitor can see, named in full (the API also takes a prefix).
        if not any(c["id"] == conflict_id for c in visible):
            raise NotFoundError("conflict", conflict_id)
        resolution = fields.get("resolution", "")
        if resolution not in RESOLUTIONS:
            raise QueryError("resolution", f"must be one of {', '.join(RESOLUTIONS)}")
        HygieneRecords(runtime.database).resolve_conflict(
            conflict_id, resolution, principal.actor(None)
        )

    return await _decide(request, visit, runtime, decision, lambda _fields: "/conflicts")
