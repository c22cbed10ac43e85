"""GET /metrics (Prometheus text format)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from api.deps import RuntimeDep
from api.metrics import render

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request, runtime: RuntimeDep) -> PlainTextResponse:
    """Retrieve latency and zero results, evaluation scores, syncs, hygiene items, feedback."""
    return PlainTextResponse(
        render(request.app.state.metrics, runtime.catalog),
        media_type="text/plain; version=0.0.4",
    )
