"""The hygiene scan over one process's components: its index, its catalog and, when
`STEWARD_HYGIENE_JUDGE_URL` is set, a judge opened for the scan and closed after it."""

from __future__ import annotations

from app.runtime import Runtime
from hygiene.corpus import Progress
from hygiene.judge import LlmJudge
from hygiene.scan import ScanReport, scan


def scan_hygiene(runtime: Runtime, progress: Progress | None = None) -> ScanReport:
    """Scan the runtime's index and catalog with its hygiene settings; the report."""
    settings = runtime.settings.hygiene
    judge = None
    if settings.judge.url:
        judge = LlmJudge(
            settings.judge.url,
            settings.judge.model,
            settings.judge.api_key,
            settings.judge.timeout_s,
        )
    try:
        return scan(runtime.store, runtime.catalog, settings, judge, progress)
    finally:
        if judge is not None:
            judge.close()
