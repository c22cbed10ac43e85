"""Who is visiting the dashboard: the session cookie, the principal behind it, and rendering.

With access control on, the principal is the one of the API key signed in with (looked up
again on every request); with it off, every visitor is the local admin, and the pages say so.
Every form carries the session's CSRF token, checked before any action.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from app.runtime import Runtime
from client.errors import status_of
from dashboard.sessions import COOKIE, Session, SessionSigner, home_secret
from steward.access import LOCAL_ADMIN, KeyRing, Principal, Role
from steward.errors import StewardError, UnauthenticatedError

log = logging.getLogger(__name__)

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")

# Nothing but our own files: no inline script, no other origin, no framing, forms post here.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Pages show what one principal may read: no shared cache may keep them.
    "Cache-Control": "no-store",
}

# A form body larger than this is not a dashboard form (the API's body limit applies first).
MAX_FORM_BYTES = 64 * 1024


class CsrfRefused(StewardError):
    """A form posted without this session's CSRF token."""


@dataclass(frozen=True, slots=True)
class Visit:
    """One request to the dashboard."""

    principal: Principal | None  # None: access control is on and nobody signed in
    session: Session
    access_control: bool
    new_cookie: bool  # the session was made for this request and must be sent

    @property
    def csrf(self) -> str:
        return self.session.csrf

    def may(self, role: str) -> bool:
        return self.principal is not None and self.principal.role >= Role.named(role)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def signer(request: Request) -> SessionSigner:
    """The app's session signer, made on first use from the settings or the home's secret."""
    found: SessionSigner | None = getattr(request.app.state, "dashboard_signer", None)
    if found is None:
        settings = get_runtime(request).settings
        given = settings.dashboard.session_secret
        secret = given.get_secret_value().encode() if given else home_secret(settings.home.home)
        found = SessionSigner(secret)
        request.app.state.dashboard_signer = found
    return found


def lifetime_s(request: Request) -> int:
    return int(get_runtime(request).settings.dashboard.session_hours * 3600)


def get_visit(request: Request) -> Visit:
    keys: KeyRing = request.app.state.keys
    session = signer(request).load(request.cookies.get(COOKIE))
    new_cookie = session is None
    if session is None:
        session = Session.fresh(None, lifetime_s(request))
    if not keys.enabled:
        return Visit(LOCAL_ADMIN, session, False, new_cookie)
    principal: Principal | None = None
    if session.key_digest is not None:
        try:
            principal = keys.resolve_digest(session.key_digest)
        except UnauthenticatedError:
            # The key was revoked since sign-in: the session ends, a signed-out one follows.
            session, new_cookie = Session.fresh(None, lifetime_s(request)), True
    return Visit(principal, session, True, new_cookie)


VisitDep = Annotated[Visit, Depends(get_visit)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def set_session(request: Request, response: Response, session: Session) -> None:
    """Send the session cookie: HttpOnly, SameSite=Strict, expiring with the session."""
    response.set_cookie(
        COOKIE,
        signer(request).dump(session),
        max_age=lifetime_s(request),
        path="/",
        httponly=True,
        samesite="strict",
        secure=get_runtime(request).settings.dashboard.secure_cookie,
    )


def _finish(request: Request, response: Response, visit: Visit) -> Response:
    response.headers.update(SECURITY_HEADERS)
    if visit.new_cookie:
        set_session(request, response, visit.session)
    return response


def render(
    request: Request, visit: Visit, template: str, status_code: int = 200, **context: Any
) -> Response:
    """A page; every template gets the visit (principal, CSRF token, the banner's facts)."""
    response = TEMPLATES.TemplateResponse(
        request, template, {"visit": visit, **context}, status_code=status_code
    )
    return _finish(request, response, visit)


def redirect(request: Request, visit: Visit, to: str) -> Response:
    """After a form: 303, so a reload does not post it again."""
    return _finish(request, RedirectResponse(to, status_code=303), visit)


def sign_in_first(request: Request, visit: Visit) -> Response:
    return redirect(request, visit, f"/sign-in?next={request.url.path}")


def refusal(request: Request, visit: Visit, error: StewardError) -> Response:
    """An error page with the status the API would answer the same error with."""
    status = 403 if isinstance(error, CsrfRefused) else status_of(error)
    return render(request, visit, "error.html", status_code=status, message=str(error))


async def form(request: Request, visit: Visit) -> dict[str, str]:
    """The fields of a posted form (the first value of each); CsrfRefused without the token."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise CsrfRefused("the form is too large")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        raise CsrfRefused("the form could not be read") from None
    found = {name: values[0] for name, values in fields.items()}
    if not visit.session.accepts(found.get("csrf")):
        # The path only: the token, the cookie and the form's fields stay out of the log.
        log.info("dashboard: refused a form to %s: no valid CSRF token", request.url.path)
        raise CsrfRefused(
            "this form has expired or did not come from this dashboard; "
            "reload the page and try again"
        )
    return found


def safe_next(path: str | None, default: str = "/queue") -> str:
    """A path on this site to go to after sign-in, never another site ("//evil.example")."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path
