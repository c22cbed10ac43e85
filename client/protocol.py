"""`StewardClient`: what applications, the CLI and integrations ask of Steward.

Two implementations: `client.HttpClient` over the HTTP API (and `client.AsyncHttpClient`, its
async twin), and `app.client.LocalClient` over the composed services of this process. Both pass
one contract suite (tests/client_contract.py): the same calls give the same results and raise
the same errors (client/errors.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

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

# A scan's progress: (stage, done, total); only an in-process scan reports it.
Progress = Callable[[str, int, int], None]


class StewardClient(Protocol):
    """Retrieval, documents, hygiene, evaluation, feedback and sources, wherever Steward runs."""

    # -- retrieval and documents

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
        """The best chunks for `query`: one slot per text, copies folded, stale ones demoted."""
        ...

    def document(self, doc_id: str) -> Document:
        """A document's record, its chunks in reading order and its hygiene state."""
        ...

    def health(self) -> Health: ...

    # -- hygiene: the lists

    def duplicates(
        self,
        *,
        source: str | None = None,
        owner: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> DuplicatePage: ...

    def stale(
        self,
        *,
        source: str | None = None,
        owner: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> StalePage: ...

    def conflicts(
        self,
        *,
        source: str | None = None,
        owner: str | None = None,
        kind: str | None = None,
        include_resolved: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> ConflictPage: ...

    def audit(self, *, limit: int = 100, offset: int = 0) -> AuditPage: ...

    def last_scan(self) -> ScanRecord | None:
        """The last finished scan; None before the first."""
        ...

    def scan(self, progress: Progress | None = None) -> ScanResult:
        """Scan now; `progress` hears the stages of an in-process scan (a server's is silent)."""
        ...

    # -- hygiene: the owners' actions (each audited)

    def verify(self, doc_id: str, *, actor: str, note: str | None = None) -> None: ...

    def deprecate(self, doc_id: str, *, actor: str, note: str | None = None) -> None: ...

    def not_duplicate(self, doc_a: str, doc_b: str, *, actor: str) -> None: ...

    def resolve_conflict(self, conflict_id: str, resolution: Resolution, *, actor: str) -> None:
        """Resolve a conflict by its id or an unambiguous prefix of it."""
        ...

    # -- evaluation

    def add_golden_set(self, name: str, queries: Sequence[Mapping[str, Any]]) -> GoldenSet:
        """Create or replace a golden set: `{"query", "relevant": [{"source_uri", "grade"}]}`."""
        ...

    def golden_sets(self) -> list[GoldenSet]: ...

    def evaluate(self, golden_set: str) -> EvalRun:
        """Run a golden set against the index now; the stored run."""
        ...

    def runs(self, *, golden_set: str | None = None, limit: int = 50) -> list[EvalRun]: ...

    def run(self, run_id: int) -> EvalRun: ...

    def compare(self, run_a: int, run_b: int) -> Comparison: ...

    def accept_run(self, run_id: int, *, actor: str) -> None: ...

    def regressions(self, *, golden_set: str | None = None, limit: int = 50) -> list[EvalRun]: ...

    def probes(self, *, size: int = 50, rebuild: bool = False) -> EvalRun: ...

    # -- feedback

    def feedback(
        self, query_id: str, chunk_id: str, relevant: bool, *, note: str | None = None
    ) -> int:
        """Judge one result of a retrieve answer; the feedback's id."""
        ...

    def feedback_summary(self) -> FeedbackSummary: ...

    # -- sources

    def sources(self) -> list[Source]:
        """The sources declared in steward.yaml, with their documents and last run."""
        ...

    def start_sync(self, source: str, *, allow_deletes: bool = False) -> SyncRun:
        """Start a sync of a declared source (admin); the run at once, queued or running.

        NotFoundError for an undeclared source, ConflictError (naming the running run) while
        one of that source is under way. `allow_deletes` lifts the guard against pruning a
        large share of the source in one run.
        """
        ...

    def sync_run(self, source: str, run_id: str) -> SyncRun:
        """A sync run as it stands: its progress while it runs, its counts or error once done."""
        ...

    def wait_for_sync(
        self, source: str, run_id: str, *, timeout_s: float = 600.0, poll_s: float = 0.5
    ) -> SyncRun:
        """Poll a sync run until it ends; the run once it ended ok.

        SyncFailedError when it ended failed or interrupted, SyncTimeoutError when it still runs
        after `timeout_s` (the sync goes on); both carry the run as last seen.
        """
        ...

    # -- lifetime

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...
