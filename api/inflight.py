"""A bound on the expensive requests served at once; one more is refused, not queued."""

from __future__ import annotations

from collections import Counter

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

# The routes whose work is CPU-bound (an embedding, a search, a scan, an evaluation run).
EXPENSIVE = frozenset(
    {
        ("POST", "/retrieve"),
        ("POST", "/eval/runs"),
        ("POST", "/eval/probes"),
        ("POST", "/hygiene/scan"),
    }
)
# Used until the lifespan has put the runtime (and its settings) on the app.
DEFAULT_MAX_INFLIGHT = 32
# What a refused client is asked to wait: a retrieval takes tens of milliseconds, so a slot
# is free well before; whole seconds are all Retry-After can say.
RETRY_AFTER_S = 1


def _limit_of(scope: Scope) -> int:
    runtime = getattr(scope["app"].state, "runtime", None)
    return runtime.settings.api.max_inflight if runtime is not None else DEFAULT_MAX_INFLIGHT


class InFlightBound:
    """Answers 503 with Retry-After to a request of an expensive route beyond
    STEWARD_API_MAX_INFLIGHT of that route in flight.

    Without it, requests past the worker threads wait in line and every caller's latency grows
    with the line; with it, the excess learns at once to come back. The count lives on the
    event loop (one thread), so it needs no lock; the slot is held until the answer is sent.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._busy: Counter[tuple[str, str]] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = (scope.get("method", ""), scope.get("path", ""))
        if scope["type"] != "http" or route not in EXPENSIVE:
            await self.app(scope, receive, send)
            return
        limit = _limit_of(scope)
        if limit and self._busy[route] >= limit:
            detail = (
                f"{route[1]} is serving its limit of {limit} requests at once "
                "(STEWARD_API_MAX_INFLIGHT); retry shortly"
            )
            headers = {"Retry-After": str(RETRY_AFTER_S)}
            metrics = getattr(scope["app"].state, "metrics", None)
            if metrics is not None:
                metrics.observe_refusal("in_flight")
            await JSONResponse({"detail": detail}, status_code=503, headers=headers)(
                scope, receive, send
            )
            return
        self._busy[route] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self._busy[route] -= 1
