"""Observability of a running Steward: HTTP request metrics by route template, request ids,
JSON logs, OpenTelemetry spans of a retrieve and an ingest, and a Grafana dashboard whose every
query names a metric that /metrics exports."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from app.runtime import Runtime, open_runtime
from connectors.filesystem import FilesystemConnector
from steward import tracing
from steward.logs import handler
from steward.settings import LogSettings, TracingSettings

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample-kb"
QUERIES = [
    json.loads(line)
    for line in (ROOT / "examples" / "sample-queries.jsonl").read_text().splitlines()
]
DASHBOARD = ROOT / "deploy" / "grafana" / "steward.json"


@pytest.fixture(scope="module")
def steward(tmp_path_factory, embedder, make_settings, serve_app) -> Iterator[tuple[Runtime, str]]:
    """A server over a home whose steward.yaml declares the sample knowledge base (not synced)."""
    root = tmp_path_factory.mktemp("observed")
    (root / "steward.yaml").write_text(
        f"sources:\n  handbook:\n    connector: filesystem\n    path: {SAMPLE}\n", encoding="utf-8"
    )
    live = open_runtime(make_settings(root, jobs={"embedded_scheduler": False}), embedder=embedder)
    try:
        with serve_app(create_app(live.settings, live)) as url:
            synced = httpx.post(f"{url}/sources/handbook/sync").headers["location"]
            deadline = time.monotonic() + 300
            while httpx.get(f"{url}{synced}").json()["status"] not in ("ok", "failed"):
                assert time.monotonic() < deadline, "the sync did not end"
                time.sleep(0.1)
            assert httpx.get(f"{url}{synced}").json()["status"] == "ok"
            yield live, url
    finally:
        live.close()


def scrape(url: str) -> dict[str, list[Any]]:
    """Every sample of GET /metrics by sample name (`x_total`, `x_bucket`...)."""
    text = httpx.get(f"{url}/metrics").text
    samples: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


# -- HTTP request metrics --------------------------------------------------------------------


def test_requests_are_counted_by_route_template_never_by_raw_path(steward) -> None:
    _, url = steward
    before = scrape(url)

    def count(samples: dict[str, list[Any]], **labels: str) -> float:
        return sum(
            s.value
            for s in samples.get("steward_http_requests_total", [])
            if all(s.labels.get(k) == v for k, v in labels.items())
        )

    for doc_id in ("no-such-doc-1", "no-such-doc-2", "no-such-doc-3"):
        assert httpx.get(f"{url}/documents/{doc_id}").status_code == 404
    assert httpx.get(f"{url}/no/such/route").status_code == 404
    assert httpx.post(f"{url}/retrieve", json={"query": "refund window"}).status_code == 200

    after = scrape(url)
    route = {"method": "GET", "route": "/documents/{doc_id}", "status": "404"}
    assert count(after, **route) - count(before, **route) == 3
    assert count(after, route="<unmatched>") - count(before, route="<unmatched>") == 1
    assert count(after, method="POST", route="/retrieve", status="200") >= 1
    exposition = httpx.get(f"{url}/metrics").text
    assert "no-such-doc" not in exposition and "/no/such/route" not in exposition
    # The duration histogram and the in-progress gauge, by the same templates.
    buckets = [
        s
        for s in after["steward_http_request_duration_seconds_count"]
        if s.labels == {"method": "GET", "route": "/documents/{doc_id}"}
    ]
    assert buckets and buckets[0].value >= 3
    # The scrape itself is in progress while /metrics renders; nothing else is.
    busy = {
        s.labels["route"]: s.value for s in after["steward_http_requests_in_progress"] if s.value
    }
    assert busy == {"/metrics": 1.0}


# -- request ids and JSON logs ---------------------------------------------------------------


def test_a_request_id_is_taken_or_made_and_returned(steward) -> None:
    _, url = steward
    given = httpx.get(f"{url}/health", headers={"X-Request-ID": "trace-42.a:b"})
    assert given.headers["x-request-id"] == "trace-42.a:b"
    made = httpx.get(f"{url}/health")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    assert made.headers["x-request-id"] != httpx.get(f"{url}/health").headers["x-request-id"]
    forged = httpx.get(f"{url}/health", headers={"X-Request-ID": "x" * 129})
    assert forged.headers["x-request-id"] != "x" * 129
    refused = httpx.get(f"{url}/documents/missing", headers={"X-Request-ID": "on-a-404"})
    assert refused.headers["x-request-id"] == "on-a-404"


def test_json_logs_carry_the_request_id_on_every_line(steward) -> None:
    _, url = steward
    out = io.StringIO()
    lines = handler(LogSettings(format="json"), out)
    root = logging.getLogger()
    root.addHandler(lines)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        started = httpx.post(f"{url}/sources/nope/sync", headers={"X-Request-ID": "req-404"})
        assert started.status_code == 404
        started = httpx.post(f"{url}/sources/handbook/sync", headers={"X-Request-ID": "req-sync"})
        location = started.headers["location"]
        while httpx.get(f"{url}{location}").json()["status"] not in ("ok", "failed"):
            time.sleep(0.05)
        logging.getLogger("steward.test").info("outside any request")
    finally:
        root.removeHandler(lines)
        root.setLevel(level)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert records and all(
        set(r) >= {"time", "level", "logger", "message", "request_id"} for r in records
    )
    ours = [r for r in records if r["request_id"] == "req-sync"]
    # The start is logged while the request is served, under its id.
    assert any("started as run" in r["message"] for r in ours), records
    assert records[-1]["request_id"] == "-" and records[-1]["message"] == "outside any request"


# -- tracing ---------------------------------------------------------------------------------


@pytest.fixture
def spans() -> Iterator[Any]:
    """Tracing on for one test, into an in-memory exporter; off again afterwards."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.enable(provider)
    try:
        yield exporter
    finally:
        tracing.disable()
        provider.shutdown()


