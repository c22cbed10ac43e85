"""`LocalClient`: the `StewardClient` protocol over this process's composed services.

What the HTTP API does for a request, done in-process: the same domain functions, the same
validation, the same results, and the errors the HTTP client would raise for the server's
answer (client/errors.py). tests/client_contract.py holds both implementations to that.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, ParamSpec, Self, TypeVar

from pydantic import BaseModel, Field, ValidationError

from app.runtime import Runtime, open_runtime
from app.sources import listing
from app.sync_runs import ThreadSyncRuns
from client.errors import ClientError, from_kernel, from_validation
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
    RetrievedChunk,
    RetrieveFilters,
    RetrieveRequest,
    RetrieveResponse,
    ScanRecord,
    ScanResult,
    Source,
    StalePage,
    SyncRun,
)
from client.protocol import Progress
from client.sync_wait import DEFAULT_POLL_S, DEFAULT_TIMEOUT_S, wait_blocking
from evaluation.feedback import FeedbackRecords
from evaluation.golden import parse_records
from evaluation.runs import EvalRecords, compare, evaluate_golden, probe_run
from hygiene import report
from hygiene.records import HygieneRecords
from retrieval.embed import Embedder
from retrieval.search import Retriever
from steward.catalog import Catalog
from steward.database import Database
from steward.domain import SearchFilters, rfc3339
from steward.errors import NotFoundError, StewardError
from steward.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

# The trigger stored with the runs this client starts (the server's are "api").
TRIGGER = "manual"


class _Page(BaseModel):
    """The bounds the API puts on its listings' query parameters."""

    limit: int = Field(ge=1, le=500)
    offset: int = Field(0, ge=0)
    source: str | None = Field(None, min_length=1)
    owner: str | None = Field(None, min_length=1)
    kind: str | None = Field(None, min_length=1)
    golden_set: str | None = Field(None, min_length=1)


class _Probes(BaseModel):
    size: int = Field(ge=1, le=1000)


