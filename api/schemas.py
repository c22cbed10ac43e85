"""Request and response bodies of the HTTP API.

The evaluation runs, their comparison and the feedback summary are answered with the client's
models (client/models.py), one definition for both sides of the wire; the other models here are
mirrored there, and tests/test_client.py checks that the two agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from client.models import Comparison, EvalRun, FeedbackSummary

__all__ = ["Comparison", "EvalRun", "FeedbackSummary"]  # the client's, answered by /eval, /feedback


def _encodable(value: str) -> str:
    """Refuse a lone surrogate ("\\ud800" is valid JSON, but no UTF-8 can carry it)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # The index's filter would fail to encode it and answer 500. A plain `str` field is
        # checked by pydantic already; a `str | list[str]` one is not.
        raise ValueError("is not valid Unicode text (it holds a lone surrogate)") from None
    return value


class RetrieveFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str | list[str] | None = Field(None, description="One source name or several.")
    source_uri_prefix: str | None = Field(None, min_length=1)
    updated_after: datetime | None = Field(None, description="RFC 3339; naive means UTC.")

    @field_validator("updated_after")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("is outside the years 1 to 9999 in UTC") from None

    @field_validator("source")
    @classmethod
    def _sources(cls, value: str | list[str] | None) -> str | list[str] | None:
        names = [value] if isinstance(value, str) else value or []
        if any(not name.strip() for name in names):
            raise ValueError("source names must not be empty")
        for name in names:
            _encodable(name)
        return value


class RetrieveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(..., max_length=4000)
    top_k: int = Field(10, ge=1, le=100, strict=True)  # strict: `true` is not 1
    mode: Literal["hybrid", "dense", "sparse"] | None = Field(
        None, description="Defaults to the server's STEWARD_RETRIEVAL_MODE (hybrid)."
    )
    filters: RetrieveFilters | None = None

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value


class RetrievedChunk(BaseModel):
    chunk_id: str
    doc_id: str
    source: str
    source_uri: str
    title: str
    section: str
    text: str
    score: float
    updated_at: str
    flags: list[str] = Field(
        description="stale, deprecated, superseded, conflict, duplicate_of (see hygiene)"
    )
    superseded_by: str | None = None
    duplicate_of: str | None = None
    duplicates: list[str] = Field(
        default_factory=list, description="Copies folded into this result (doc ids)."
    )


class RetrieveResponse(BaseModel):
    query_id: str = Field(description="Names this answer for POST /feedback.")
    results: list[RetrievedChunk]
    took_ms: float


class DocumentChunk(BaseModel):
    chunk_id: str
    ordinal: int
    section: str
    text: str
    content_hash: str


class DocumentResponse(BaseModel):
    doc_id: str
    source: str
    source_uri: str
    title: str
    owner: str | None
    review_by: str | None
    tags: list[str]
    acl: list[str]
    updated_at: str
    first_seen: str
    last_ingested: str
    content_hash: str
    size: int
    chunks: list[DocumentChunk]
    hygiene: DocumentHygiene | None = None


class HealthResponse(BaseModel):
    status: Literal["ok"]
    backend: str
    model: str
    documents: int
    chunks: int
    access_control: Literal["on", "off"] = "off"


class LiveResponse(BaseModel):
    """The process serves requests (GET /health/live)."""

    status: Literal["ok"]


class ReadyResponse(BaseModel):
    """Whether the process can do its work (GET /health/ready): 200 ready, 503 not."""

    status: Literal["ready", "unavailable"]
    # "ok", or why not: the catalog locked by another writer or read-only, the index closed.
    catalog: str
    index: str


class ErrorResponse(BaseModel):
    detail: str


# `responses=NOT_FOUND` on a route that answers 404 for an unknown id or name.
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}}


# -- hygiene ---------------------------------------------------------------------------------


class DocRef(BaseModel):
    doc_id: str
    source_uri: str | None
    title: str | None = None
    owner: str | None = None