def tree(finished: list[Any], root: str) -> tuple[Any, list[str]]:
    """The span named `root` and the names of its children, in the order they started."""
    [top] = [s for s in finished if s.name == root]
    children = sorted(
        (s for s in finished if s.parent is not None and s.parent.span_id == top.context.span_id),
        key=lambda s: s.start_time,
    )
    return top, [s.name for s in children]


def test_a_retrieve_is_traced_as_embed_search_fuse_rank(steward, spans) -> None:
    _, url = steward
    answer = httpx.post(f"{url}/retrieve", json={"query": "How long is the refund window?"})
    assert answer.status_code == 200 and answer.json()["results"]
    top, children = tree(spans.get_finished_spans(), "retrieve")
    assert children == ["embed", "search", "fuse", "rank"]
    assert top.attributes["mode"] == "hybrid" and top.attributes["top_k"] == 10
    assert all(s.context.trace_id == top.context.trace_id for s in spans.get_finished_spans())
    fuse = next(s for s in spans.get_finished_spans() if s.name == "fuse")
    assert fuse.attributes["dense"] > 0 and fuse.attributes["sparse"] > 0

    spans.clear()
    httpx.post(f"{url}/retrieve", json={"query": "refund window", "mode": "dense"})
    assert tree(spans.get_finished_spans(), "retrieve")[1] == ["embed", "search", "rank"]


def test_an_ingest_run_is_traced(open_home, hash_embedder, write, tmp_path: Path, spans) -> None:
    live = open_home("a", hash_embedder, ingest={"batch_documents": 2})
    for n in range(3):
        write.text(tmp_path / "kb" / f"d{n}.txt", f"Document {n} about parking permits.\n")
    assert live.pipeline.run(FilesystemConnector(tmp_path / "kb", "kb")).status == "ok"
    top, children = tree(spans.get_finished_spans(), "ingest")
    # Two batches of at most 2, then the index builds its search graph over what was written.
    assert children == ["list", "read", "index", "index", "optimize"]
    assert top.attributes["source"] == "kb" and top.parent is None


