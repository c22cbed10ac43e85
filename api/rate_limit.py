"""A request rate per principal: one token bucket each, refilled continuously."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from steward.errors import RateLimitedError
from steward.settings import ApiSettings

# Buckets are forgotten once this many principals are tracked (full ones first), so a stream
# of single-use token subjects cannot grow the table without end.
MAX_TRACKED = 10_000


class RateLimiter:
    """`per_minute` requests a minute per principal, up to `burst` of them at once.

    `take` runs in the server's worker threads, hence the lock; it holds only arithmetic.
    """

    def __init__(
        self,
        per_minute: int,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = per_minute / 60.0  # tokens a second
        self._capacity = float(burst or per_minute)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # name → (tokens, as of)
        self._lock = threading.Lock()

    def take(self, principal: str) -> None:
        """Spend one of the principal's tokens, or raise RateLimitedError with the wait."""
        with self._lock:
            now = self._clock()
            tokens, since = self._buckets.get(principal, (self._capacity, now))
            tokens = min(self._capacity, tokens + (now - since) * self._rate)
            if tokens < 1.0:
                self._buckets[principal] = (tokens, now)
                raise RateLimitedError(principal, (1.0 - tokens) / self._rate)
            if principal not in self._buckets and len(self._buckets) >= MAX_TRACKED:
                self._forget(now)
            self._buckets[principal] = (tokens - 1.0, now)

    def _forget(self, now: float) -> None:
        """Drop the buckets that have refilled (they equal a fresh one), else the oldest half."""
        full = [
            name
            for name, (tokens, since) in self._buckets.items()
            if tokens + (now - since) * self._rate >= self._capacity
        ]
        if not full:
            by_age = sorted(self._buckets, key=lambda name: self._buckets[name][1])
            full = by_age[: len(by_age) // 2]
        for name in full:
            del self._buckets[name]


def rate_limiter(settings: ApiSettings) -> RateLimiter | None:
    """The limiter STEWARD_API_RATE_LIMIT_PER_MINUTE asks for; None when it is unset."""
    if settings.rate_limit_per_minute is None:
        return None
    return RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
