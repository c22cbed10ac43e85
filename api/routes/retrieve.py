"""POST /retrieve."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import RetrieverDep
from api.schemas import RetrievedChunk, RetrieveRequest, RetrieveResponse
from steward.domain import SearchFilters

router = APIRouter(tags=["retrieval"])


def _filters(request: RetrieveRequest) -> SearchFilters | None:
    given = request.filters
    if given is None:
        return None
    sources = [given.source] if isinstance(given.source, str) else given.source or []
    return SearchFilters(
        sources=tuple(sources),
        source_uri_prefix=given.source_uri_prefix,
        updated_after=given.updated_after,
    )


@router.post("/retrieve", response_model=RetrieveResponse)
def retrieve(request: RetrieveRequest, retriever: RetrieverDep) -> RetrieveResponse:
    """The best chunks for a query: one slot per text, copies folded, stale knowledge demoted."""
    result = retriever.retrieve(request.query, request.top_k, request.mode, _filters(request))
    return RetrieveResponse(
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
                superseded_by=hit.superseded_by,
                duplicate_of=hit.duplicate_of,
                duplicates=list(hit.duplicates),
            )
            for hit in result.hits
        ],
        took_ms=round(result.took_ms, 3),
    )
