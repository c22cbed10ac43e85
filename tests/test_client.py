"""The client: the contract over every implementation, their congruence on one index, the HTTP
client's retries and errors against real servers, and the CLI's choice between them."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from client_contract import QUERIES, ClientContract

from api.app import create_app
from app.client import LocalClient
from app.hygiene import scan_hygiene
from app.runtime import Runtime, open_runtime
from client import (
    AsyncHttpClient,
    HttpClient,
    NotFoundError,
    RateLimitError,
    RequestTimeoutError,
    Retry,
    StewardClient,
    TransportError,
    UnavailableError,
)
from client.retry import retry_after_s
from connectors.filesystem import FilesystemConnector
from steward.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample-kb"
STEWARD = ROOT / ".venv" / "bin" / "steward"
NO_RETRY = Retry(retries=0)


# -- the index every implementation is tested over -------------------------------------------


@pytest.fixture(scope="session")
def sample_home(
    tmp_path_factory: pytest.TempPathFactory, hash_embedder: Any, make_settings: Any
) -> Path:
    """The sample knowledge base ingested (source `handbook`, declared in steward.yaml) and
    scanned, once; tests open copies of it."""
    root = tmp_path_factory.mktemp("client-kb")
    (root / "steward.yaml").write_text(
        f"sources:\n  handbook:\n    connector: filesystem\n    path: {SAMPLE}\n",
        encoding="utf-8",
    )
    runtime = open_runtime(settings_of(make_settings, root), embedder=hash_embedder)
    try:
        assert runtime.pipeline.run(FilesystemConnector(SAMPLE, "handbook")).status == "ok"
        scan_hygiene(runtime)
    finally:
        runtime.close()
    return root


def settings_of(make_settings: Any, root: Path) -> Settings:
    # The tests' server must not run steward.yaml's schedules.
    settings: Settings = make_settings(root, jobs={"embedded_scheduler": False})
    return settings


@pytest.fixture
def kb(
    sample_home: Path, tmp_path: Path, hash_embedder: Any, make_settings: Any
) -> Iterator[Runtime]:
    """A runtime over a fresh copy of the sample home: each test may change what it likes."""
    root = tmp_path / "kb"
    shutil.copytree(sample_home, root)
    runtime = open_runtime(settings_of(make_settings, root), embedder=hash_embedder)
    yield runtime
    runtime.close()


class _Blocking:
    """The async client driven from synchronous tests, on one event loop of its own."""

    def __init__(self, inner: AsyncHttpClient) -> None:
        self._inner = inner
        self._loop = asyncio.new_event_loop()

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._inner, name)
        return lambda *args, **kwargs: self._loop.run_until_complete(method(*args, **kwargs))

    def close(self) -> None:
        self._loop.run_until_complete(self._inner.aclose())
        self._loop.close()


class TestLocalClient(ClientContract):
    @pytest.fixture
    def client(self, kb: Runtime) -> StewardClient:
        return LocalClient(kb)


class TestHttpClient(ClientContract):
    @pytest.fixture
    def client(self, kb: Runtime, serve_app: Any) -> Iterator[StewardClient]:
        with serve_app(create_app(kb.settings, kb)) as url, HttpClient(url, retry=NO_RETRY) as c:
            yield c


class TestAsyncHttpClient(ClientContract):
    @pytest.fixture
    def client(self, kb: Runtime, serve_app: Any) -> Iterator[Any]:
        with serve_app(create_app(kb.settings, kb)) as url:
            blocking = _Blocking(AsyncHttpClient(url, retry=NO_RETRY))
            yield blocking
            blocking.close()


# -- both implementations over one index -----------------------------------------------------


def test_both_implementations_answer_alike_over_one_index(kb: Runtime, serve_app: Any) -> None:
    local = LocalClient(kb)
    with serve_app(create_app(kb.settings, kb)) as url, HttpClient(url) as remote:
        for mode in ("hybrid", "dense", "sparse"):
            for query in ("how long is the refund window?", "VPN setup", "password manager"):
                here = local.retrieve(query, top_k=10, mode=mode)
                there = remote.retrieve(query, top_k=10, mode=mode)
                assert here.results == there.results and here.results
        filtered: dict[str, Any] = {"source": ["handbook"], "source_uri_prefix": "finance/"}
        here = local.retrieve("travel", **filtered).results
        assert here == remote.retrieve("travel", **filtered).results and here
        some = local.duplicates().items[0].canonical.doc_id
        assert local.document(some) == remote.document(some)
        assert local.health() == remote.health()
        assert local.duplicates() == remote.duplicates()
        assert local.stale() == remote.stale()
        assert local.conflicts(include_resolved=True) == remote.conflicts(include_resolved=True)
        assert local.last_scan() == remote.last_scan()
        assert local.sources() == remote.sources()
        # A run the server started is read by the in-process client from the catalog alike.
        started = remote.start_sync("handbook")
        done = remote.wait_for_sync("handbook", started.run_id, timeout_s=120, poll_s=0.05)
        assert local.sync_run("handbook", started.run_id) == done
        assert local.sources() == remote.sources()

        local.verify(some, actor="ana@example.com")
        conflict = local.conflicts().items[0].id
        remote.resolve_conflict(conflict, "both_valid", actor="it@example.com")
        assert local.audit() == remote.audit() and len(local.audit().items) == 2
        assert local.conflicts(include_resolved=True) == remote.conflicts(include_resolved=True)

        local.add_golden_set("sample", QUERIES)
        assert local.golden_sets() == remote.golden_sets()
        mine, theirs = local.evaluate("sample"), remote.evaluate("sample")
        assert (mine.trigger, theirs.trigger) == ("manual", "api")
        assert (mine.metrics, mine.per_query, mine.missing) == (
            theirs.metrics,
            theirs.per_query,
            theirs.missing,
        )
        assert local.runs() == remote.runs()
        assert local.compare(mine.run_id, theirs.run_id) == remote.compare(
            mine.run_id, theirs.run_id
        )
        answer = remote.retrieve("refund window")
        local.feedback(answer.query_id, answer.results[0].chunk_id, False)
        assert local.feedback_summary() == remote.feedback_summary()


def test_the_client_models_mirror_the_api_schemas() -> None:
    """A field the API adds or renames shows here before an SDK user meets it."""
    from api import schemas
    from client import models

    pairs = [
        (schemas.RetrieveRequest, models.RetrieveRequest),
        (schemas.RetrieveFilters, models.RetrieveFilters),
        (schemas.RetrievedChunk, models.RetrievedChunk),
        (schemas.RetrieveResponse, models.RetrieveResponse),
        (schemas.DocumentResponse, models.Document),
        (schemas.DocumentChunk, models.DocumentChunk),
        (schemas.DocumentHygiene, models.DocumentHygiene),
        (schemas.HealthResponse, models.Health),
        (schemas.DuplicatePage, models.DuplicatePage),
        (schemas.ClusterMember, models.ClusterMember),
        (schemas.StaleItem, models.StaleItem),
        (schemas.ConflictItem, models.ConflictItem),
        (schemas.AuditPage, models.AuditPage),
        (schemas.AuditEntry, models.AuditEntry),
        (schemas.ScanResponse, models.ScanResult),
        (schemas.ScanRecord, models.ScanRecord),
        (schemas.SourceItem, models.Source),
        (schemas.IngestRunItem, models.IngestRun),
        (schemas.GoldenSetItem, models.GoldenSet),
    ]
    for served, read in pairs:
        assert set(served.model_fields) == set(read.model_fields), served.__name__
    # The evaluation and feedback answers are the client's own models: nothing to mirror.
    for model in (models.EvalRun, models.Comparison, models.FeedbackSummary):
        assert getattr(schemas, model.__name__) is model


def test_the_client_models_read_the_typed_evaluation_records_field_for_field() -> None:
    """`EvalRun`, `Comparison` and `GoldenSet` carry what `as_dict()` of the typed records
    gives, in its order, so a result dumped with `exclude_unset` is the record (what the CLI
    prints, in-process or over HTTP)."""
    from dataclasses import fields

    from client import models
    from evaluation import runs
    from evaluation.tables import eval_runs

    assert list(models.EvalRun.model_fields) == [c.name for c in eval_runs.c]
    assert {f.name for f in fields(runs.EvalRun)} == set(models.EvalRun.model_fields)
    assert {f.name for f in fields(runs.RunSummary)} == set(models.EvalRun.model_fields) - {
        "per_query"
    }
    assert [f.name for f in fields(runs.Comparison)] == list(models.Comparison.model_fields)
    assert [f.name for f in fields(runs.MetricComparison)] == list(
        models.MetricComparison.model_fields
    )
    assert [f.name for f in fields(runs.GoldenSetInfo)] == list(models.GoldenSet.model_fields)


# -- the HTTP client against scripted servers ------------------------------------------------


class Scripted:
    """A real HTTP server that answers each request with the next (status, headers, body)."""

    def __init__(self, answers: list[tuple[int, dict[str, str], Any]], delay_s: float = 0) -> None:
        self.answers = list(answers)
        self.seen: list[tuple[float, str, dict[str, str]]] = []
        script = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                script.seen.append((time.monotonic(), self.path, dict(self.headers)))
                time.sleep(delay_s)
                status, headers, body = script.answers.pop(0)
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"content-type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Scripted:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


HEALTHY = (200, {}, {"status": "ok", "backend": "edge", "model": "m", "documents": 3, "chunks": 7})
BUSY = (503, {"retry-after": "0.3"}, {"detail": "the catalog is locked"})


def test_a_503_is_retried_after_the_servers_retry_after() -> None:
    with Scripted([BUSY, HEALTHY]) as server, HttpClient(server.url, api_key="k-1") as client:
        health = client.health()
    assert (health.documents, health.chunks) == (3, 7)
    (first, _, headers), (second, _, _) = server.seen
    assert second - first >= 0.3
    assert headers["authorization"] == "Bearer k-1"


def test_a_429_without_retry_after_backs_off_then_gives_up_with_the_error() -> None:
    limited = (429, {}, {"detail": "slow down"})
    retry = Retry(retries=2, backoff_s=0.1)
    with Scripted([limited] * 3) as server, HttpClient(server.url, retry=retry) as client:
        with pytest.raises(RateLimitError) as raised:
            client.health()
    assert (raised.value.status_code, raised.value.detail) == (429, "slow down")
    times = [seen[0] for seen in server.seen]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.1 and times[2] - times[1] >= 0.2  # doubled


def test_a_longer_retry_after_than_the_client_waits_goes_to_the_caller() -> None:
    later = (503, {"retry-after": "120"}, {"detail": "down for maintenance"})
    with Scripted([later]) as server, HttpClient(server.url) as client:
        with pytest.raises(UnavailableError) as raised:
            client.health()
    assert raised.value.retry_after_s == 120 and len(server.seen) == 1


def test_other_errors_are_not_retried() -> None:
    missing = (404, {}, {"detail": "document 'x' not found"})
    with Scripted([missing]) as server, HttpClient(server.url) as client:
        with pytest.raises(NotFoundError, match="document 'x' not found"):
            client.document("x")
    assert [seen[1] for seen in server.seen] == ["/documents/x"]


def test_the_async_client_retries_a_503_too() -> None:
    async def ask(url: str) -> Any:
        async with AsyncHttpClient(url) as client:
            return await client.health()

    with Scripted([BUSY, HEALTHY]) as server:
        health = asyncio.run(ask(server.url))
    assert health.documents == 3 and len(server.seen) == 2


def test_no_answer_is_a_transport_error_and_a_slow_one_a_timeout() -> None:
    with Scripted([HEALTHY]) as server:
        url = server.url
    with HttpClient(url) as client, pytest.raises(TransportError) as refused:
        client.health()
    assert refused.value.url == url
    with Scripted([HEALTHY], delay_s=1) as server, HttpClient(server.url, timeout=0.2) as client:
        with pytest.raises(RequestTimeoutError):
            client.health()


def test_retry_after_reads_seconds_and_http_dates() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_s("2.5") == 2.5
    assert retry_after_s("Tue, 01 Dec 2026 12:00:30 GMT", now) == 30
    assert retry_after_s("Tue, 01 Dec 2026 11:00:00 GMT", now) == 0
    assert retry_after_s("soon") is None and retry_after_s(None) is None


# -- the CLI picks the server when the server holds the index --------------------------------


def steward(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(STEWARD), *args],
        env={**os.environ, "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_query_asks_the_server_that_holds_the_index(kb: Runtime, serve_app: Any) -> None:
    expected = LocalClient(kb).retrieve("how long is the refund window?", top_k=5)
    with serve_app(create_app(kb.settings, kb)) as url:
        env = {"STEWARD_HOME": str(kb.settings.home.home), "STEWARD_API_PORT": url.rsplit(":")[-1]}
        done = steward("query", "how long is the refund window?", "--json", env=env)
        shown = steward("query", "how long is the refund window?", env=env)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert list(answer) == ["query_id", "results", "took_ms"]
    assert answer["results"] == expected.model_dump(mode="json")["results"]
    assert shown.returncode == 0 and f"1. {expected.results[0].title}" in shown.stdout


def test_cli_names_the_port_when_no_server_answers_for_the_held_index(kb: Runtime) -> None:
    env = {"STEWARD_HOME": str(kb.settings.home.home), "STEWARD_API_PORT": "9"}
    done = steward("query", "refund", env=env)
    assert done.returncode == 2
    assert "no server answers at http://127.0.0.1:9" in done.stderr
    assert "STEWARD_API_PORT" in done.stderr and "Traceback" not in done.stderr
