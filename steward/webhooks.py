"""Outgoing webhooks: events POSTed as signed JSON by a thread, retried with backoff.

Each event is one JSON body `{"event", "id", "created_at", "data"}` sent with the headers
`X-Steward-Event`, `X-Steward-Delivery` (the id: the same on every retry, so a receiver can drop
a repeat), `X-Steward-Timestamp` (Unix seconds) and, with a secret,
`X-Steward-Signature: sha256=<hex HMAC-SHA256 of "{timestamp}.{body}">`: the timestamp is
signed too, so a receiver that refuses old timestamps cannot be replayed an old body.

`Webhooks.send` queues and returns: a sync, a scan or an evaluation never waits on a receiver.
A network error, a 5xx or a 429 is retried after a doubling wait (`STEWARD_WEBHOOK_ATTEMPTS`
tries in all); any other answer ends the delivery. Every attempt goes only where the outbound
policy allows (steward/outbound.py), redirects are not followed, and a failure is logged with
the receiver's host alone: a hook's URL often carries its token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from steward.domain import rfc3339, utc_now
from steward.errors import OutboundError
from steward.outbound import OutboundPolicy, PinnedTransport
from steward.settings import Settings

log = logging.getLogger("steward.webhooks")

SYNC_FINISHED = "steward.sync.finished"
SYNC_FAILED = "steward.sync.failed"
EVALUATION_REGRESSION = "steward.evaluation.regression"
NEW_CONFLICTS = "steward.hygiene.new_conflicts"
EVENTS = (SYNC_FINISHED, SYNC_FAILED, EVALUATION_REGRESSION, NEW_CONFLICTS)

SIGNATURE_HEADER = "X-Steward-Signature"
TIMESTAMP_HEADER = "X-Steward-Timestamp"
# Answers worth another try: the receiver is overloaded or failing, not refusing the body.
_RETRIED = {429} | set(range(500, 600))


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: `sha256=` and the hex HMAC-SHA256 of "{timestamp}.{body}"."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def host_of(url: str) -> str:
    """What a log line may say of a receiver: its host and port, no credentials, path or query."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        shown = f"[{host}]" if ":" in host else host
        return f"{shown}:{parts.port}" if parts.port else shown
    except ValueError:
        return "?"


@dataclass(frozen=True)
class Endpoint:
    """A receiver and the events it takes (empty: every event); its URL is never shown."""

    url: str = field(repr=False)
    events: frozenset[str] = frozenset()

    def wants(self, event: str) -> bool:
        return not self.events or event in self.events


@dataclass(frozen=True)
class _Delivery:
    endpoint: Endpoint
    event: str
    delivery_id: str
    body: bytes


