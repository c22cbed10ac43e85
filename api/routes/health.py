"""GET /health, /health/live and /health/ready: public, like any load balancer's probe."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import KeysDep, RuntimeDep
from api.schemas import HealthResponse, LiveResponse, ReadyResponse
from app.readiness import readiness

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthResponse)
def health(runtime: RuntimeDep, keys: KeysDep) -> HealthResponse:
    """Liveness plus what is being served."""
    return HealthResponse(
        status="ok",
        backend=runtime.settings.index.backend,
        model=runtime.embedder.name,
        documents=runtime.catalog.count_documents(),
        chunks=runtime.store.count(),
        access_control="on" if keys.enabled else "off",
    )


@router.get("/health/live", response_model=LiveResponse)
def live() -> LiveResponse:
    """Liveness: the process answers. Nothing is checked, so a slow catalog never restarts it."""
    return LiveResponse(status="ok")


@router.get(
    "/health/ready",
    response_model=ReadyResponse,
    responses={503: {"model": ReadyResponse, "description": "the catalog or the index is not"}},
)
def ready(runtime: RuntimeDep) -> ReadyResponse | JSONResponse:
    """Readiness: the catalog takes a write now and the index answers; 503 naming which not."""
    found = readiness(runtime.database, runtime.store)
    if found.status == "ready":
        return ReadyResponse(**found.as_dict())
    return JSONResponse(status_code=503, content=found.as_dict(), headers={"Retry-After": "5"})
