"""The sources of steward.yaml: their last runs, a sync started on request, and its run."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status

from api.deps import Admin, RuntimeDep, SyncRunsDep
from api.schemas import SourceItem, SyncRunItem
from app.sources import listing
from steward.errors import NotFoundError

router = APIRouter(tags=["sources"])

SourceName = Annotated[str, Path(min_length=1, max_length=200)]
RunId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("/sources", response_model=list[SourceItem])
def sources(_caller: Admin, runtime: RuntimeDep) -> list[dict[str, Any]]:
    """The declared sources (400 when the sources file is missing or invalid)."""
    return listing(runtime.settings.home.sources_file, runtime.catalog)


@router.post(
    "/sources/{name}/sync", status_code=status.HTTP_202_ACCEPTED, response_model=SyncRunItem
)
def start_sync(
    name: SourceName,
    _caller: Admin,
    runs: SyncRunsDep,
    response: Response,
    allow_deletes: bool = False,
) -> dict[str, Any]:
    """Start a sync of the source; its run at once (404 for an undeclared source, 409 while
    one of it is running). Follow it at the `Location` answered."""
    run = runs.start(name, allow_deletes)
    response.headers["Location"] = f"/sources/{name}/sync/{run.run_id}"
    return run.as_dict()


@router.get("/sources/{name}/sync/{run_id}", response_model=SyncRunItem)
def sync_run(name: SourceName, run_id: RunId, _caller: Admin, runs: SyncRunsDep) -> dict[str, Any]:
    """A sync run: queued, running (with its progress), ok or failed (with its counts)."""
    run = runs.get(run_id)
    if run.source != name:
        raise NotFoundError("sync run", run_id)
    return run.as_dict()
