"""The evaluation pages: each golden set's runs as a chart, a run's worst queries, two runs
compared query by query, and accepting a run as its set's baseline (an admin's form).

Scores are aggregates any reader may see (as in GET /eval/runs); a query judged against a page
the visitor may not read is left out of the per-query lists (`evaluation.per_query`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from app.runtime import Runtime
from dashboard.charts import RunPoint, run_chart
from dashboard.paging import PAGE_SIZE, Offset, pages
from dashboard.visits import (
    RuntimeDep,
    VisitDep,
    form,
    redirect,
    refusal,
    render,
    sign_in_first,
)
from evaluation import per_query
from evaluation.metrics import HEADLINE
from evaluation.runs import EvalRecords, RunSummary, compare
from steward.access import Principal, Role
from steward.errors import StewardError

router = APIRouter(include_in_schema=False)

# Runs drawn per golden set: the newest ones.
CHART_RUNS = 50
RunId = Annotated[int, Path(ge=1, le=2**31)]
RunQuery = Annotated[int, Query(ge=1, le=2**31)]
Metric = Annotated[str, Query(pattern=r"^[a-z@0-9_]{1,40}$")]


def _point(run: RunSummary) -> RunPoint:
    return RunPoint(
        run_id=run.run_id,
        when=run.started_at.strftime("%Y-%m-%d %H:%M"),
        metrics=dict(run.metrics or {}),
        regression=bool(run.regression),
        baseline=run.accepted_at is not None,
    )


@router.get("/evaluation", name="dashboard_evaluation")
def evaluation(
    request: Request,
    visit: VisitDep,
    runtime: RuntimeDep,
    accepted: Annotated[int | None, Query(ge=1, le=2**31)] = None,
) -> Response:
    """Every golden set: its runs over time (nDCG@10, recall@10, MRR@10), regressions and
    baselines marked, and the list of its runs."""
    if visit.principal is None:
        return sign_in_first(request, visit)
    records = EvalRecords(runtime.database)
    sets = []
    for golden in records.golden_sets():
        recent = records.runs(golden.name, CHART_RUNS)
        good = [r for r in reversed(recent) if r.status == "ok" and r.metrics]
        baseline = records.baseline(golden.name)
        sets.append(
            {
                "name": golden.name,
                "queries": golden.queries,
                "runs": recent,
                "chart": run_chart([_point(r) for r in good], HEADLINE) if good else None,
                "baseline": baseline.run_id if baseline else None,
            }
        )
    return render(
        request,
        visit,
        "evaluation.html",
        sets=sets,
        metrics=HEADLINE,
        accepted=accepted,
        chart_runs=CHART_RUNS,
    )


def _hidden(runtime: Runtime, records: EvalRecords, golden_set: str, reader: Principal) -> set[str]:
    """The set's queries judged against a page the reader may not read (none for an admin)."""
    if reader.search_groups is None:
        return set()
    queries = per_query.golden_queries(records, golden_set)
    return per_query.hidden_queries(queries, runtime.listings.view().rows, reader)


@router.get("/evaluation/runs/{run_id}", name="dashboard_run")
def run_page(
    run_id: RunId,
    request: Request,
    visit: VisitDep,
    runtime: RuntimeDep,
    metric: Metric = HEADLINE[0],
) -> Response:
    """One run: its scores, what it measured, and its worst queries."""
    if visit.principal is None:
        return sign_in_first(request, visit)
    records = EvalRecords(runtime.database)
    try:
        run = records.run(run_id)
    except StewardError as error:
        return refusal(request, visit, error)
    hidden = _hidden(runtime, records, run.golden_set, visit.principal)
    previous = [r for r in records.runs(run.golden_set, CHART_RUNS) if r.run_id < run_id]
    return render(
        request,
        visit,
        "run.html",
        run=run,
        metric=metric,
        metrics=HEADLINE,
        worst=per_query.worst(records, run_id, hidden, metric),
        hidden=len(hidden),
        previous=previous[0].run_id if previous else None,
        baseline=records.baseline(run.golden_set),
    )


@router.get("/evaluation/compare", name="dashboard_compare")
def compare_page(
    request: Request,
    visit: VisitDep,
    runtime: RuntimeDep,
    a: RunQuery,
    b: RunQuery,
    metric: Metric = HEADLINE[0],
    offset: Offset = 0,
) -> Response:
    """Run b against run a: each metric with its paired t-test, then every query's change."""
    if visit.principal is None:
        return sign_in_first(request, visit)
    records = EvalRecords(runtime.database)
    try:
        found = compare(records, a, b)
        run_b = records.run(b)
        hidden = _hidden(runtime, records, run_b.golden_set, visit.principal)
        rows = per_query.changes(records, a, b, hidden, metric)
    except StewardError as error:
        return refusal(request, visit, error)
    return render(
        request,
        visit,
        "compare.html",
        comparison=found,
        a=a,
        b=b,
        metric=metric,
        metrics=HEADLINE,
        changes=rows[offset : offset + PAGE_SIZE],
        pages=pages(len(rows), offset),
        query=f"a={a}&b={b}&metric={metric}&",
        golden_set=run_b.golden_set,
    )


@router.post("/evaluation/runs/{run_id}/accept")
async def accept(run_id: RunId, request: Request, visit: VisitDep, runtime: RuntimeDep) -> Response:
    """Make a finished run its golden set's baseline (an admin's decision, audited)."""
    if visit.principal is None:
        return sign_in_first(request, visit)
    principal = visit.principal
    try:
        await form(request, visit)
        principal.require(Role.ADMIN)
        await run_in_threadpool(EvalRecords(runtime.database).accept, run_id, principal.actor(None))
    except StewardError as error:
        return refusal(request, visit, error)
    return redirect(request, visit, f"/evaluation?accepted={run_id}")
