"""Waiting for a sync run: poll it until it ends, fail clearly when it ends badly or too late.

`SyncWait` keeps the deadline and says what each reading of the run means, so every client
waits, and fails, alike; `wait_blocking` is the loop of the blocking clients (the async one
sleeps with asyncio).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from client.errors import SyncFailedError, SyncTimeoutError
from client.models import SyncRun

# A sync of a large source takes minutes; polling twice a second costs the server nothing.
DEFAULT_TIMEOUT_S = 600.0
DEFAULT_POLL_S = 0.5


@dataclass(slots=True)
class SyncWait:
    """One wait for one run: `settled(run)` reads a poll; `pause_s()` says how long to sleep."""

    timeout_s: float = DEFAULT_TIMEOUT_S
    poll_s: float = DEFAULT_POLL_S
    deadline: float = field(init=False)

    def __post_init__(self) -> None:
        if self.timeout_s < 0 or self.poll_s <= 0:
            raise ValueError(
                f"wait_for_sync: timeout_s must be >= 0 and poll_s > 0 "
                f"(got timeout_s={self.timeout_s}, poll_s={self.poll_s})"
            )
        self.deadline = time.monotonic() + self.timeout_s

    def settled(self, run: SyncRun) -> SyncRun | None:
        """The run once it ended well; None while it runs with time left to wait.

        SyncFailedError when it ended failed or interrupted, SyncTimeoutError when it is still
        running at the deadline.
        """
        if run.status == "ok":
            return run
        if run.done:
            raise SyncFailedError(
                f"the sync of source {run.source!r} (run {run.run_id}) ended {run.status}: "
                f"{run.error or 'no reason given'}",
                run,
            )
        if time.monotonic() >= self.deadline:
            raise SyncTimeoutError(
                f"the sync of source {run.source!r} (run {run.run_id}) was still {run.status} "
                f"after {self.timeout_s:g} s; it goes on, follow it with sync_run()",
                run,
            )
        return None

    def pause_s(self) -> float:
        """How long to sleep before the next poll: the poll interval, never past the deadline."""
        return max(0.0, min(self.poll_s, self.deadline - time.monotonic()))


def wait_blocking(read: Callable[[], SyncRun], timeout_s: float, poll_s: float) -> SyncRun:
    """Read the run until it settles (`SyncWait.settled`), sleeping between reads."""
    wait = SyncWait(timeout_s, poll_s)
    while (done := wait.settled(read())) is None:
        time.sleep(wait.pause_s())
    return done
