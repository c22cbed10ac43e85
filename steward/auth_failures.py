"""Failed authentications counted per client address, so a guesser is slowed to a trickle.

After `max_failures` failures from one address within `window_s` seconds, that address is
refused (TooManyFailuresError, 429 with Retry-After) before its credentials are even checked,
until the oldest of those failures leaves the window. A success neither counts nor clears the
count: one valid key must not buy a guesser a fresh allowance.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from steward.errors import TooManyFailuresError

# Addresses are forgotten once this many are tracked (those with no failure in the window
# first, else the quietest half), so a stream of addresses cannot grow the table without end.
MAX_TRACKED = 10_000


class FailureThrottle:
    """The recent failures of each client address; `check` before a credential is read,
    `failed` after one is refused. Both run in the server's worker threads, hence the lock."""

    def __init__(
        self,
        max_failures: int,
        window_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float] | None:
        times = self._failures.get(address)
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def check(self, address: str) -> None:
        """Raise TooManyFailuresError (with the wait) if the address failed too often lately."""
        with self._lock:
            now = self._clock()
            times = self._recent(address, now)
            if times is not None and len(times) >= self.max_failures:
                raise TooManyFailuresError(times[0] + self.window_s - now)

    def failed(self, address: str) -> int:
        """Count a failure of the address; how many it has within the window now."""
        with self._lock:
            now = self._clock()
            times = self._recent(address, now)
            if times is None:
                if len(self._failures) >= MAX_TRACKED:
                    self._forget(now)
                times = self._failures[address] = deque()
            times.append(now)
            # Only the last `max_failures` decide when the address may try again.
            while len(times) > self.max_failures:
                times.popleft()
            return len(times)

    def _forget(self, now: float) -> None:
        quiet = [a for a, t in self._failures.items() if not t or t[-1] <= now - self.window_s]
        if not quiet:
            by_last = sorted(self._failures, key=lambda a: self._failures[a][-1])
            quiet = by_last[: len(by_last) // 2]
        for address in quiet:
            del self._failures[address]
