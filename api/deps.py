"""Dependencies of the routes, as `Annotated` aliases; tests swap them with dependency_overrides."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Header, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.metrics import ServiceMetrics
from api.rate_limit import RateLimiter
from app.runtime import Runtime
from app.sync_runs import SyncRuns
from retrieval.search import Retriever
from steward.access import Principal, Role
from steward.authentication import Authenticator
from steward.errors import RateLimitedError, TooManyFailuresError


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_retriever(request: Request) -> Retriever:
    retriever: Retriever = request.app.state.retriever
    return retriever


def get_sync_runs(request: Request) -> SyncRuns:
    runs: SyncRuns = request.app.state.sync_runs
    return runs


def get_metrics(request: Request) -> ServiceMetrics:
    metrics: ServiceMetrics = request.app.state.metrics
    return metrics


def get_keys(request: Request) -> Authenticator:
    keys: Authenticator = request.app.state.authenticator
    return keys


def get_rate_limiter(request: Request) -> RateLimiter | None:
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    return limiter


# auto_error=False: a missing key is ours to refuse (401 with WWW-Authenticate), not FastAPI's 403.
_bearer = HTTPBearer(
    auto_error=False,
    description="An API key (STEWARD_AUTH_KEYS_FILE) or a JWT from single sign-on "
    "(STEWARD_AUTH_JWKS_FILE / _URL).",
)

# The header an app key names its end user's groups in, comma-separated.
ON_BEHALF_HEADER = "X-Steward-On-Behalf-Of-Groups"
_on_behalf = Header(
    alias=ON_BEHALF_HEADER,
    max_length=8192,
    description="Only for an app key: the end user's groups (comma-separated); the answer "
    "reads what they may read, within the app's own groups. Absent: public documents only.",
)


# ...or names the end user, whose groups the access settings declare (STEWARD_AUTH_USERS).
ON_BEHALF_USER_HEADER = "X-Steward-On-Behalf-Of-User"
_on_behalf_user = Header(
    alias=ON_BEHALF_USER_HEADER,
    max_length=256,
    description="Only for an app key: the end user, by id, whose declared groups the answer "
    "reads with (within the app's own groups). Not with X-Steward-On-Behalf-Of-Groups.",
)


def _groups(header: str | None) -> list[str] | None:
    if header is None:
        return None
    return [group.strip() for group in header.split(",") if group.strip()]


def client_address(request: Request) -> str | None:
    """The caller's address (behind a trusted proxy, the one it forwarded: uvicorn's
    FORWARDED_ALLOW_IPS), which failed authentications are counted against."""
    return request.client.host if request.client is not None else None


def get_principal(
    request: Request,
    keys: Annotated[Authenticator, Depends(get_keys)],
    limiter: Annotated[RateLimiter | None, Depends(get_rate_limiter)],
    metrics: Annotated[ServiceMetrics, Depends(get_metrics)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    on_behalf_of: Annotated[str | None, _on_behalf] = None,
    on_behalf_of_user: Annotated[str | None, _on_behalf_user] = None,
) -> Principal:
    """The caller named by `Authorization: Bearer <key or JWT>` (the local admin without access
    control), as the end user an app names, within its request rate."""
    try:
        principal = keys.resolve(
            credentials.credentials if credentials is not None else None, client_address(request)
        )
    except TooManyFailuresError:
        metrics.observe_refusal("auth_failures")
        raise
    principal = keys.end_user(
        principal, _groups(on_behalf_of), on_behalf_of_user, ON_BEHALF_USER_HEADER
    )
    if limiter is not None:
        try:
            limiter.take(principal.name)
        except RateLimitedError:
            metrics.observe_refusal("rate_limit")
            raise
    return principal


def _guard(role: Role) -> Callable[[Principal], Principal]:
    def guard(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        principal.require(role)
        return principal

    guard.__name__ = f"require_{role.name.lower()}"
    return guard


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
RetrieverDep = Annotated[Retriever, Depends(get_retriever)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]
SyncRunsDep = Annotated[SyncRuns, Depends(get_sync_runs)]
KeysDep = Annotated[Authenticator, Depends(get_keys)]

# The caller, refused unless it holds the role (each role includes the ones below it).
Reader = Annotated[Principal, Depends(_guard(Role.READER))]
Owner = Annotated[Principal, Depends(_guard(Role.OWNER))]
Admin = Annotated[Principal, Depends(_guard(Role.ADMIN))]

# The largest integer the catalog stores (SQLite and PostgreSQL BIGINT); a larger one in a
# request would overflow in the driver and answer 500, so it is refused as a 422 here.
MAX_ROW_INT = 2**63 - 1

# A listing's page size and start.
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=MAX_ROW_INT)]

# A stored row's number in the path (an evaluation run).
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_INT)]
# The same, as a query parameter (GET /eval/compare?a=&b=).
RowIdQuery = Annotated[int, Query(ge=1, le=MAX_ROW_INT)]
