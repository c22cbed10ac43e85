"""A JSON API client for the SaaS connectors (Confluence, Notion, Drive, SharePoint).

What every such connector needs of its HTTP client, in one place: the outbound policy checked
before each request and the connection pinned to the address it checked (steward/outbound.py,
`PinnedTransport`); no redirect followed, except the one a download asks for, checked like any
request and sent without our headers to another host; `429` answered by waiting what
`Retry-After` says; `5xx` and network failures retried with exponential backoff; a bound on
requests in flight across threads; and a `SourceError` naming the source and the reason when the
API refuses or keeps failing: `401` says the credentials are wrong or expired and names where
they come from, never what they are. A `SourceError` while listing means nothing is pruned
(ingest/pipeline.py); a 401 with `refresh` set asks for a new access token once, first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import httpx

from steward.domain import utc_now
from steward.errors import ApiRefusedError, OutboundError, SourceError
from steward.outbound import OutboundPolicy, PinnedTransport
from steward.redact import redact_url

USER_AGENT = "StewardBot/0.1 (+knowledge-base sync)"
log = logging.getLogger("steward.connectors.api")

T = TypeVar("T")
R = TypeVar("R")


def api_time(value: str | None) -> datetime:
    """A time as SaaS APIs write it (RFC 3339, `Z` or an offset) in UTC; the epoch when absent.

    A time without a zone is taken as UTC.
    """
    if not value:
        return datetime.fromtimestamp(0, UTC)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try: attempts per request, the backoff after a 5xx, the longest wait."""

    attempts: int = 5
    backoff_s: float = 0.5  # doubled after each failed attempt
    max_wait_s: float = 60.0  # a Retry-After beyond this fails the request instead


