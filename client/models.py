"""What a client call returns: the API's answers as pydantic models.

The evaluation and feedback models are the API's own response models (api/schemas.py imports
them); the others mirror api/schemas.py, which tests/test_client.py holds them to.

Fields keep the order of the API's own records, so a model dumped with `exclude_unset=True`
reads like the record it came from. Fields a newer server adds are kept (`extra="allow"`).
Timestamps are RFC 3339 strings, as the API writes them, except where a record holds datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from steward.domain import as_utc

UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]
Mode = Literal["hybrid", "dense", "sparse"]
Resolution = Literal["keep_a", "keep_b", "both_valid"]


class Model(BaseModel):
    model_config = ConfigDict(extra="allow")


# -- retrieval and documents -----------------------------------------------------------------


class RetrieveFilters(Model):
    """What POST /retrieve may be restricted to; naive datetimes are UTC."""

    model_config = ConfigDict(extra="forbid")

    source: str | list[str] | None = None
    source_uri_prefix: str | None = Field(None, min_length=1)
    updated_after: datetime | None = None

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
        return value

    def sources(self) -> tuple[str, ...]:
        return (self.source,) if isinstance(self.source, str) else tuple(self.source or ())


class RetrieveRequest(Model):
    """The body of POST /retrieve (api/schemas.py); the in-process client validates with it."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(..., max_length=4000)
    top_k: int = Field(10, ge=1, le=100, strict=True)  # strict: `true` is not 1
    mode: Mode | None = None
    filters: RetrieveFilters | None = None

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value


class RetrievedChunk(Model):
    chunk_id: str
    doc_id: str
    source: str
    source_uri: str
    title: str
    section: str
    text: str
    score: float
    updated_at: str
    flags: list[str]  # stale, deprecated, superseded, conflict, duplicate_of
    superseded_by: str | None = None
    duplicate_of: str | None = None
    duplicates: list[str] = Field(default_factory=list)  # copies folded into this result


class RetrieveResponse(Model):
    query_id: str  # names this answer for feedback
    results: list[RetrievedChunk]
    took_ms: float


class DocumentChunk(Model):
    chunk_id: str
    ordinal: int
    section: str
    text: str
    content_hash: str


class DocumentHygiene(Model):
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


class Document(Model):
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


class Health(Model):
    status: Literal["ok"]
    backend: str
    model: str
    documents: int
    chunks: int
    # "off": every caller is a local admin (no API key declared, or the in-process client).
    access_control: Literal["on", "off"] = "off"


# -- hygiene ---------------------------------------------------------------------------------


class DocRef(Model):
    doc_id: str
    source_uri: str | None
    title: str | None = None
    owner: str | None = None


class ClusterMember(DocRef):
    similarity: float


class DuplicateCluster(Model):
    canonical: DocRef
    members: list[ClusterMember]


class StaleItem(DocRef):
    reason: Literal["expired", "superseded", "deprecated", "negative_feedback"]
    superseded_by: DocRef | None = None
    since: str | None
    by: str | None = None
    not_relevant: int | None = None  # negative_feedback: how many times


class ConflictSide(DocRef):
    span: str
    value: str


class ConflictItem(Model):
    id: str
    a: ConflictSide
    b: ConflictSide
    kind: str
    confidence: float
    newer: Literal["a", "b"] | None
    suggested: Literal["keep_a", "keep_b", "review"]
    resolution: Resolution | None
    resolved_by: str | None
    resolved_at: str | None


class DuplicatePage(Model):
    items: list[DuplicateCluster]
    total: int
    limit: int
    offset: int


class StalePage(Model):
    items: list[StaleItem]
    total: int
    limit: int
    offset: int


class ConflictPage(Model):
    items: list[ConflictItem]
    total: int
    limit: int
    offset: int


class AuditEntry(Model):
    at: str
    actor: str
    action: str
    subject: str
    detail: dict[str, Any]


class AuditPage(Model):
    items: list[AuditEntry]
    limit: int
    offset: int


class ScanResult(Model):
    """A scan just run: its id and what it found (counts by kind, review states, seconds)."""

    scan_id: int
    summary: dict[str, Any]