class Webhooks:
    """The receivers of one process and the thread that delivers to them (started on the first
    event); close it with the process."""

    def __init__(
        self,
        endpoints: Iterable[Endpoint] = (),
        secret: str | None = None,
        outbound: OutboundPolicy | None = None,
        attempts: int = 5,
        backoff_s: float = 1.0,
        backoff_max_s: float = 60.0,
        timeout_s: float = 10.0,
    ) -> None:
        self.endpoints = tuple(endpoints)
        self._secret = secret
        self._outbound = outbound or OutboundPolicy()
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        self._timeout_s = timeout_s
        self._queue: queue.Queue[_Delivery | None] = queue.Queue()
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._http: httpx.Client | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Webhooks:
        """The receivers STEWARD_WEBHOOK_* and STEWARD_EVAL_WEBHOOK_URL name."""
        config = settings.webhook
        endpoints = []
        if config.url is not None:
            endpoints.append(Endpoint(config.url.get_secret_value(), frozenset(config.events)))
        if settings.evaluation.webhook_url:
            # The older setting: regressions alone, now signed and retried like the rest.
            endpoints.append(
                Endpoint(settings.evaluation.webhook_url, frozenset({EVALUATION_REGRESSION}))
            )
        return cls(
            endpoints,
            config.secret.get_secret_value() if config.secret else None,
            settings.outbound.policy(),
            config.attempts,
            config.backoff_s,
            config.backoff_max_s,
            config.timeout_s,
        )

    def __repr__(self) -> str:
        return f"Webhooks({len(self.endpoints)} endpoint(s), signed={self._secret is not None})"

    def send(self, event: str, data: Mapping[str, Any]) -> int:
        """Queue `event` for every receiver that takes it; how many deliveries were queued.

        Never blocks on a receiver and never raises: the work that triggered it stands.
        """
        wanted = [endpoint for endpoint in self.endpoints if endpoint.wants(event)]
        if not wanted or self._closing.is_set():
            return 0
        delivery_id = str(uuid.uuid4())
        envelope = {
            "event": event,
            "id": delivery_id,
            "created_at": rfc3339(utc_now()),
            "data": data,
        }
        body = json.dumps(envelope, separators=(",", ":"), default=str).encode()
        self._start()
        for endpoint in wanted:
            self._queue.put(_Delivery(endpoint, event, delivery_id, body))
        return len(wanted)

    def deliver(self, endpoint: Endpoint, event: str, delivery_id: str, body: bytes) -> bool:
        """One delivery with its retries, in the calling thread; whether the receiver took it."""
        host = host_of(endpoint.url)
        for attempt in range(1, self._attempts + 1):
            try:
                self._outbound.check(endpoint.url)
            except OutboundError as error:
                # Not retried: the policy will not change. The reason names the host, not the URL.
                log.warning("webhook %s to %s not sent: %s", event, host, error.reason)
                return False
            timestamp = int(time.time())
            headers = {
                "Content-Type": "application/json",
                "X-Steward-Event": event,
                "X-Steward-Delivery": delivery_id,
                TIMESTAMP_HEADER: str(timestamp),
            }
            if self._secret is not None:
                headers[SIGNATURE_HEADER] = sign(self._secret, timestamp, body)
            wait = min(self._backoff_max_s, self._backoff_s * 2 ** (attempt - 1))
            try:
                answer = self._client().post(endpoint.url, content=body, headers=headers)
            except httpx.HTTPError as error:
                # httpx's own message repeats the URL: only the error's kind is logged.
                reason = type(error).__name__
            else:
                if answer.status_code < 300:
                    return True
                reason = f"answered {answer.status_code}"
                if answer.status_code not in _RETRIED:
                    log.warning("webhook %s to %s failed: %s", event, host, reason)
                    return False
                wait = max(wait, min(self._backoff_max_s, _retry_after(answer)))
            if attempt == self._attempts:
                break
            log.info("webhook %s to %s: %s, next try in %.1f s", event, host, reason, wait)
            if self._closing.wait(wait):
                break
        log.warning("webhook %s to %s failed after %d tries: %s", event, host, attempt, reason)
        return False

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued delivery is done; whether they all were within `timeout`."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued for up to `timeout` seconds, then stop; later events drop."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            self.flush(timeout)
            self._closing.set()
            self._queue.put(None)
            thread.join(timeout=self._timeout_s + 1)
        self._closing.set()
        if self._http is not None:
            self._http.close()
            self._http = None

    def _client(self) -> httpx.Client:
        if self._http is None:
            # Sent to the address the policy checked (DNS rebinding), redirects not followed.
            self._http = httpx.Client(
                timeout=self._timeout_s,
                follow_redirects=False,
                transport=PinnedTransport(self._outbound),
            )
        return self._http

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="steward-webhooks", daemon=True
                )
                self._thread.start()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:  # close() asked the thread to stop
                    return
                if not self._closing.is_set():
                    self.deliver(item.endpoint, item.event, item.delivery_id, item.body)
            except Exception:  # a delivery must never end the thread that serves the others
                log.exception("webhook delivery failed unexpectedly")
            finally:
                self._queue.task_done()


def _retry_after(answer: httpx.Response) -> float:
    try:
        return max(0.0, float(answer.headers.get("Retry-After", "0")))
    except ValueError:
        return 0.0  # an HTTP date: the doubling wait stands
