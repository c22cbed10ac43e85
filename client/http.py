"""The HTTP implementations of `StewardClient`: `HttpClient` (sync) and `AsyncHttpClient`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from client import calls
from client.calls import Call
from client.errors import ApiError, FieldError, RequestTimeoutError, TransportError, api_error
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
from client.protocol import Progress
from client.retry import Retry, retry_after_s
from client.sync_wait import DEFAULT_POLL_S, DEFAULT_TIMEOUT_S, SyncWait, wait_blocking

T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:8000"
# Generous for a retrieve, short for a dead host; evaluations and scans may want more.
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)


def _headers(api_key: str | None, headers: Mapping[str, str] | None) -> dict[str, str]:
    sent = {"accept": "application/json", **(headers or {})}
    if api_key is not None:
        sent["authorization"] = f"Bearer {api_key}"
    return sent


def _error(response: httpx.Response) -> ApiError:
    """The error of the tree for a refusing answer, with the server's detail and Retry-After."""
    try:
        detail: Any = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = response.text[:200] or response.reason_phrase
    fields: list[FieldError] = []
    if isinstance(detail, list):  # FastAPI's validation errors (and ours, shaped alike)
        fields = [
            FieldError(item.get("loc", ()), str(item.get("msg", "")))
            for item in detail
            if isinstance(item, dict)
        ]
        detail = "; ".join(f"{f.field}: {f.message}" for f in fields) or str(detail)
    return api_error(
        response.status_code,
        str(detail) if detail is not None else response.reason_phrase,
        retry_after_s=retry_after_s(response.headers.get("retry-after")),
        fields=fields,
    )


def _read(call: Call[T], response: httpx.Response) -> T:
    return call.read(None if response.status_code == 204 else response.json())


def _transport_error(url: str, error: httpx.TransportError) -> TransportError:
    reason = str(error) or type(error).__name__
    if isinstance(error, httpx.TimeoutException):
        return RequestTimeoutError(url, reason)
    return TransportError(url, reason)