class ScanRecord(Model):
    """The last finished scan, as the catalog records it, times in UTC."""

    scan_id: int
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None = None
    summary: dict[str, Any] | None = None


# -- evaluation and feedback -----------------------------------------------------------------


class GoldenSet(Model):
    name: str
    created_at: str | None = None
    queries: int


class MissingDocument(Model):
    """A judged document that no longer exists (it still counts, as unfindable)."""

    query_id: str
    source_uri: str | None
    doc_id: str | None


class RegressedMetric(Model):
    baseline: float
    value: float
    drop: float
    p_value: float


# Metric name -> value: ndcg@10, p@5, p@10, recall@10, mrr@10, context_precision,
# context_recall and, with an LLM judge, llm_context_precision.
Scores = dict[str, float]


class EvalRun(Model):
    """A stored evaluation run: `evaluation.runs.EvalRun.as_dict()`, field for field and in its
    order. Listings (`RunSummary.as_dict()`) leave out `per_query`: it is then unset (None), and
    the API's listings leave it out of their answers (`response_model_exclude_unset`).

    The API answers with this model (api/schemas.py imports it), so the two cannot drift.
    """

    run_id: int
    golden_set: str
    started_at: str
    finished_at: str | None
    trigger: str = Field(description="manual, api, sync or schedule")
    status: Literal["running", "ok", "failed"]
    metrics: Scores | None
    per_source: dict[str, Scores] | None
    per_query: dict[str, Scores] | None = Field(
        None, description="Query id -> metric -> value; left out of listings."
    )
    missing: list[MissingDocument] | None
    index_state: dict[str, Any] | None = Field(
        description="Documents, chunks, model and retrieval settings the run measured."
    )
    error: str | None
    accepted_at: str | None
    accepted_by: str | None
    baseline_run: int | None
    regression: dict[str, RegressedMetric] | None


class MetricComparison(Model):
    a: float
    b: float
    difference: float = Field(description="b - a")
    p_value: float = Field(description="Paired Student t-test over the shared queries.")
    significant: bool
    queries: int


class Comparison(Model):
    """Run b against run a: b - a per metric, paired t-test over the queries both scored
    (`evaluation.runs.Comparison.as_dict()`)."""

    run_a: int
    run_b: int
    queries: int = Field(description="Queries both runs scored.")
    metrics: dict[str, MetricComparison]
    skipped: list[str] = Field(description="Metrics only one of the runs has.")


class SourcePrecision(Model):
    judged: int
    precision: float


class DislikedDocument(Model):
    doc_id: str
    source_uri: str | None
    owner: str | None
    not_relevant: int
    relevant: int


class FeedbackSummary(Model):
    precision_by_source: dict[str, SourcePrecision]
    disliked_documents: list[DislikedDocument]
    queries: int
    zero_results: int


# -- sources ---------------------------------------------------------------------------------


class IngestRun(Model):
    run_id: int
    started_at: UtcDatetime
    finished_at: UtcDatetime | None
    status: str
    duration_s: float | None = None


class Source(Model):
    """A source declared in steward.yaml, with its documents and its last run."""

    name: str
    connector: str
    schedule: str | None
    documents: int
    last_run: IngestRun | None


SyncStatus = Literal["queued", "running", "ok", "failed", "interrupted"]


class SyncProgress(Model):
    stage: str | None = None  # read (listing and parsing) or index
    done: int = 0  # items of the stage done so far
    total: int = 0  # items of the stage in all
    read: int = 0  # documents read so far
    indexed: int = 0  # changed documents indexed so far


class SyncRun(Model):
    """A sync started on request: queued, running (with its progress), then ok, failed or
    interrupted (its process stopped first), with its counts or its error."""

    run_id: str
    source: str
    status: SyncStatus
    requested_at: UtcDatetime
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None
    progress: SyncProgress = Field(default_factory=SyncProgress)
    result: dict[str, Any] | None = None  # new, changed, deleted, skipped... once done
    error: str | None = None

    @property
    def done(self) -> bool:
        """Whether the run has ended, well or not."""
        return self.status in ("ok", "failed", "interrupted")
