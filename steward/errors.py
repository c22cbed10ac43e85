"""Steward's exceptions, one tree; `api/errors.py` maps them to HTTP status codes.

StewardError
├── ConfigError          a setting or a command-line value is invalid
│   └── OutboundError    a request to a URL the operator has not allowed (steward/outbound.py)
├── SourceError          a source cannot be listed (nothing is pruned after one)
│   └── ApiRefusedError  a source's API refused a request (3xx, 4xx); `status`
├── DocumentError        one document cannot be ingested; it is skipped with `reason`
├── StoreError           the vector store failed or refused an operation
│   └── IndexLockedError the embedded index is open in another process
├── CatalogError         the catalog is missing, locked or of another schema
├── LlmError             an LLM endpoint failed or answered out of shape
├── EmbeddingError       the embedding server failed or answered out of shape (after retries)
├── NotFoundError        an id that does not exist
├── BusyError            the work asked for is already running (a sync of that source)
├── AccessError          the caller may not do this
│   ├── UnauthenticatedError  no valid API key or bearer token (401)
│   ├── ForbiddenError        a valid key whose role is too low (403)
│   └── KeySetError           the signing keys (JWKS) of bearer tokens cannot be read (503)
├── RateLimitedError     a principal above its request rate; `retry_after_s` (429)
│   └── TooManyFailuresError  a client address after repeated failed authentications (429)
└── QueryError           a query that cannot be answered as asked
"""

from __future__ import annotations

import math


class StewardError(Exception):
    """Base of every error Steward raises on purpose."""


class ConfigError(StewardError):
    """A setting or a command-line value is invalid."""


class OutboundError(ConfigError):
    """A request to a URL the operator has not allowed; `url` is redacted.

    `unresolved` is set when the host did not resolve: a network failure rather than a refusal,
    which a crawl treats like any other (the listing is incomplete, nothing is pruned).
    """

    def __init__(self, url: str, reason: str, unresolved: bool = False) -> None:
        super().__init__(f"refusing to request {url}: {reason}")
        self.url = url
        self.reason = reason
        self.unresolved = unresolved


class SourceError(StewardError):
    """A source cannot be listed or read as a whole."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"source {source!r}: {reason}")
        self.source = source
        self.reason = reason


class ApiRefusedError(SourceError):
    """A source's API answered a 3xx or a 4xx other than 429 (connectors/api_client.py)."""

    def __init__(self, source: str, reason: str, status: int) -> None:
        super().__init__(source, reason)
        self.status = status
        self.location: str | None = None  # where a 3xx pointed


class DocumentError(StewardError):
    """One document cannot be ingested; the rest of the run goes on."""

    def __init__(self, source_uri: str, reason: str) -> None:
        super().__init__(f"{source_uri}: {reason}")
        self.source_uri = source_uri
        self.reason = reason


class StoreError(StewardError):
    """The vector store failed or refused an operation."""


class IndexLockedError(StoreError):
    """The embedded index is already open in another process."""

    def __init__(self, path: str, holder: str) -> None:
        super().__init__(
            f"the embedded index at {path} is in use by {holder}; stop that process first "
            "(one process owns an embedded index; use the distributed mode to share one)"
        )
        self.path = path
        self.holder = holder


class CatalogError(StewardError):
    """The catalog cannot be opened or used."""


class LlmError(StewardError):
    """An LLM endpoint failed, or answered in a shape that is not a chat completion."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"LLM at {url}: {reason}")
        self.url = url
        self.reason = reason


class EmbeddingError(StewardError):
    """The embedding server failed (after its retries), or answered out of shape."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"embedding server at {url}: {reason}")
        self.url = url
        self.reason = reason


class NotFoundError(StewardError):
    """An id that does not exist."""

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"{kind} {ident!r} not found")
        self.kind = kind
        self.ident = ident


class BusyError(StewardError):
    """The work asked for is already running, and only one may run at a time (409)."""

    def __init__(self, what: str, running: str) -> None:
        super().__init__(f"{what} is already running (run {running}); wait for it to finish")
        self.what = what
        self.running = running


class AccessError(StewardError):
    """The caller may not do this."""


class UnauthenticatedError(AccessError):
    """No API key or bearer token, or one that is unknown, revoked, expired or forged."""


class ForbiddenError(AccessError):
    """A known caller whose role is below what the action needs."""

    def __init__(self, principal: str, needed: str) -> None:
        super().__init__(f"{principal!r} may not do this: it needs the {needed} role")
        self.principal = principal
        self.needed = needed


class KeySetError(AccessError):
    """The JWKS that bearer tokens are checked against cannot be read; retry later."""

    retry_after_s = 5.0


class RateLimitedError(StewardError):
    """A principal asked more often than STEWARD_API_RATE_LIMIT_PER_MINUTE allows."""

    def __init__(self, principal: str, retry_after_s: float) -> None:
        super().__init__(
            f"{principal!r} sent too many requests; retry in {retry_after_s:.0f} s "
            "(STEWARD_API_RATE_LIMIT_PER_MINUTE)"
        )
        self.principal = principal
        self.retry_after_s = retry_after_s


class TooManyFailuresError(RateLimitedError):
    """A client address whose authentications failed too often lately; its credentials are
    not checked until `retry_after_s` has passed (STEWARD_AUTH_MAX_FAILURES)."""

    def __init__(self, retry_after_s: float) -> None:
        StewardError.__init__(
            self,
            f"too many failed authentications from this address; retry in "
            f"{max(1, math.ceil(retry_after_s))} s (STEWARD_AUTH_MAX_FAILURES)",
        )
        self.principal = ""
        self.retry_after_s = retry_after_s


class QueryError(StewardError):
    """A query that cannot be answered as asked."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
