"""Work after a good sync of a source: the hygiene scan, then the evaluation runs.

A sync knows none of it: `app.sync` runs, in order, whatever the composition root
(`app.runtime.open_runtime`) wired onto the runtime's `after_sync`; integrations and tests may
add their own. Each step takes the sync's summary (with the results of the steps before it) and
what it was built with; a failing step is logged and never fails the sync: the documents are in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from hygiene.records import HygieneRecords, SnapshotCache
from steward.domain import as_utc, utc_now
from steward.settings import HygieneSettings

if TYPE_CHECKING:
    from hygiene.findings import ScanReport

log = logging.getLogger("steward.sync")

# With nothing changed, a scan is still due this often: review dates pass without any edit.
RESCAN_AFTER = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class AfterSync:
    """One step after each good sync; its result is kept in the summary under `key` (when set)."""

    key: str | None
    run: Callable[[dict[str, Any]], object]


def run_after_sync(steps: Sequence[AfterSync], summary: dict[str, Any]) -> None:
    """Run every step in order, adding each result to `summary`; a failure is logged."""
    for step in steps:
        try:
            found = step.run(summary)
        except Exception:  # a step may be someone else's code: report it, keep the sync
            log.exception("after-sync step %r failed for source %s", step, summary.get("source"))
            found = None
        if step.key is not None:
            summary[step.key] = found


def changed(summary: dict[str, Any]) -> bool:
    """Whether an ingest run changed the index."""
    names = ("new", "changed", "metadata_only", "moved", "deleted")
    return any(int(summary.get(name) or 0) for name in names)


def rescan(
    settings: HygieneSettings,
    scan: Callable[[], ScanReport],
    records: HygieneRecords,
    marks: SnapshotCache,
    summary: dict[str, Any],
) -> dict[str, Any] | None:
    """Scan after a good ingest when anything changed (or the last scan is an hour old), then
    refresh retrieval's hygiene marks; the scan's summary, or None when none was due.

    A failed scan is logged and never fails the ingest: the documents are in.
    """
    if not settings.scan_after_sync:
        return None
    last = records.last_scan()
    if last is not None and not changed(summary):
        if utc_now() - as_utc(last["finished_at"]) < RESCAN_AFTER:
            return None
    try:
        found = scan().summary()
    except Exception:  # the ingest stands; the next one scans again
        log.exception("the hygiene scan after ingesting %s failed", summary.get("source"))
        return None
    marks.invalidate()
    return found


def reevaluate(
    evaluate: Callable[[], list[dict[str, Any]]], summary: dict[str, Any]
) -> list[dict[str, Any]] | None:
    """Run every golden set after a sync that changed the index or rescanned it; a short
    summary of each run, or None when nothing changed (the scheduled evaluation still runs).

    A failed evaluation is logged (and stored as failed) and never fails the sync.
    """
    if not changed(summary) and summary.get("hygiene") is None:
        return None
    return evaluate()
