"""/eval/*: golden sets, evaluation runs and their comparison."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Admin, Limit, Owner, Reader, RowId, RowIdQuery, RuntimeDep
from api.schemas import (
    NOT_FOUND,
    Comparison,
    EvalRun,
    FeedbackSaved,
    FeedbackSummary,
    GoldenSetItem,
    GoldenSetSaved,
)
from evaluation.feedback import FeedbackRecords
from evaluation.golden import parse_records
from evaluation.runs import EvalRecords, compare, evaluate_golden, probe_run
from hygiene.report import unreadable_ids

router = APIRouter(tags=["evaluation"])


class GoldenSetBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=200)
    queries: list[dict[str, Any]] = Field(
        ...,
        min_length=1,
        description='[{"query", "relevant": [{"source_uri" | "doc_id", "grade"}], "id"?}]',
    )


class RunBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    golden_set: str = Field(..., min_length=1)


@router.post("/eval/golden-sets", status_code=201, response_model=GoldenSetSaved)
def add_golden_set(body: GoldenSetBody, _caller: Admin, runtime: RuntimeDep) -> dict[str, Any]:
    """Create or replace a golden set; judgements name documents, never chunks."""
    queries = parse_records(body.queries)
    limit = runtime.settings.evaluation.max_golden_queries
    EvalRecords(runtime.database).save_golden(body.name, queries, limit)
    return {"name": body.name, "queries": len(queries)}


@router.get("/eval/golden-sets", response_model=list[GoldenSetItem])
def list_golden_sets(_caller: Reader, runtime: RuntimeDep) -> list[dict[str, Any]]:
    return [found.as_dict() for found in EvalRecords(runtime.database).golden_sets()]


@router.post("/eval/runs", status_code=201, response_model=EvalRun, responses=NOT_FOUND)
async def run(body: RunBody, _caller: Owner, runtime: RuntimeDep) -> dict[str, Any]:
    """Evaluate a golden set against the index now; the stored run."""
    found = await run_in_threadpool(evaluate_golden, runtime, body.golden_set, "api")
    return found.as_dict()


@router.get("/eval/runs", response_model=list[EvalRun], response_model_exclude_unset=True)
def runs(
    _caller: Reader,
    runtime: RuntimeDep,
    golden_set: Annotated[str | None, Query(min_length=1)] = None,
    limit: Limit = 50,
) -> list[dict[str, Any]]:
    """Runs, newest first, with the index state each measured."""
    return [found.as_dict() for found in EvalRecords(runtime.database).runs(golden_set, limit)]


@router.get("/eval/runs/{run_id}", response_model=EvalRun, responses=NOT_FOUND)
def one_run(run_id: RowId, _caller: Reader, runtime: RuntimeDep) -> dict[str, Any]:
    return EvalRecords(runtime.database).run(run_id).as_dict()


@router.get("/eval/compare", response_model=Comparison, responses=NOT_FOUND)
def compare_runs(
    _caller: Reader, runtime: RuntimeDep, a: RowIdQuery, b: RowIdQuery
) -> dict[str, Any]:
    """b - a per metric, with a paired t-test over the queries both runs scored."""
    return compare(EvalRecords(runtime.database), a, b).as_dict()


class AcceptBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Who accepts; recorded only without access control (else the API key's name).",
    )


@router.post("/eval/runs/{run_id}/accept", status_code=204, responses=NOT_FOUND)
def accept(run_id: RowId, body: AcceptBody, caller: Admin, runtime: RuntimeDep) -> None:
    """Make this run its golden set's baseline (audited: GET /hygiene/audit)."""
    EvalRecords(runtime.database).accept(run_id, caller.actor(body.actor))


@router.get("/eval/regressions", response_model=list[EvalRun], response_model_exclude_unset=True)
def regressions(
    _caller: Reader,
    runtime: RuntimeDep,
    golden_set: Annotated[str | None, Query(min_length=1)] = None,
    limit: Limit = 50,
) -> list[dict[str, Any]]:
    """Runs that fell significantly below their baseline, by more than the margin."""
    found = EvalRecords(runtime.database).regressions(golden_set, limit)
    return [r.as_dict() for r in found]


class FeedbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query_id: str = Field(..., min_length=1, description="From the /retrieve answer.")
    chunk_id: str = Field(..., min_length=1)
    relevant: bool
    note: str | None = Field(None, max_length=2000)


@router.post("/feedback", status_code=201, response_model=FeedbackSaved, responses=NOT_FOUND)
def add_feedback(body: FeedbackBody, _caller: Reader, runtime: RuntimeDep) -> dict[str, Any]:
    """Judge one result of an answer: relevant or not."""
    feedback_id = FeedbackRecords(runtime.database).add(
        body.query_id, body.chunk_id, body.relevant, body.note
    )
    return {"feedback_id": feedback_id}


@router.get("/feedback/summary", response_model=FeedbackSummary)
def feedback_summary(caller: Reader, runtime: RuntimeDep) -> dict[str, Any]:
    """Precision from feedback per source, documents repeatedly judged not relevant, query log."""
    records = FeedbackRecords(runtime.database)
    hidden = unreadable_ids(runtime.database, caller)
    return {
        "precision_by_source": records.precision_by_source(),
        "disliked_documents": [
            d for d in records.disliked_documents() if d["doc_id"] not in hidden
        ],
        **records.query_stats(),
    }


class ProbeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: int = Field(50, ge=1, le=1000)
    rebuild: bool = Field(False, description="Sample new chunks (a new baseline follows).")


@router.post("/eval/probes", status_code=201, response_model=EvalRun)
async def run_probes(body: ProbeBody, _caller: Owner, runtime: RuntimeDep) -> dict[str, Any]:
    """Run the probe set (built on first use): known-item queries from sampled chunks."""
    found = await run_in_threadpool(probe_run, runtime, body.size, body.rebuild, "api")
    return found.as_dict()
