"""GET /metrics through prometheus_client: this process's counters, and the catalog's state.

Counted here (per app, on the app's own registry): every HTTP request by method, route template
and status, its duration and the requests in progress (api/http_metrics.py), `/retrieve` latency
as a histogram, the answers with no result, and the requests refused to bound the load. Read
from the catalog at
scrape time by `CatalogCollector`: the latest evaluation scores per golden set and regressions,
each source's last sync, hygiene items of the last scan, feedback precision, and each
source's answer freshness (`hygiene.freshness`).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

from evaluation.feedback import FeedbackRecords
from evaluation.probes import PROBE_SET
from evaluation.runs import EvalRecords, RunSummary
from hygiene.findings import FINDING_KINDS
from hygiene.overview import freshness
from hygiene.records import HygieneRecords
from steward.catalog import Catalog
from steward.database import Database

BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ServiceMetrics:
    """What this process counts itself; one instance, and one registry, per app.

    Not the global registry: two apps in one process (the tests start many) would clash there.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._latency = Histogram(
            "steward_retrieve_latency_seconds",
            "POST /retrieve latency.",
            buckets=BUCKETS_S,
            registry=self.registry,
        )
        self._zero_results = Counter(
            "steward_retrieve_zero_results", "Answers with no result.", registry=self.registry
        )
        self._refused = Counter(
            "steward_requests_refused",
            "Requests refused to bound the load, by reason (rate_limit: 429, in_flight: 503, "
            "auth_failures: 429 to an address after repeated failed authentications).",
            ["reason"],
            registry=self.registry,
        )

        self.http_requests = Counter(
            "steward_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "steward_http_request_duration_seconds",
            "HTTP request duration until the answer is sent, by method and route template.",
            ["method", "route"],
            buckets=BUCKETS_S,
            registry=self.registry,
        )
        self.http_in_progress = Gauge(
            "steward_http_requests_in_progress",
            "HTTP requests being served, by method and route template.",
            ["method", "route"],
            registry=self.registry,
        )

    def observe_refusal(self, reason: str) -> None:
        """A request refused to bound the load: `rate_limit` (429), `in_flight` (503) or
        `auth_failures` (429)."""
        self._refused.labels(reason).inc()

    def observe_retrieve(self, seconds: float, results: int) -> None:
        self._latency.observe(seconds)
        if not results:
            self._zero_results.inc()


class CatalogCollector:
    """The catalog's state, read when Prometheus scrapes (a prometheus_client collector)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def describe(self) -> Iterator[Metric]:
        """The families without samples: the registry checks names without reading the catalog."""
        return iter(_families())

    def collect(self) -> Iterator[Metric]:
        catalog = Catalog(self._database)
        score, regression, probe, status, documents, hygiene, precision, fresh, served = _families()

        records = EvalRecords(self._database)
        latest: dict[str, RunSummary] = {}
        for name in records.names():
            newest = records.runs(name, limit=1)
            if newest and newest[0].status == "ok":
                latest[name] = newest[0]
        for name, run in latest.items():
            for metric, value in (run.metrics or {}).items():
                score.add_metric([name, metric], value)
            regression.add_metric([name], 1 if run.regression else 0)
        if PROBE_SET in latest:
            probe.add_metric([], (latest[PROBE_SET].metrics or {}).get("recall@10", 0))

        for source in catalog.sources():
            last = catalog.last_run(source)
            if last is None:
                continue
            status.add_metric([source], 1 if last.status == "ok" else 0)
            summary = last.summary or {}
            for what in ("new", "changed", "deleted", "skipped"):
                value = summary.get(what, 0)
                documents.add_metric(
                    [source, what], len(value) if isinstance(value, list) else int(value or 0)
                )

        scan = HygieneRecords(self._database).last_scan()
        found = (scan or {}).get("summary") or {}
        for kind in FINDING_KINDS:
            if kind.exported:
                hygiene.add_metric([kind.name], int(found.get(kind.name, 0)))
        for state, count in (found.get("states") or {}).items():
            hygiene.add_metric([f"state_{state}"], int(count))

        for source, judged in FeedbackRecords(self._database).precision_by_source().items():
            precision.add_metric([source], judged["precision"])

        for source, line in freshness(self._database).items():
            served.add_metric([source], line.served)
            if line.share is not None:
                fresh.add_metric([source], line.share)

        yield from (score, regression, probe, status, documents, hygiene, precision, fresh, served)


def _families() -> tuple[GaugeMetricFamily, ...]:
    return (
        GaugeMetricFamily(
            "steward_eval_score",
            "Latest evaluation run's metrics per golden set.",
            labels=["golden_set", "metric"],
        ),
        GaugeMetricFamily(
            "steward_eval_regression", "1 when the latest run regressed.", labels=["golden_set"]
        ),
        GaugeMetricFamily("steward_probe_hit_rate", "Share of probes finding their own document."),
        GaugeMetricFamily(
            "steward_sync_last_status",
            "Each source's last ingest run (1 ok, 0 not).",
            labels=["source"],
        ),
        GaugeMetricFamily(
            "steward_sync_last_documents",
            "Documents by outcome in each last sync.",
            labels=["source", "what"],
        ),
        GaugeMetricFamily(
            "steward_hygiene_items", "Findings of the last hygiene scan.", labels=["kind"]
        ),
        GaugeMetricFamily(
            "steward_feedback_precision",
            "Share of judged results that were relevant.",
            labels=["source"],
        ),
        GaugeMetricFamily(
            "steward_answer_freshness",
            "Share of the last week's retrieval results served from verified, unexpired pages "
            "without an open conflict.",
            labels=["source"],
        ),
        GaugeMetricFamily(
            "steward_answer_freshness_results",
            "Retrieval results of the last week that answer freshness is measured over.",
            labels=["source"],
        ),
    )
