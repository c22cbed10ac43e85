"""GET /sources: the sources of steward.yaml with their documents and last run."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import Admin, RuntimeDep
from api.schemas import SourceItem
from app.sources import listing

router = APIRouter(tags=["sources"])


@router.get("/sources", response_model=list[SourceItem])
def sources(_caller: Admin, runtime: RuntimeDep) -> list[dict[str, Any]]:
    """The declared sources (400 when the sources file is missing or invalid)."""
    return listing(runtime.settings.home.sources_file, runtime.catalog)
