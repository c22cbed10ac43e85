"""The sources page: the sources of steward.yaml, their schedules and recent runs.

An admin sees every declared source and each run's skipped files; anyone else sees the sources
holding a page they may read, with counts only (a skipped file's path may name a page they may
not read). Served at /source-syncs: /sources is the API's JSON listing.

An admin also gets "Sync now" per declared source: a form that starts the sync through the same
runs as POST /sources/{name}/sync (`app.sync_runs`), audited with the signed-in admin, then
comes back to this page with the run's id, where its status, progress and result show.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from app.sources import load_sources
from app.sync_runs import SyncRun, SyncRuns, start_for
from dashboard.visits import (
    RuntimeDep,
    VisitDep,
    form,
    redirect,
    refusal,
    render,
    sign_in_first,
)
from hygiene import report
from steward.access import Role
from steward.errors import BusyError, ConfigError, NotFoundError, StewardError

router = APIRouter(include_in_schema=False)

RECENT_RUNS = 5
CHANGES = ("new", "changed", "metadata_only", "moved", "unchanged", "deleted")


RunId = Annotated[str | None, Query(max_length=64)]


def _runs(request: Request) -> SyncRuns:
    runs: SyncRuns = request.app.state.sync_runs
    return runs


def _page(run_id: str) -> str:
    return f"/source-syncs?{urlencode({'run': run_id})}"


@router.get("/source-syncs", name="dashboard_sources")
def sources(request: Request, visit: VisitDep, runtime: RuntimeDep, run: RunId = None) -> Response:
    if visit.principal is None:
        return sign_in_first(request, visit)
    reader = visit.principal
    admin = reader.role >= Role.ADMIN
    # The sync an admin started from here (its id comes back in the address), as it stands.
    started: SyncRun | None = None
    if admin and run:
        try:
            started = _runs(request).get(run)
        except NotFoundError:
            started = None  # forgotten (a restart, or long ago): the runs below still show it
    path = runtime.settings.home.sources_file
    problem = None
    declared = {}
    try:
        declared = load_sources(path) if path.exists() else {}
    except ConfigError as error:
        problem = str(error) if admin else "steward.yaml could not be read"
    see = report.Filters(reader=reader)
    readable: dict[str, int] = {}
    for row in runtime.listings.view().rows.values():
        if see.readable(row):
            readable[row.source] = readable.get(row.source, 0) + 1
    names = sorted(set(declared) | set(readable)) if admin else sorted(readable)
    listed = []
    for name in names:
        config = declared.get(name)
        runs = runtime.catalog.runs_of(name, RECENT_RUNS)
        listed.append(
            {
                "name": name,
                "declared": config is not None,
                "connector": config.connector if config else None,
                "schedule": config.schedule if config else None,
                "documents": readable.get(name, 0),
                "runs": [
                    {
                        "run": run,
                        "changes": {k: int((run.summary or {}).get(k) or 0) for k in CHANGES},
                        "skipped": list((run.summary or {}).get("skipped") or []),
                        "error": (run.summary or {}).get("error"),
                    }
                    for run in runs
                ],
            }
        )
    return render(
        request,
        visit,
        "sources.html",
        sources=listed,
        started=started,
        asked=run if admin else None,
        problem=problem,
        admin=admin,
        changes=CHANGES,
        file=path.name,
    )


@router.post("/source-syncs/{name}/sync")
async def sync_now(
    name: Annotated[str, Path(min_length=1, max_length=200)],
    request: Request,
    visit: VisitDep,
    runtime: RuntimeDep,
) -> Response:
    """Start a sync of a declared source (admins); back to the page, following the run."""
    if visit.principal is None:
        return sign_in_first(request, visit)
    principal = visit.principal
    try:
        await form(request, visit)
        principal.require(Role.ADMIN)
        run = await run_in_threadpool(
            start_for, _runs(request), runtime.database, name, principal.actor(None)
        )
    except BusyError as error:
        # One of this source is under way already: follow that one instead.
        return redirect(request, visit, _page(error.running) + f"#source-{quote(name)}")
    except StewardError as error:
        return refusal(request, visit, error)
    return redirect(request, visit, _page(run.run_id) + f"#source-{quote(name)}")