def _translated(method: Callable[P, R]) -> Callable[P, R]:
    """Raise the kernel's and validation's errors as the HTTP client would read them."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except ClientError:
            raise
        except StewardError as error:
            raise from_kernel(error) from error
        except ValidationError as error:
            raise from_validation(error.errors()) from None

    return call


class LocalClient:
    """Steward in this process: over a runtime handed in, or over a home it opens (`open`)."""

    def __init__(self, runtime: Runtime) -> None:
        """Over an open runtime, which is left open when the client closes."""
        self._settings = runtime.settings
        self._database: Database = runtime.database
        self._catalog: Catalog = runtime.catalog
        self._runtime: Runtime | None = runtime
        self._retriever: Retriever | None = None
        self._embedder: Embedder | None = runtime.embedder
        self._sync_runs: ThreadSyncRuns | None = None
        self._owned = False

    @classmethod
    def open(
        cls, settings: Settings, *, index: bool = True, embedder: Embedder | None = None
    ) -> LocalClient:
        """Open a home's services, closed with the client. With `index=False` only the catalog
        opens now; the index and the model wait for the first call that needs them."""
        client = cls.__new__(cls)
        client._settings = settings
        client._retriever = None
        client._embedder = embedder
        client._sync_runs = None
        client._owned = True
        if index:
            client._runtime = open_runtime(settings, embedder)
            client._database = client._runtime.database
            client._catalog = client._runtime.catalog
        else:
            client._runtime = None
            client._database = Database(settings.home.catalog_url(settings.catalog))
            client._catalog = Catalog(client._database)
        return client

    def _live(self) -> Runtime:
        """The runtime, opened on first need (it brings its own database and catalog)."""
        if self._runtime is None:
            runtime = open_runtime(self._settings, self._embedder)
            self._database.close()
            self._runtime = runtime
            self._database, self._catalog = runtime.database, runtime.catalog
        return self._runtime

    def _decided(self) -> None:
        """An owner's decision: retrieval must see it now, not at its next refresh."""
        if self._runtime is not None:
            self._runtime.hygiene.invalidate()

    # -- retrieval and documents

    @_translated
    def retrieve(
        self,
        query: str,
        *,
        top_k: int = 10,
        mode: Mode | None = None,
        source: str | Sequence[str] | None = None,
        source_uri_prefix: str | None = None,
        updated_after: datetime | None = None,
    ) -> RetrieveResponse:
        filters = None
        if source is not None or source_uri_prefix is not None or updated_after is not None:
            filters = RetrieveFilters(
                source=source if source is None or isinstance(source, str) else list(source),
                source_uri_prefix=source_uri_prefix,
                updated_after=updated_after,
            )
        request = RetrieveRequest(query=query, top_k=top_k, mode=mode, filters=filters)
        runtime = self._live()
        if self._retriever is None:
            # The first forward pass of a model is several times slower (the API pays it at
            # start): pay it before the first query is timed.
            runtime.embedder.embed_query("warm-up")
            self._retriever = runtime.retriever
        result = self._retriever.retrieve(
            request.query,
            request.top_k,
            request.mode,
            None
            if filters is None
            else SearchFilters(
                sources=filters.sources(),
                source_uri_prefix=filters.source_uri_prefix,
                updated_after=filters.updated_after,
            ),
        )
        query_id = str(uuid.uuid4())
        runtime.query_log.record(
            query_id,
            request.query,
            request.mode or self._retriever.settings.mode,
            request.top_k,
            round(result.took_ms, 3),
            result.hits,
            top_cosine=result.top_cosine,
        )
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
                    superseded_by=hit.superseded_by,
                    duplicate_of=hit.duplicate_of,
                    duplicates=list(hit.duplicates),
                )
                for hit in result.hits
            ],
            took_ms=round(result.took_ms, 3),
        )

    @_translated
    def document(self, doc_id: str) -> Document:
        row = self._catalog.document(doc_id)
        if row is None:
            raise NotFoundError("document", doc_id)
        chunks = self._live().store.document_chunks(doc_id)
        return Document.model_validate(
            {
                "doc_id": row.doc_id,
                "source": row.source,
                "source_uri": row.source_uri,
                "title": row.title,
                "owner": row.owner,
                "review_by": row.review_by,
                "tags": row.tags,
                "acl": row.acl,
                "updated_at": rfc3339(row.updated_at),
                "first_seen": rfc3339(row.first_seen),
                "last_ingested": rfc3339(row.last_ingested),
                "content_hash": row.content_hash,
                "size": row.size,
                "chunks": [
                    {
                        "chunk_id": c.chunk_id,
                        "ordinal": c.payload.ordinal,
                        "section": c.payload.section,
                        "text": c.payload.text,
                        "content_hash": c.payload.content_hash,
                    }
                    for c in chunks
                ],
                "hygiene": report.document_state(self._database, doc_id),
            }
        )

    @_translated
    def health(self) -> Health:
        runtime = self._live()
        return Health(
            status="ok",
            backend=self._settings.index.backend,
            model=runtime.embedder.name,
            documents=self._catalog.count_documents(),
            chunks=runtime.store.count(),
        )

    # -- hygiene: the lists

    @_translated
    def duplicates(
        self,
        *,
        source: str | None = None,
        owner: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> DuplicatePage:
        page = _Page(source=source, owner=owner, limit=limit, offset=offset)
        items = report.duplicates(self._database, report.Filters(source, owner))
        return DuplicatePage.model_validate(report.page(items, page.limit, page.offset))

    @_translated
    def stale(
        self,
        *,
        source: str | None = None,
        owner: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> StalePage:
        page = _Page(source=source, owner=owner, limit=limit, offset=offset)
        items = report.stale(self._database, report.Filters(source, owner))
        return StalePage.model_validate(report.page(items, page.limit, page.offset))

    @_translated
    def conflicts(
        self,
        *,
        source: str | None = None,
        owner: str | None = None,
        kind: str | None = None,
        include_resolved: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> ConflictPage:
        page = _Page(source=source, owner=owner, kind=kind, limit=limit, offset=offset)
        items = report.conflicts(
            self._database, report.Filters(source, owner), kind, include_resolved
        )
        return ConflictPage.model_validate(report.page(items, page.limit, page.offset))

    @_translated
    def audit(self, *, limit: int = 100, offset: int = 0) -> AuditPage:
        page = _Page(limit=limit, offset=offset)
        entries = HygieneRecords(self._database).audit(page.limit, page.offset)
        items = [
            {"at": rfc3339(e["at"]), **{k: e[k] for k in ("actor", "action", "subject", "detail")}}
            for e in entries
        ]
        return AuditPage.model_validate(
            {"items": items, "limit": page.limit, "offset": page.offset}
        )

    @_translated
    def last_scan(self) -> ScanRecord | None:
        found = HygieneRecords(self._database).last_scan()
        return ScanRecord.model_validate(found) if found is not None else None

    @_translated
    def scan(self, progress: Progress | None = None) -> ScanResult:
        runtime = self._live()
        # Imported here: the scan's modules (MinHash, the conflict rules) are for scans only.
        from app.hygiene import scan_hygiene

        found = scan_hygiene(runtime, progress)
        runtime.hygiene.invalidate()
        return ScanResult(scan_id=found.scan_id, summary=found.summary())

    # -- hygiene: the owners' actions

    @_translated
    def verify(self, doc_id: str, *, actor: str, note: str | None = None) -> None:
        HygieneRecords(self._database).verify(doc_id, actor, note)
        self._decided()

    @_translated
    def deprecate(self, doc_id: str, *, actor: str, note: str | None = None) -> None:
        HygieneRecords(self._database).deprecate(doc_id, actor, note)
        self._decided()

    @_translated
    def not_duplicate(self, doc_a: str, doc_b: str, *, actor: str) -> None:
        HygieneRecords(self._database).mark_distinct(doc_a, doc_b, actor)
        self._decided()

    @_translated
    def resolve_conflict(self, conflict_id: str, resolution: Resolution, *, actor: str) -> None:
        HygieneRecords(self._database).resolve_conflict(conflict_id, resolution, actor)
        self._decided()

    # -- evaluation

    @_translated
    def add_golden_set(self, name: str, queries: Sequence[Mapping[str, Any]]) -> GoldenSet:
        parsed = parse_records([dict(q) for q in queries])
        limit = self._settings.evaluation.max_golden_queries
        EvalRecords(self._database).save_golden(name, parsed, limit)
        return GoldenSet(name=name, queries=len(parsed))

    @_translated
    def golden_sets(self) -> list[GoldenSet]:
        return [
            GoldenSet.model_validate(s.as_dict()) for s in EvalRecords(self._database).golden_sets()
        ]

    @_translated
    def evaluate(self, golden_set: str) -> EvalRun:
        return EvalRun.model_validate(evaluate_golden(self._live(), golden_set, TRIGGER).as_dict())

    @_translated
    def runs(self, *, golden_set: str | None = None, limit: int = 50) -> list[EvalRun]:
        page = _Page(golden_set=golden_set, limit=limit)
        found = EvalRecords(self._database).runs(golden_set, page.limit)
        return [EvalRun.model_validate(r.as_dict()) for r in found]

    @_translated
    def run(self, run_id: int) -> EvalRun:
        return EvalRun.model_validate(EvalRecords(self._database).run(run_id).as_dict())

    @_translated
    def compare(self, run_a: int, run_b: int) -> Comparison:
        return Comparison.model_validate(
            compare(EvalRecords(self._database), run_a, run_b).as_dict()
        )

    @_translated
    def accept_run(self, run_id: int, *, actor: str) -> None:
        EvalRecords(self._database).accept(run_id, actor)

    @_translated
    def regressions(self, *, golden_set: str | None = None, limit: int = 50) -> list[EvalRun]:
        page = _Page(golden_set=golden_set, limit=limit)
        found = EvalRecords(self._database).regressions(golden_set, page.limit)
        return [EvalRun.model_validate(r.as_dict()) for r in found]

    @_translated
    def probes(self, *, size: int = 50, rebuild: bool = False) -> EvalRun:
        checked = _Probes(size=size)
        return EvalRun.model_validate(
            probe_run(self._live(), checked.size, rebuild, TRIGGER).as_dict()
        )

    # -- feedback and sources

    @_translated
    def feedback(
        self, query_id: str, chunk_id: str, relevant: bool, *, note: str | None = None
    ) -> int:
        return FeedbackRecords(self._database).add(query_id, chunk_id, relevant, note)

    @_translated
    def feedback_summary(self) -> FeedbackSummary:
        records = FeedbackRecords(self._database)
        return FeedbackSummary.model_validate(
            {
                "precision_by_source": records.precision_by_source(),
                "disliked_documents": records.disliked_documents(),
                **records.query_stats(),
            }
        )

    @_translated
    def sources(self) -> list[Source]:
        found = listing(self._settings.home.sources_file, self._catalog)
        return [Source.model_validate(s) for s in found]

    def _runs(self) -> ThreadSyncRuns:
        """The syncs this client starts run in threads of this process, as the embedded server's
        do; their runs are recorded in the catalog."""
        if self._sync_runs is None:
            self._sync_runs = ThreadSyncRuns(self._live())
        return self._sync_runs

    @_translated
    def start_sync(self, source: str, *, allow_deletes: bool = False) -> SyncRun:
        return SyncRun.model_validate(self._runs().start(source, allow_deletes).as_dict())

    @_translated
    def sync_run(self, source: str, run_id: str) -> SyncRun:
        if self._sync_runs is not None:  # with the live progress of the runs it started
            run = SyncRun.model_validate(self._sync_runs.get(run_id).as_dict())
        else:  # the catalog's record, without opening the index
            record = self._catalog.sync_run(run_id)
            if record is None:
                raise NotFoundError("sync run", run_id)
            run = SyncRun.model_validate(record)
        if run.source != source:  # as the API: a run is found under its own source only
            raise NotFoundError("sync run", run_id)
        return run

    def wait_for_sync(
        self,
        source: str,
        run_id: str,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        poll_s: float = DEFAULT_POLL_S,
    ) -> SyncRun:
        return wait_blocking(lambda: self.sync_run(source, run_id), timeout_s, poll_s)

    # -- lifetime

    def close(self) -> None:
        """Close what `open` opened; a runtime handed in stays open. The syncs this client
        started end first: the index they write may close with it."""
        if self._sync_runs is not None:
            self._sync_runs.close()
        if not self._owned:
            return
        if self._runtime is not None:
            self._runtime.close()
        else:
            self._database.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
