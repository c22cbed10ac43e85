"""GET /health."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import KeysDep, RuntimeDep
from api.schemas import HealthResponse

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
