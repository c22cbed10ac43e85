"""The client's exceptions, one tree; both implementations raise the same one for one failure.

ClientError                    base: every failure of a client call (a StewardError)
├── TransportError             no answer: the server is unreachable or the connection broke
│   └── RequestTimeoutError    no answer within the client's timeout
├── SyncError                  a sync waited for did not end well: `run`, as last seen
│   ├── SyncFailedError        it ended failed or interrupted (`run.error` says why)
│   └── SyncTimeoutError       it had not ended when the wait's timeout ran out
└── ApiError                   an answer that refuses the call: `status_code`, `detail`,
    │                          `retry_after_s` (what the server asked for, when it did)
    ├── BadRequestError        400  a setting or a value the server cannot work with
    ├── AuthenticationError    401  no valid API key
    ├── PermissionDeniedError  403  the key may not do this
    ├── NotFoundError          404  a document, conflict, golden set or run that does not exist
    ├── ConflictError          409  the work asked for is already running (a source's sync)
    ├── InvalidRequestError    422  a request that fails validation; `fields` names them
    ├── RateLimitError         429  too many requests (retried first, see `Retry`)
    └── ServerError            500  and every other 5xx
        └── UnavailableError   503  the index or the catalog is unavailable (retried first)

`STATUS` maps the kernel's errors (steward/errors.py) to status codes: `api/` answers with it,
the in-process client raises the error the HTTP client would read from that answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from steward import errors as kernel
from steward.errors import StewardError

if TYPE_CHECKING:
    from client.models import SyncRun


class ClientError(StewardError):
    """Base of every error a Steward client raises."""


class TransportError(ClientError):
    """No answer: the server cannot be reached, or the connection broke."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"no answer from {url}: {reason}")
        self.url = url
        self.reason = reason


class RequestTimeoutError(TransportError):
    """No answer within the client's timeout."""


class SyncError(ClientError):
    """A sync waited for (`wait_for_sync`) did not end well; `run` is the run as last seen."""

    def __init__(self, message: str, run: SyncRun) -> None:
        super().__init__(message)
        self.run = run


class SyncFailedError(SyncError):
    """The sync ended failed, or interrupted by its process stopping; `run.error` says why."""


class SyncTimeoutError(SyncError):
    """The sync had not ended when the wait's timeout ran out (it goes on running)."""


class ApiError(ClientError):
    """The call was refused; `detail` is the server's own message."""

    status_code: int = 500

    def __init__(
        self,
        detail: str,
        *,
        status_code: int | None = None,
        retry_after_s: float | None = None,
        fields: Sequence[FieldError] = (),
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status_code is not None:
            self.status_code = status_code
        self.retry_after_s = retry_after_s
        self.fields = list(fields)


class FieldError:
    """One invalid field of a request: where (`loc`, as FastAPI names it) and why."""

    __slots__ = ("loc", "message")

    def __init__(self, loc: Sequence[str | int], message: str) -> None:
        self.loc = tuple(loc)
        self.message = message

    @property
    def field(self) -> str:
        """The field's dotted name, without FastAPI's `body`/`query` prefix."""
        names = [str(part) for part in self.loc]
        if names and names[0] in {"body", "query", "path"}:
            names = names[1:]
        return ".".join(names)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldError) and (self.field, self.message) == (
            other.field,
            other.message,
        )

    def __hash__(self) -> int:
        return hash((self.field, self.message))

    def __repr__(self) -> str:
        return f"FieldError({self.field!r}, {self.message!r})"


class BadRequestError(ApiError):
    status_code = 400


class AuthenticationError(ApiError):
    status_code = 401


class PermissionDeniedError(ApiError):
    status_code = 403


class NotFoundError(ApiError):
    status_code = 404


class ConflictError(ApiError):
    status_code = 409


class InvalidRequestError(ApiError):
    status_code = 422


class RateLimitError(ApiError):
    status_code = 429


class ServerError(ApiError):
    status_code = 500


class UnavailableError(ServerError):
    status_code = 503


_BY_STATUS: dict[int, type[ApiError]] = {
    kind.status_code: kind
    for kind in (
        BadRequestError,
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        ConflictError,
        InvalidRequestError,
        RateLimitError,
        ServerError,
        UnavailableError,
    )
}

# The kernel's errors as HTTP status codes, most specific first.
STATUS: list[tuple[type[StewardError], int]] = [
    (kernel.NotFoundError, 404),
    (kernel.BusyError, 409),
    (kernel.UnauthenticatedError, 401),
    (kernel.ForbiddenError, 403),
    (kernel.KeySetError, 503),
    (kernel.RateLimitedError, 429),
    (kernel.QueryError, 422),
    (kernel.ConfigError, 400),
    (kernel.StoreError, 503),
    (kernel.CatalogError, 503),
    (kernel.EmbeddingError, 503),
    (StewardError, 500),
]


def status_of(error: StewardError) -> int:
    """The status code the API answers `error` with."""
    return next(code for kind, code in STATUS if isinstance(error, kind))


def api_error(
    status_code: int,
    detail: str,
    *,
    retry_after_s: float | None = None,
    fields: Sequence[FieldError] = (),
) -> ApiError:
    """The error of the tree for a status code (an unknown 4xx is a plain ApiError)."""
    kind = _BY_STATUS.get(status_code) or (ServerError if status_code >= 500 else ApiError)
    return kind(detail, status_code=status_code, retry_after_s=retry_after_s, fields=fields)


def from_kernel(error: StewardError) -> ApiError:
    """What the HTTP client would raise had the server answered `error`."""
    if isinstance(error, kernel.QueryError):
        return api_error(422, str(error), fields=[FieldError(("body", error.field), error.message)])
    return api_error(status_of(error), str(error))


def from_validation(errors: Sequence[Mapping[str, Any]]) -> InvalidRequestError:
    """A request that fails its model's validation, as the server's 422 would name it."""
    fields = [FieldError(("body", *item["loc"]), str(item["msg"])) for item in errors]
    detail = "; ".join(f"{f.field}: {f.message}" for f in fields)
    return InvalidRequestError(detail, fields=fields)
