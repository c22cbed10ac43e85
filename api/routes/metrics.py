"""GET /metrics (Prometheus text format)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from api.deps import MetricsDep, Reader

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(_caller: Reader, service: MetricsDep) -> PlainTextResponse:
    """Retrieve latency and zero results, evaluation scores, syncs, hygiene items, feedback."""
    # The 0.0.4 text format, as before prometheus_client made 1.0.0 its latest.
    return PlainTextResponse(generate_latest(service.registry), media_type=CONTENT_TYPE_PLAIN_0_0_4)
