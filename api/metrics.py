"""GET /metrics in the Prometheus text format: this process's counters, and the catalog's state.

Counted here (per process): `/retrieve` latency as a histogram, requests and zero-result
answers. Read from the catalog at scrape time: the latest evaluation scores per golden set and
regressions, each source's last sync, hygiene items of the last scan, feedback precision.
"""

from __future__ import annotations

import bisect
import threading
from typing import Any

from evaluation.feedback import FeedbackRecords
from evaluation.probes import PROBE_SET
from evaluation.runs import EvalRecords
from hygiene.records import HygieneRecords
from steward.catalog import Catalog

BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ServiceMetrics:
    """What this process counts itself; one instance per app."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.buckets = [0] * (len(BUCKETS_S) + 1)
        self.latency_sum = 0.0
        self.retrieves = 0
        self.zero_results = 0

    def observe_retrieve(self, seconds: float, results: int) -> None:
        with self._lock:
            self.buckets[bisect.bisect_left(BUCKETS_S, seconds)] += 1
            self.latency_sum += seconds
            self.retrieves += 1
            self.zero_results += 0 if results else 1


def _label(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(metrics: ServiceMetrics, catalog: Catalog) -> str:
    lines: list[str] = []

    def family(name: str, kind: str, text: str) -> None:
        lines.extend([f"# HELP {name} {text}", f"# TYPE {name} {kind}"])

    family("steward_retrieve_latency_seconds", "histogram", "POST /retrieve latency.")
    with metrics._lock:
        buckets, total, count = list(metrics.buckets), metrics.latency_sum, metrics.retrieves
        zero = metrics.zero_results
    running = 0
    for bound, hits in zip(BUCKETS_S, buckets, strict=False):
        running += hits
        lines.append(f'steward_retrieve_latency_seconds_bucket{{le="{bound}"}} {running}')
    lines.append(f'steward_retrieve_latency_seconds_bucket{{le="+Inf"}} {count}')
    lines.append(f"steward_retrieve_latency_seconds_sum {total:.6f}")
    lines.append(f"steward_retrieve_latency_seconds_count {count}")
    family("steward_retrieve_zero_results_total", "counter", "Answers with no result.")
    lines.append(f"steward_retrieve_zero_results_total {zero}")

    records = EvalRecords(catalog)
    family("steward_eval_score", "gauge", "Latest evaluation run's metrics per golden set.")
    family_regressed: list[str] = []
    latest: dict[str, dict[str, Any]] = {}
    for name in records.names():
        newest = records.runs(name, limit=1)
        if newest and newest[0]["status"] == "ok":
            latest[name] = newest[0]
    for name, run in latest.items():
        label = f'golden_set="{_label(name)}"'
        for metric, value in (run["metrics"] or {}).items():
            lines.append(f'steward_eval_score{{{label},metric="{metric}"}} {value}')
        family_regressed.append(
            f"steward_eval_regression{{{label}}} {1 if run['regression'] else 0}"
        )
    family("steward_eval_regression", "gauge", "1 when the latest run regressed.")
    lines.extend(family_regressed)

    family("steward_probe_hit_rate", "gauge", "Share of probes finding their own document.")
    if PROBE_SET in latest:
        hit_rate = (latest[PROBE_SET]["metrics"] or {}).get("recall@10", 0)
        lines.append(f"steward_probe_hit_rate {hit_rate}")
    family("steward_sync_last_status", "gauge", "Each source's last ingest run (1 ok, 0 not).")
    family_documents: list[str] = []
    for source in catalog.sources():
        last = catalog.last_run(source)
        if last is not None:
            ok = 1 if last["status"] == "ok" else 0
            lines.append(f'steward_sync_last_status{{source="{_label(source)}"}} {ok}')
            summary = last.get("summary") or {}
            for what in ("new", "changed", "deleted", "skipped"):
                value = summary.get(what, 0)
                value = len(value) if isinstance(value, list) else int(value or 0)
                labels = f'source="{_label(source)}",what="{what}"'
                family_documents.append(f"steward_sync_last_documents{{{labels}}} {value}")
    family("steward_sync_last_documents", "gauge", "Documents by outcome in each last sync.")
    lines.extend(family_documents)

    family("steward_hygiene_items", "gauge", "Findings of the last hygiene scan.")
    scan = HygieneRecords(catalog).last_scan()
    summary = (scan or {}).get("summary") or {}
    for kind in ("duplicates", "superseded", "unresolved_conflicts", "chunk_duplicates"):
        lines.append(f'steward_hygiene_items{{kind="{kind}"}} {int(summary.get(kind, 0))}')
    for state, count in (summary.get("states") or {}).items():
        lines.append(f'steward_hygiene_items{{kind="state_{_label(state)}"}} {int(count)}')

    family("steward_feedback_precision", "gauge", "Share of judged results that were relevant.")
    for source, found in FeedbackRecords(catalog).precision_by_source().items():
        lines.append(
            f'steward_feedback_precision{{source="{_label(source)}"}} {found["precision"]:.6f}'
        )
    return "\n".join(lines) + "\n"
