"""Who is visiting the dashboard: the session cookie, the principal behind it, and rendering.

With access control on, the principal is the one of an `Authorization: Bearer` header (an API
key, or a JWT an auth proxy such as oauth2-proxy adds to every request), else the one of the
session's cookie: the API key signed in with (looked up again on every request) or the token's
principal until the token's expiry. With it off, every visitor is the local admin, and the
pages say so. Every form carries the session's CSRF token, checked before any action.
"""

from __future__ import annotations

import logging
import math
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
from steward.access import LOCAL_ADMIN, Principal, Role
from steward.authentication import Authenticator
from steward.errors import (
    AccessError,
    StewardError,
    TooManyFailuresError,
    UnauthenticatedError,
)

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
    # Why the request's own credentials (an Authorization header) were refused, if they were:
    # an AccessError, or TooManyFailuresError for an address that failed too often lately.
    refused: StewardError | None = None

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


def _bearer(request: Request) -> str | None:
    """The credential of an `Authorization: Bearer` header, if the request carries one."""
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credential.strip() or None


def client_address(request: Request) -> str | None:
    """The visitor's address, which failed sign-ins are counted against."""
    return request.client.host if request.client is not None else None


def get_visit(request: Request) -> Visit:
    # The authenticator, not the key ring: a deployment with single sign-on alone has no key,
    # and its dashboard must not open to everyone as the local admin.
    auth: Authenticator = request.app.state.authenticator
    session = signer(request).load(request.cookies.get(COOKIE))
    new_cookie = session is None
    if session is None:
        session = Session.fresh(None, lifetime_s(request))
    if not auth.enabled:
        return Visit(LOCAL_ADMIN, session, False, new_cookie)
    presented = _bearer(request)
    if presented is not None:
        # Behind an auth proxy every request carries the caller's credentials: they win over
        # the cookie, which keeps only the CSRF token of the forms.
        try:
            return Visit(
                auth.resolve(presented, client_address(request)), session, True, new_cookie
            )
        except (AccessError, TooManyFailuresError) as error:
            # The reason names the failed check; the token itself is never logged or shown.
            log.info("dashboard: refused the Authorization header of %s", request.url.path)
            return Visit(None, session, True, new_cookie, refused=error)
    principal: Principal | None = session.principal
    if session.key_digest is not None:
        try:
            principal = auth.keys.resolve_digest(session.key_digest)
        except UnauthenticatedError:
            # The key was revoked since sign-in: the session ends, a signed-out one follows.
            session, new_cookie = Session.fresh(None, lifetime_s(request)), True
    return Visit(principal, session, True, new_cookie)


VisitDep = Annotated[Visit, Depends(get_visit)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def set_session(
    request: Request, response: Response, session: Session, max_age: int | None = None
) -> None:
    """Send the session cookie: HttpOnly, SameSite=Strict, expiring with the session (after
    the configured lifetime, or `max_age` seconds: a token's session ends with the token)."""
    response.set_cookie(
        COOKIE,
        signer(request).dump(session),
        max_age=lifetime_s(request) if max_age is None else max_age,
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
    """To the sign-in page; a request whose own credentials were refused gets it at once, with
    the reason (a redirect would only be refused again, and say nothing)."""
    if visit.refused is not None:
        return sign_in_refused(request, visit, safe_next(request.url.path), visit.refused)
    return redirect(request, visit, f"/sign-in?next={request.url.path}")


def sign_in_refused(
    request: Request, visit: Visit, after: str, reason: StewardError | str
) -> Response:
    """The sign-in page saying why the credentials were refused (never the credentials): 401,
    or 429 / 503 with Retry-After (too many failures lately, the JWKS unreachable)."""
    status = 401 if isinstance(reason, str) else status_of(reason)
    response = render(
        request, visit, "sign_in.html", status_code=status, next=after, error=str(reason)
    )
    wait = getattr(reason, "retry_after_s", None)
    if wait is not None:
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


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
