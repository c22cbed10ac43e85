"""When the HTTP client tries a call again: on 429 and 503, after a backoff or the Retry-After."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from client.errors import ApiError


@dataclass(frozen=True, slots=True)
class Retry:
    """Retry `statuses` up to `retries` times; between tries, wait the server's Retry-After, or
    `backoff_s` doubled on each try, never more than `max_backoff_s`.

    A server that asks for a longer wait than `max_backoff_s` is not retried: the error (with
    its `retry_after_s`) goes to the caller, who can schedule better than a sleeping thread.
    `Retry(retries=0)` turns retrying off.
    """

    retries: int = 3
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    statuses: frozenset[int] = frozenset({429, 503})

    def wait_s(self, tried: int, error: ApiError) -> float | None:
        """Seconds to wait before the next try after `tried` retries; None: give up."""
        if error.status_code not in self.statuses or tried >= self.retries:
            return None
        if error.retry_after_s is not None:
            return error.retry_after_s if error.retry_after_s <= self.max_backoff_s else None
        return float(min(self.backoff_s * 2**tried, self.max_backoff_s))


def retry_after_s(value: str | None, now: datetime | None = None) -> float | None:
    """A Retry-After header in seconds: delta-seconds or an HTTP date; None when absent or bad."""
    if value is None or not value.strip():
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
