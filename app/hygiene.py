"""The hygiene scan over one process's components: its index, its catalog and, when
`STEWARD_HYGIENE_JUDGE_URL` is set, a judge opened for the scan and closed after it."""

from __future__ import annotations

from typing import Protocol

from hygiene.corpus import Progress
from hygiene.judge import LlmJudge
from hygiene.records import HygieneRecords
from hygiene.scan import ScanReport, scan
from retrieval.store import VectorStore
from steward.catalog import Catalog
from steward.database import Database
from steward.settings import Settings
from steward.webhooks import NEW_CONFLICTS, Webhooks


class Components(Protocol):
    """What a scan uses of a process's runtime (`app.runtime.Runtime`, which wires a scan after
    every sync and so cannot be imported here)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def database(self) -> Database: ...

    @property
    def catalog(self) -> Catalog: ...

    @property
    def store(self) -> VectorStore: ...

    @property
    def webhooks(self) -> Webhooks: ...


# At most this many new conflicts are listed in a webhook's body (its `count` says how many).
LISTED_CONFLICTS = 50


def scan_hygiene(runtime: Components, progress: Progress | None = None) -> ScanReport:
    """Scan the runtime's index and catalog with its hygiene settings; the report.

    Conflicts that the scan found and the previous one did not are sent as one
    `steward.hygiene.new_conflicts` webhook.
    """
    records = HygieneRecords(runtime.database)
    known = {conflict.conflict_id for conflict in records.conflicts()}
    report = _scan(runtime, records, progress)
    new = [c for c in report.conflicts if c.conflict_id not in known and c.resolution is None]
    if new:
        listed = [
            {
                "conflict_id": c.conflict_id,
                "kind": c.kind,
                "a": {"doc_id": c.a_doc, "value": c.a_value},
                "b": {"doc_id": c.b_doc, "value": c.b_value},
                "confidence": c.confidence,
            }
            for c in new[:LISTED_CONFLICTS]
        ]
        body = {"scan_id": report.scan_id, "count": len(new), "conflicts": listed}
        runtime.webhooks.send(NEW_CONFLICTS, body)
    return report


def _scan(runtime: Components, records: HygieneRecords, progress: Progress | None) -> ScanReport:
    settings = runtime.settings.hygiene
    judge = None
    if settings.judge.url:
        judge = LlmJudge(
            settings.judge.url,
            settings.judge.model,
            settings.judge.api_key.get_secret_value() if settings.judge.api_key else None,
            settings.judge.timeout_s,
            outbound=runtime.settings.outbound.policy(),
        )
    try:
        return scan(runtime.store, runtime.catalog, records, settings, judge, progress)
    finally:
        if judge is not None:
            judge.close()
