"""POST /retrieve."""

from __future__ import annotations

import uuid
from dataclasses import replace

from fastapi import APIRouter

from api.deps import MetricsDep, Reader, RetrieverDep, RuntimeDep
from api.schemas import RetrievedChunk, RetrieveRequest, RetrieveResponse
from app.runtime import Runtime
from steward.access import Principal
from steward.domain import ScoredChunk, SearchFilters

router = APIRouter(tags=["retrieval"])


def _filters(request: RetrieveRequest, caller: Principal) -> SearchFilters | None:
    """The request's filters plus the caller's groups, applied inside the index query (so
    unreadable chunks never take a place of the top_k)."""
    given = request.filters
    groups = caller.search_groups
    if given is None:
        return None if groups is None else SearchFilters(groups=groups)
    sources = [given.source] if isinstance(given.source, str) else given.source or []
    found = SearchFilters(
        sources=tuple(sources),
        source_uri_prefix=given.source_uri_prefix,
        updated_after=given.updated_after,
    )
    return found if groups is None else replace(found, groups=groups)


def _unreadable(runtime: Runtime, caller: Principal, hits: list[ScoredChunk]) -> set[str]:
    """Documents a hit names (its canonical copy, its successor) that the caller may not read.

    The hits themselves are readable (the index query was filtered); the documents they point
    to need not be, and their ids would confirm that they exist.
    """
    if caller.search_groups is None:
        return set()
    named = {d for hit in hits for d in (hit.duplicate_of, hit.superseded_by, *hit.duplicates) if d}
    # One query for every named document's groups (not a document and its chunk list each).
    acls = runtime.catalog.acls(sorted(named))
    return {doc_id for doc_id, acl in acls.items() if not caller.can_read(acl)}


@router.post("/retrieve", response_model=RetrieveResponse)
def retrieve(
    request: RetrieveRequest,
    caller: Reader,
    retriever: RetrieverDep,
    runtime: RuntimeDep,
    metrics: MetricsDep,
) -> RetrieveResponse:
    """The best chunks for a query: one slot per text, copies folded, stale knowledge demoted.

    The answer's `query_id` names it for POST /feedback, so its log entry is written before
    the answer leaves (an insert; about a millisecond on SQLite).
    """
    result = retriever.retrieve(
        request.query, request.top_k, request.mode, _filters(request, caller)
    )
    query_id = str(uuid.uuid4())
    metrics.observe_retrieve(result.took_ms / 1000, len(result.hits))
    runtime.query_log.record(
        query_id,
        request.query,
        request.mode or retriever.settings.mode,
        request.top_k,
        round(result.took_ms, 3),
        result.hits,
        top_cosine=result.top_cosine,
    )
    hidden = _unreadable(runtime, caller, result.hits)
    return RetrieveResponse(
        query_id=query_id,
        results=[
            RetrievedChunk(
                chunk_id=hit.chunk_id,
                doc_id=hit.payload.doc_id,
                source=hit.payload.source,
                source_uri=hit.payload.source_uri,
                title=hit.payload.title,
                section=hit.payload.section,
                text=hit.payload.text,
                score=hit.score,
                updated_at=hit.payload.updated_at,
                flags=list(hit.flags),
                superseded_by=None if hit.superseded_by in hidden else hit.superseded_by,
                duplicate_of=None if hit.duplicate_of in hidden else hit.duplicate_of,
                duplicates=[d for d in hit.duplicates if d not in hidden],
            )
            for hit in result.hits
        ],
        took_ms=round(result.took_ms, 3),
    )
