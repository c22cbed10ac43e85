"""The standard HTTP request metrics: requests by method, route template and status, their
duration, and those in progress (on the app's own registry, api/metrics.py).

Labelled by the route's template (`/documents/{doc_id}`), never the raw path: one series per
route, however many ids are asked for. A path no route matches counts as `<unmatched>`.
"""

from __future__ import annotations

import re
import time
from typing import Any

from starlette.routing import Match, Mount, Route, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import ServiceMetrics

UNMATCHED = "<unmatched>"


def _templates(app: Any) -> list[tuple[re.Pattern[str], str]]:
    """The app's path templates as patterns, from its OpenAPI paths (FastAPI keeps included
    routers out of `app.router.routes`); built at the first request and kept on the app."""
    found: list[tuple[re.Pattern[str], str]] | None = getattr(app.state, "route_templates", None)
    if found is None:
        found = [(compile_path(path)[0], path) for path in app.openapi().get("paths", {})]
        app.state.route_templates = found
    return found


def route_template(scope: Scope) -> str:
    """The template of the route a request goes to, before it is routed: an API route, then a
    route or mount of the app itself (/mcp, static files); `<unmatched>` for none."""
    app = scope["app"]
    path = scope.get("path", "")
    for pattern, template in _templates(app):
        if pattern.match(path):
            return template
    for route in app.router.routes:
        if isinstance(route, Mount | Route) and route.matches(scope)[0] != Match.NONE:
            return str(route.path_format)
    return UNMATCHED


def routed_template(scope: Scope, before: str) -> str:
    """The template of the route that answered (Starlette and FastAPI put it in the scope),
    else what was found before routing (a request refused before it, a 404)."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else before


class HttpMetrics:
    """Counts every HTTP request into `metrics` (a pure ASGI middleware: streaming answers and
    the refusals of the middlewares inside it are counted too)."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "")
        route = route_template(scope)
        status = 500  # unless an answer starts: an exception that escapes is a 500
        in_progress = self.metrics.http_in_progress.labels(method, route)

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        started = time.perf_counter()
        in_progress.inc()
        try:
            await self.app(scope, receive, sending)
        finally:
            in_progress.dec()
            answered = routed_template(scope, route)
            seconds = time.perf_counter() - started
            self.metrics.http_duration.labels(method, answered).observe(seconds)
            self.metrics.http_requests.labels(method, answered, str(status)).inc()
