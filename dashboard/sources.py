"""The sources page: the sources of steward.yaml, their schedules and recent runs.

An admin sees every declared source and each run's skipped files; anyone else sees the sources
holding a page they may read, with counts only (a skipped file's path may name a page they may
not read). Served at /source-syncs: /sources is the API's JSON listing. Starting a sync
from here comes with the sync API.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.sources import load_sources
from dashboard.visits import RuntimeDep, VisitDep, render, sign_in_first
from hygiene import report
from steward.access import Role
from steward.errors import ConfigError

router = APIRouter(include_in_schema=False)

RECENT_RUNS = 5
CHANGES = ("new", "changed", "metadata_only", "moved", "unchanged", "deleted")


@router.get("/source-syncs", name="dashboard_sources")
def sources(request: Request, visit: VisitDep, runtime: RuntimeDep) -> Response:
    if visit.principal is None:
        return sign_in_first(request, visit)
    reader = visit.principal
    admin = reader.role >= Role.ADMIN
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
        problem=problem,
        admin=admin,
        changes=CHANGES,
        file=path.name,
    )
