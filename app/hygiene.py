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


def scan_hygiene(runtime: Components, progress: Progress | None = None) -> ScanReport:
    """Scan the runtime's index and catalog with its hygiene settings; the report."""
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
        records = HygieneRecords(runtime.database)
        return scan(runtime.store, runtime.catalog, records, settings, judge, progress)
    finally:
        if judge is not None:
            judge.close()
