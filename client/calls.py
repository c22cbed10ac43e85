"""Each client call as one HTTP request and the way its answer is read (sync and async share it)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from pydantic import TypeAdapter

from client.models import (
    AuditPage,
    Comparison,
    ConflictPage,
    Document,
    DuplicatePage,
    EvalRun,
    FeedbackSummary,
    GoldenSet,
    Health,
    Mode,
    Resolution,
    RetrieveResponse,
    ScanRecord,
    ScanResult,
    Source,
    StalePage,
    SyncRun,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    method: str
    path: str
    read: Callable[[Any], T]  # the decoded JSON answer (None for 204) -> the result
    params: dict[str, Any] = field(default_factory=dict)
    body: Any = None


def _as(kind: Any) -> Callable[[Any], Any]:
    adapter: TypeAdapter[Any] = TypeAdapter(kind)
    return adapter.validate_python


def _none(_answer: Any) -> None:
    return None


def _id(value: str) -> str:
    return quote(value, safe="")


def _params(**given: Any) -> dict[str, Any]:
    """Query parameters, leaving out the unset ones (the server's defaults apply)."""
    return {
        name: (str(value).lower() if isinstance(value, bool) else value)
        for name, value in given.items()
        if value is not None
    }


_RETRIEVED = _as(RetrieveResponse)
_DOCUMENT = _as(Document)
_HEALTH = _as(Health)
_DUPLICATES = _as(DuplicatePage)
_STALE = _as(StalePage)
_CONFLICTS = _as(ConflictPage)
_AUDIT = _as(AuditPage)
_LAST_SCAN = _as(ScanRecord | None)
_SCAN = _as(ScanResult)
_GOLDEN_SET = _as(GoldenSet)
_GOLDEN_SETS = _as(list[GoldenSet])
_RUN = _as(EvalRun)
_RUNS = _as(list[EvalRun])
_COMPARISON = _as(Comparison)
_FEEDBACK_SUMMARY = _as(FeedbackSummary)
_SOURCES = _as(list[Source])
_SYNC_RUN = _as(SyncRun)


def retrieve(
    query: str,
    top_k: int,
    mode: Mode | None,
    source: str | Sequence[str] | None,
    source_uri_prefix: str | None,
    updated_after: datetime | None,
) -> Call[RetrieveResponse]:
    body: dict[str, Any] = {"query": query, "top_k": top_k}
    if mode is not None:
        body["mode"] = mode
    filters = _params(
        source=source if source is None or isinstance(source, str) else list(source),
        source_uri_prefix=source_uri_prefix,
        updated_after=updated_after.isoformat() if updated_after is not None else None,
    )
    if filters:
        body["filters"] = filters
    return Call("POST", "/retrieve", _RETRIEVED, body=body)


def document(doc_id: str) -> Call[Document]:
    return Call("GET", f"/documents/{_id(doc_id)}", _DOCUMENT)


def health() -> Call[Health]:
    return Call("GET", "/health", _HEALTH)


def duplicates(
    source: str | None, owner: str | None, limit: int, offset: int
) -> Call[DuplicatePage]:
    params = _params(source=source, owner=owner, limit=limit, offset=offset)
    return Call("GET", "/hygiene/duplicates", _DUPLICATES, params)


def stale(source: str | None, owner: str | None, limit: int, offset: int) -> Call[StalePage]:
    params = _params(source=source, owner=owner, limit=limit, offset=offset)
    return Call("GET", "/hygiene/stale", _STALE, params)


def conflicts(
    source: str | None,
    owner: str | None,
    kind: str | None,
    include_resolved: bool,
    limit: int,
    offset: int,
) -> Call[ConflictPage]:
    params = _params(
        source=source,
        owner=owner,
        kind=kind,
        include_resolved=include_resolved,
        limit=limit,
        offset=offset,
    )
    return Call("GET", "/hygiene/conflicts", _CONFLICTS, params)


def audit(limit: int, offset: int) -> Call[AuditPage]:
    return Call("GET", "/hygiene/audit", _AUDIT, _params(limit=limit, offset=offset))


def last_scan() -> Call[ScanRecord | None]:
    return Call("GET", "/hygiene/scans/last", _LAST_SCAN)


def scan() -> Call[ScanResult]:
    return Call("POST", "/hygiene/scan", _SCAN)


def verify(doc_id: str, actor: str, note: str | None) -> Call[None]:
    body = {"actor": actor, **_params(note=note)}
    return Call("POST", f"/documents/{_id(doc_id)}/verify", _none, body=body)


def deprecate(doc_id: str, actor: str, note: str | None) -> Call[None]:
    body = {"actor": actor, **_params(note=note)}
    return Call("POST", f"/documents/{_id(doc_id)}/deprecate", _none, body=body)


def not_duplicate(doc_a: str, doc_b: str, actor: str) -> Call[None]:
    body = {"doc_a": doc_a, "doc_b": doc_b, "actor": actor}
    return Call("POST", "/hygiene/not-duplicate", _none, body=body)


def resolve_conflict(conflict_id: str, resolution: Resolution, actor: str) -> Call[None]:
    body = {"resolution": resolution, "actor": actor}
    return Call("POST", f"/hygiene/conflicts/{_id(conflict_id)}/resolve", _none, body=body)


def add_golden_set(name: str, queries: Sequence[Mapping[str, Any]]) -> Call[GoldenSet]:
    body = {"name": name, "queries": [dict(q) for q in queries]}
    return Call("POST", "/eval/golden-sets", _GOLDEN_SET, body=body)


def golden_sets() -> Call[list[GoldenSet]]:
    return Call("GET", "/eval/golden-sets", _GOLDEN_SETS)


def evaluate(golden_set: str) -> Call[EvalRun]:
    return Call("POST", "/eval/runs", _RUN, body={"golden_set": golden_set})


def runs(golden_set: str | None, limit: int) -> Call[list[EvalRun]]:
    return Call("GET", "/eval/runs", _RUNS, _params(golden_set=golden_set, limit=limit))


def run(run_id: int) -> Call[EvalRun]:
    return Call("GET", f"/eval/runs/{int(run_id)}", _RUN)


def compare(run_a: int, run_b: int) -> Call[Comparison]:
    return Call("GET", "/eval/compare", _COMPARISON, {"a": int(run_a), "b": int(run_b)})


def accept_run(run_id: int, actor: str) -> Call[None]:
    return Call("POST", f"/eval/runs/{int(run_id)}/accept", _none, body={"actor": actor})


def regressions(golden_set: str | None, limit: int) -> Call[list[EvalRun]]:
    params = _params(golden_set=golden_set, limit=limit)
    return Call("GET", "/eval/regressions", _RUNS, params)


def probes(size: int, rebuild: bool) -> Call[EvalRun]:
    return Call("POST", "/eval/probes", _RUN, body={"size": size, "rebuild": rebuild})


def _feedback_id(answer: Any) -> int:
    return int(answer["feedback_id"])


def feedback(query_id: str, chunk_id: str, relevant: bool, note: str | None) -> Call[int]:
    body = {"query_id": query_id, "chunk_id": chunk_id, "relevant": relevant, **_params(note=note)}
    return Call("POST", "/feedback", _feedback_id, body=body)


def feedback_summary() -> Call[FeedbackSummary]:
    return Call("GET", "/feedback/summary", _FEEDBACK_SUMMARY)


def sources() -> Call[list[Source]]:
    return Call("GET", "/sources", _SOURCES)


def start_sync(source: str, allow_deletes: bool) -> Call[SyncRun]:
    params = _params(allow_deletes=allow_deletes or None)
    return Call("POST", f"/sources/{_id(source)}/sync", _SYNC_RUN, params)


def sync_run(source: str, run_id: str) -> Call[SyncRun]:
    return Call("GET", f"/sources/{_id(source)}/sync/{_id(run_id)}", _SYNC_RUN)
