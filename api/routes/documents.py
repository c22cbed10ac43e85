"""GET /documents/{doc_id}."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Reader, RuntimeDep
from api.schemas import NOT_FOUND, DocumentChunk, DocumentResponse
from hygiene import report
from steward.domain import rfc3339
from steward.errors import NotFoundError

router = APIRouter(tags=["documents"])


@router.get(
    "/documents/{doc_id}",
    response_model=DocumentResponse,
    responses=NOT_FOUND,
)
def get_document(doc_id: str, caller: Reader, runtime: RuntimeDep) -> DocumentResponse:
    """A document's catalog record, its chunks in reading order and its hygiene state."""
    row = runtime.catalog.document(doc_id)
    # Unreadable answers as missing: a 403 would confirm that the document exists.
    if row is None or not caller.can_read(row.acl):
        raise NotFoundError("document", doc_id)
    chunks = runtime.store.document_chunks(doc_id)
    return DocumentResponse(
        doc_id=row.doc_id,
        source=row.source,
        source_uri=row.source_uri,
        title=row.title,
        owner=row.owner,
        review_by=row.review_by,
        tags=row.tags,
        acl=row.acl,
        updated_at=rfc3339(row.updated_at),
        first_seen=rfc3339(row.first_seen),
        last_ingested=rfc3339(row.last_ingested),
        content_hash=row.content_hash,
        size=row.size,
        chunks=[
            DocumentChunk(
                chunk_id=c.chunk_id,
                ordinal=c.payload.ordinal,
                section=c.payload.section,
                text=c.payload.text,
                content_hash=c.payload.content_hash,
            )
            for c in chunks
        ],
        hygiene=report.document_state(runtime.database, doc_id, caller),
    )