def test_tracing_follows_the_standard_otel_variables() -> None:
    settings = TracingSettings()
    assert settings.exporter({}) is None
    assert settings.exporter({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}) == "otlp"
    assert settings.exporter({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318"}) == "otlp"
    assert settings.exporter({"OTEL_TRACES_EXPORTER": "console"}) == "console"
    assert settings.exporter({"OTEL_TRACES_EXPORTER": "none"}) is None
    disabled = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}
    assert settings.exporter(disabled) is None
    assert TracingSettings(enabled=True).exporter({}) == "otlp"
    assert TracingSettings(enabled=False).exporter({"OTEL_TRACES_EXPORTER": "otlp"}) is None


def test_tracing_off_imports_neither_the_tracing_sdk_nor_the_exporter() -> None:
    probe = (
        "import sys; import api.app, cli.main, ingest.pipeline, retrieval.search; "
        "from steward import tracing; from steward.settings import load_settings; "
        "assert not tracing.configure(load_settings().tracing); "
        "print(sorted(m for m in sys.modules if m.startswith(TRACING)))"
    )
    # redis (imported by datasketch) loads OpenTelemetry's metrics SDK when it is installed;
    # the tracing SDK and the exporter are ours to load, and only when tracing is on.
    probe = f"TRACING = ('opentelemetry.sdk.trace', 'opentelemetry.exporter'); {probe}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STEWARD_", "OTEL_"))}
    env["PYTHONPATH"] = str(ROOT)
    found = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "[]", found.stdout + found.stderr


# -- the Grafana dashboard -------------------------------------------------------------------

PROMQL_WORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "inf",
    "nan",
}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: its identifiers that are not functions,
    keywords, label names (in braces or a by/without list) or durations."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # string literals
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", text)  # grouping labels
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors
    names = set()
    for found in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        rest = text[found.end() :].lstrip()
        if rest.startswith("("):
            continue  # a function
        if found.group().lower() in PROMQL_WORDS:
            continue
        names.add(found.group())
    return names


def test_metric_names_are_read_from_promql() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, route) (rate(a_bucket{status=~"5.."}[5m]))) '
        "/ ignoring(x) b_total + sum without (y) (c) * on(z) group_left d"
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "c", "d"}


@pytest.mark.slow
def test_every_dashboard_query_names_a_metric_the_app_exports(steward) -> None:
    _, url = steward
    # Put a series behind every panel: a retrieve and its feedback, a scan, an evaluation run
    # (the sync of the fixture was the ingest).
    answer = httpx.post(f"{url}/retrieve", json={"query": "How long is the refund window?"}).json()
    first = answer["results"][0]
    feedback = {"query_id": answer["query_id"], "chunk_id": first["chunk_id"], "relevant": True}
    assert httpx.post(f"{url}/feedback", json=feedback).status_code == 201
    assert httpx.post(f"{url}/hygiene/scan", timeout=300).status_code == 200
    golden = {"name": "sample", "queries": QUERIES}
    assert httpx.post(f"{url}/eval/golden-sets", json=golden).status_code == 201
    ran = httpx.post(f"{url}/eval/runs", json={"golden_set": "sample"}, timeout=300)
    assert ran.status_code == 201, ran.text

    exported = scrape(url)
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queried: dict[str, set[str]] = {}
    for panel in board["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = metric_names(target["expr"])
            assert names, target["expr"]
            for name in names:
                queried.setdefault(name, set()).add(panel["title"])
    missing = {name: panels for name, panels in queried.items() if not exported.get(name)}
    assert not missing, f"queried but not exported: {missing}"
    assert len(queried) >= 10  # the HTTP, retrieval, sync, hygiene and evaluation families