class HttpClient:
    """Steward over its HTTP API: typed results, errors from client/errors.py.

    `api_key` is sent as `Authorization: Bearer ...`; `timeout` is seconds or an
    `httpx.Timeout`; `retry` says when a 429 or 503 is tried again (`Retry(retries=0)`: never);
    `transport` replaces httpx's (an `httpx.MockTransport`, a proxy).
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        api_key: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: Retry | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._retry = retry or Retry()
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=_headers(api_key, headers),
            timeout=timeout,
            transport=transport,
        )

    def _send(self, call: Call[T]) -> T:
        tried = 0
        while True:
            try:
                response = self._http.request(
                    call.method, call.path, params=call.params, json=call.body
                )
            except httpx.TransportError as error:
                raise _transport_error(self.base_url, error) from None
            if response.is_success:
                return _read(call, response)
            refused = _error(response)
            wait = self._retry.wait_s(tried, refused)
            if wait is None:
                raise refused
            time.sleep(wait)
            tried += 1

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
        return self._send(
            calls.retrieve(query, top_k, mode, source, source_uri_prefix, updated_after)
        )

    def document(self, doc_id: str) -> Document:
        return self._send(calls.document(doc_id))

    def health(self) -> Health:
        return self._send(calls.health())

    # -- hygiene

    def duplicates(
        self,
        *,
        source: str | None = None,
        owner: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> DuplicatePage:
        return self._send(calls.duplicates(source, owner, limit, offset))

    def stale(
        self,
        *,
        source: str | None = None,
        owner: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> StalePage:
        return self._send(calls.stale(source, owner, limit, offset))

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
        return self._send(calls.conflicts(source, owner, kind, include_resolved, limit, offset))

    def audit(self, *, limit: int = 100, offset: int = 0) -> AuditPage:
        return self._send(calls.audit(limit, offset))

    def last_scan(self) -> ScanRecord | None:
        return self._send(calls.last_scan())

    def scan(self, progress: Progress | None = None) -> ScanResult:
        """Scan now; `progress` is not called (a server reports no progress)."""
        return self._send(calls.scan())

    def verify(self, doc_id: str, *, actor: str, note: str | None = None) -> None:
        self._send(calls.verify(doc_id, actor, note))

    def deprecate(self, doc_id: str, *, actor: str, note: str | None = None) -> None:
        self._send(calls.deprecate(doc_id, actor, note))

    def not_duplicate(self, doc_a: str, doc_b: str, *, actor: str) -> None:
        self._send(calls.not_duplicate(doc_a, doc_b, actor))

    def resolve_conflict(self, conflict_id: str, resolution: Resolution, *, actor: str) -> None:
        self._send(calls.resolve_conflict(conflict_id, resolution, actor))

    # -- evaluation

    def add_golden_set(self, name: str, queries: Sequence[Mapping[str, Any]]) -> GoldenSet:
        return self._send(calls.add_golden_set(name, queries))

    def golden_sets(self) -> list[GoldenSet]:
        return self._send(calls.golden_sets())

    def evaluate(self, golden_set: str) -> EvalRun:
        return self._send(calls.evaluate(golden_set))

    def runs(self, *, golden_set: str | None = None, limit: int = 50) -> list[EvalRun]:
        return self._send(calls.runs(golden_set, limit))

    def run(self, run_id: int) -> EvalRun:
        return self._send(calls.run(run_id))

    def compare(self, run_a: int, run_b: int) -> Comparison:
        return self._send(calls.compare(run_a, run_b))

    def accept_run(self, run_id: int, *, actor: str) -> None:
        self._send(calls.accept_run(run_id, actor))

    def regressions(self, *, golden_set: str | None = None, limit: int = 50) -> list[EvalRun]:
        return self._send(calls.regressions(golden_set, limit))

    def probes(self, *, size: int = 50, rebuild: bool = False) -> EvalRun:
        return self._send(calls.probes(size, rebuild))

    # -- feedback and sources

    def feedback(
        self, query_id: str, chunk_id: str, relevant: bool, *, note: str | None = None
    ) -> int:
        return self._send(calls.feedback(query_id, chunk_id, relevant, note))

    def feedback_summary(self) -> FeedbackSummary:
        return self._send(calls.feedback_summary())

    def sources(self) -> list[Source]:
        return self._send(calls.sources())

    def start_sync(self, source: str, *, allow_deletes: bool = False) -> SyncRun:
        return self._send(calls.start_sync(source, allow_deletes))

    def sync_run(self, source: str, run_id: str) -> SyncRun:
        return self._send(calls.sync_run(source, run_id))

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
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncHttpClient:
    """`HttpClient` for asyncio: the same calls, awaited; the same arguments and errors."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        api_key: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: Retry | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._retry = retry or Retry()
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=_headers(api_key, headers),
            timeout=timeout,
            transport=transport,
        )

    async def _send(self, call: Call[T]) -> T:
        tried = 0
        while True:
            try:
                response = await self._http.request(
                    call.method, call.path, params=call.params, json=call.body
                )
            except httpx.TransportError as error:
                raise _transport_error(self.base_url, error) from None
            if response.is_success:
                return _read(call, response)
            refused = _error(response)
            wait = self._retry.wait_s(tried, refused)
            if wait is None:
                raise refused
            await asyncio.sleep(wait)
            tried += 1

    # -- retrieval and documents

    async def retrieve(
        self,
        query: str,
        *,
        top_k: int = 10,
        mode: Mode | None = None,
        source: str | Sequence[str] | None = None,
        source_uri_prefix: str | None = None,
        updated_after: datetime | None = None,
    ) -> RetrieveResponse:
        return await self._send(
            calls.retrieve(query, top_k, mode, source, source_uri_prefix, updated_after)
        )

    async def document(self, doc_id: str) -> Document:
        return await self._send(calls.document(doc_id))

    async def health(self) -> Health:
        return await self._send(calls.health())

    # -- hygiene

    async def duplicates(
        self,
        *,
        source: str | None = None,
        owner: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> DuplicatePage:
        return await self._send(calls.duplicates(source, owner, limit, offset))

    async def stale(
        self,
        *,
        source: str | None = None,
        owner: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> StalePage:
        return await self._send(calls.stale(source, owner, limit, offset))

    async def conflicts(
        self,
        *,
        source: str | None = None,
        owner: str | None = None,
        kind: str | None = None,
        include_resolved: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> ConflictPage:
        return await self._send(
            calls.conflicts(source, owner, kind, include_resolved, limit, offset)
        )

    async def audit(self, *, limit: int = 100, offset: int = 0) -> AuditPage:
        return await self._send(calls.audit(limit, offset))

    async def last_scan(self) -> ScanRecord | None:
        return await self._send(calls.last_scan())

    async def scan(self, progress: Progress | None = None) -> ScanResult:
        """Scan now; `progress` is not called (a server reports no progress)."""
        return await self._send(calls.scan())

    async def verify(self, doc_id: str, *, actor: str, note: str | None = None) -> None:
        await self._send(calls.verify(doc_id, actor, note))

    async def deprecate(self, doc_id: str, *, actor: str, note: str | None = None) -> None:
        await self._send(calls.deprecate(doc_id, actor, note))

    async def not_duplicate(self, doc_a: str, doc_b: str, *, actor: str) -> None:
        await self._send(calls.not_duplicate(doc_a, doc_b, actor))

    async def resolve_conflict(
        self, conflict_id: str, resolution: Resolution, *, actor: str
    ) -> None:
        await self._send(calls.resolve_conflict(conflict_id, resolution, actor))

    # -- evaluation

    async def add_golden_set(self, name: str, queries: Sequence[Mapping[str, Any]]) -> GoldenSet:
        return await self._send(calls.add_golden_set(name, queries))

    async def golden_sets(self) -> list[GoldenSet]:
        return await self._send(calls.golden_sets())

    async def evaluate(self, golden_set: str) -> EvalRun:
        return await self._send(calls.evaluate(golden_set))

    async def runs(self, *, golden_set: str | None = None, limit: int = 50) -> list[EvalRun]:
        return await self._send(calls.runs(golden_set, limit))

    async def run(self, run_id: int) -> EvalRun:
        return await self._send(calls.run(run_id))

    async def compare(self, run_a: int, run_b: int) -> Comparison:
        return await self._send(calls.compare(run_a, run_b))

    async def accept_run(self, run_id: int, *, actor: str) -> None:
        await self._send(calls.accept_run(run_id, actor))

    async def regressions(self, *, golden_set: str | None = None, limit: int = 50) -> list[EvalRun]:
        return await self._send(calls.regressions(golden_set, limit))

    async def probes(self, *, size: int = 50, rebuild: bool = False) -> EvalRun:
        return await self._send(calls.probes(size, rebuild))

    # -- feedback and sources

    async def feedback(
        self, query_id: str, chunk_id: str, relevant: bool, *, note: str | None = None
    ) -> int:
        return await self._send(calls.feedback(query_id, chunk_id, relevant, note))

    async def feedback_summary(self) -> FeedbackSummary:
        return await self._send(calls.feedback_summary())

    async def sources(self) -> list[Source]:
        return await self._send(calls.sources())

    async def start_sync(self, source: str, *, allow_deletes: bool = False) -> SyncRun:
        return await self._send(calls.start_sync(source, allow_deletes))

    async def sync_run(self, source: str, run_id: str) -> SyncRun:
        return await self._send(calls.sync_run(source, run_id))

    async def wait_for_sync(
        self,
        source: str,
        run_id: str,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        poll_s: float = DEFAULT_POLL_S,
    ) -> SyncRun:
        wait = SyncWait(timeout_s, poll_s)
        while (done := wait.settled(await self.sync_run(source, run_id))) is None:
            await asyncio.sleep(wait.pause_s())
        return done

    # -- lifetime

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