class ClusterMember(DocRef):
    similarity: float


class DuplicateCluster(BaseModel):
    canonical: DocRef
    members: list[ClusterMember]


class StaleItem(DocRef):
    reason: Literal["expired", "superseded", "deprecated", "negative_feedback"]
    since: str | None
    superseded_by: DocRef | None = None
    by: str | None = None
    not_relevant: int | None = None  # negative_feedback: how many times


class ConflictSide(DocRef):
    span: str
    value: str


class ConflictItem(BaseModel):
    id: str
    a: ConflictSide
    b: ConflictSide
    kind: str
    confidence: float
    newer: Literal["a", "b"] | None
    suggested: Literal["keep_a", "keep_b", "review"]
    resolution: Literal["keep_a", "keep_b", "both_valid"] | None
    resolved_by: str | None
    resolved_at: str | None


class DuplicatePage(BaseModel):
    items: list[DuplicateCluster]
    total: int
    limit: int
    offset: int


class StalePage(BaseModel):
    items: list[StaleItem]
    total: int
    limit: int
    offset: int


class ConflictPage(BaseModel):
    items: list[ConflictItem]
    total: int
    limit: int
    offset: int


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Who acts; recorded only without access control (else the API key's name).",
    )
    note: str | None = Field(None, max_length=2000)


class NotDuplicate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    doc_a: str = Field(..., min_length=1)
    doc_b: str = Field(..., min_length=1)
    actor: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Who acts; recorded only without access control (else the API key's name).",
    )


class Resolve(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: Literal["keep_a", "keep_b", "both_valid"]
    actor: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Who acts; recorded only without access control (else the API key's name).",
    )


class AuditEntry(BaseModel):
    at: str
    actor: str
    action: str
    subject: str
    detail: dict[str, object]


class AuditPage(BaseModel):
    items: list[AuditEntry]
    limit: int
    offset: int


class DocumentHygiene(BaseModel):
    state: Literal["verified", "unverified", "expired", "deprecated"]
    expires_at: str | None
    last_verified_at: str | None
    verified_by: str | None
    deprecated_at: str | None
    duplicate_of: str | None
    duplicates: list[str]
    superseded_by: str | None
    conflicts: list[str]
    scanned_at: str | None


class ScanResponse(BaseModel):
    scan_id: int
    summary: dict[str, object]


class ScanRecord(BaseModel):
    """The last finished scan."""

    scan_id: int
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None
    summary: dict[str, object] | None


# -- sources ---------------------------------------------------------------------------------


class IngestRunItem(BaseModel):
    run_id: int
    started_at: datetime
    finished_at: datetime | None
    status: str
    duration_s: float | None


class SourceItem(BaseModel):
    name: str
    connector: str
    schedule: str | None
    documents: int
    last_run: IngestRunItem | None


class SyncProgress(BaseModel):
    stage: str | None = Field(None, description="starting, read (listing and parsing) or index.")
    done: int = Field(0, description="Items of the stage done so far.")
    total: int = Field(0, description="Items of the stage in all.")
    read: int = Field(0, description="Documents read so far.")
    indexed: int = Field(0, description="Changed documents indexed so far.")


class SyncRunItem(BaseModel):
    """A sync started by POST /sources/{name}/sync."""

    run_id: str
    source: str
    status: Literal["queued", "running", "ok", "failed", "interrupted"] = Field(
        description="interrupted: the server stopped before the sync ended."
    )
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: SyncProgress
    result: dict[str, Any] | None = Field(
        None, description="The counts of the sync (new, changed, deleted, skipped...) once done."
    )
    error: str | None


DocumentResponse.model_rebuild()


# -- evaluation ------------------------------------------------------------------------------


class GoldenSetSaved(BaseModel):
    name: str
    queries: int


class GoldenSetItem(BaseModel):
    name: str
    created_at: str
    queries: int = Field(description="How many queries the set holds.")


class FeedbackSaved(BaseModel):
    feedback_id: int