class ApiClient:
    """Requests to one API on behalf of one source, with its credentials in the headers.

    `credentials` says where the credentials came from ("the token in $CONFLUENCE_TOKEN"), for
    the message of a 401; the headers themselves never appear in an error or a log line.
    """

    def __init__(
        self,
        source: str,
        headers: dict[str, str],
        credentials: str,
        outbound: OutboundPolicy | None = None,
        retry: RetryPolicy | None = None,
        concurrency: int = 4,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        refresh: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        self.source = source
        # New headers when the server says 401 (a short-lived access token expired): asked once
        # per request, which is then sent again; without it a 401 fails at once.
        self.refresh = refresh
        self.credentials = credentials
        self.outbound = outbound or OutboundPolicy()
        self.retry = retry or RetryPolicy()
        self.concurrency = max(1, concurrency)
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._count = threading.Lock()
        self._client = httpx.Client(
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **headers},
            timeout=timeout_s,
            follow_redirects=False,
            # Connects to the address the policy checked, so a name that resolves elsewhere
            # at connect time (DNS rebinding) cannot reach this machine or its network.
            transport=transport or PinnedTransport(self.outbound),
        )
        self.requests = 0  # sent, retries included (the tests and the benchmark read it)

    def close(self) -> None:
        self._client.close()

    def authorize(self, headers: dict[str, str]) -> None:
        """Send these headers from now on (a new access token)."""
        self._client.headers.update(headers)

    def get_json(self, url: str, params: dict[str, Any] | None = None) -> Any:
        return self._json("GET", url, params=params)

    def post_json(self, url: str, body: dict[str, Any]) -> Any:
        return self._json("POST", url, body=body)

    def post_form(self, url: str, form: dict[str, str]) -> Any:
        return self._json("POST", url, form=form)

    def get_bytes(
        self, url: str, params: dict[str, Any] | None = None, redirect: bool = False
    ) -> bytes:
        """A file's bytes. With `redirect`, one redirect is followed (a download link that
        sends to a signed storage URL): checked against the outbound policy, and sent without
        our headers when it leads to another host."""
        try:
            return self._send("GET", url, params, None, None).content
        except ApiRefusedError as error:
            if not (redirect and error.location):
                raise
            target = urljoin(url, error.location)
        if urlsplit(target).netloc == urlsplit(url).netloc:
            return self._send("GET", target, None, None, None).content
        bare = ApiClient(
            self.source, {}, self.credentials, self.outbound, self.retry, 1, transport=None
        )
        try:
            return bare._send("GET", target, None, None, None).content
        finally:
            bare.close()

    def map(self, function: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """`function` over `items` on at most `concurrency` threads, results in order.

        The first exception raised by any call is raised here (the others are dropped).
        """
        listed = list(items)
        if self.concurrency == 1 or len(listed) <= 1:
            return [function(item) for item in listed]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(function, listed))

    # -- one request, retried ---------------------------------------------------------------

    def _json(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        form: dict[str, str] | None = None,
    ) -> Any:
        response = self._send(method, url, params, body, form)
        try:
            return response.json()
        except ValueError:
            raise SourceError(
                self.source, f"{redact_url(url)}: the answer is not JSON (HTTP 200)"
            ) from None

    def _send(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None,
        body: dict[str, Any] | None,
        form: dict[str, str] | None = None,
    ) -> httpx.Response:
        try:
            self.outbound.check(url)
        except OutboundError as error:
            raise SourceError(self.source, str(error)) from None
        shown = redact_url(url)
        wait = self.retry.backoff_s
        last = ""
        refreshed = False
        for attempt in range(1, self.retry.attempts + 1):
            try:
                with self._slots:
                    with self._count:
                        self.requests += 1
                    response = self._client.request(
                        method, url, params=params, json=body, data=form
                    )
            except OutboundError as error:  # the pinned transport's own check refused
                raise SourceError(self.source, str(error)) from None
            except httpx.HTTPError as error:
                last = f"{error.__class__.__name__}: {error}"
            else:
                status = response.status_code
                if status < 300:
                    return response
                if status == 401 and self.refresh is not None and not refreshed:
                    refreshed = True
                    self.authorize(self.refresh())
                    continue
                if status == 429:
                    last = "HTTP 429 (rate limited)"
                    pause = self._retry_after(response, shown, wait)
                    log.info(
                        "source %r: rate limited by %s, waiting %.1f s", self.source, shown, pause
                    )
                    time.sleep(pause)
                    continue  # a 429 is the server pacing us, not a failure: no backoff growth
                if status < 500:
                    reason = self._refusal(status, shown, response)
                    refused = ApiRefusedError(self.source, reason, status)
                    if 300 <= status < 400:
                        refused.location = response.headers.get("location")
                    raise refused
                last = f"HTTP {status}"
                if attempt < self.retry.attempts and response.headers.get("retry-after"):
                    # A 503 that says when to come back (Atlassian's do): that long, not ours.
                    time.sleep(self._retry_after(response, shown, wait))
                    continue
            if attempt < self.retry.attempts:
                log.info(
                    "source %r: %s from %s, retrying in %.1f s", self.source, last, shown, wait
                )
                time.sleep(wait)
                wait *= 2
        raise SourceError(self.source, f"{shown}: {last} after {self.retry.attempts} attempts")

    def _retry_after(self, response: httpx.Response, shown: str, default: float) -> float:
        """Seconds the server asks us to wait (a number or an HTTP date); our backoff if none."""
        value = response.headers.get("retry-after", "").strip()
        pause = default
        if value:
            try:
                pause = float(value)
            except ValueError:
                try:
                    pause = (parsedate_to_datetime(value) - utc_now()).total_seconds()
                except (TypeError, ValueError):
                    pause = default
        pause = max(0.0, pause)
        if pause > self.retry.max_wait_s:
            raise SourceError(
                self.source,
                f"{shown}: rate limited (HTTP 429), Retry-After {pause:.0f} s is longer than "
                f"the {self.retry.max_wait_s:.0f} s this sync waits; try again later",
            )
        return pause

    def _refusal(self, status: int, shown: str, response: httpx.Response) -> str:
        if status == 401:
            return (
                f"{shown}: the credentials were refused (HTTP 401): {self.credentials} is wrong, "
                "expired or revoked"
            )
        if status == 403:
            return (
                f"{shown}: forbidden (HTTP 403): {self.credentials} may not read this; grant "
                "the account or integration access"
            )
        if 300 <= status < 400:
            where = redact_url(response.headers.get("location", "")) or "nowhere"
            return f"{shown}: redirected (HTTP {status}) to {where}; check the source's url"
        return f"{shown}: HTTP {status}"
