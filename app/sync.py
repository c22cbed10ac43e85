"""Sync declared sources: the one function the CLI, the Celery tasks and the scheduler call.

Hooks registered with `after_sync` run after every successful sync of a source, in the process
that synced (the evaluation runs of a later issue attach here); a failing hook is logged and
never fails the sync.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from app.runtime import Runtime
from app.sources import build_connector, load_sources
from ingest.pipeline import Progress
from steward.domain import as_utc, utc_now
from steward.errors import ConfigError

log = logging.getLogger("steward.sync")


def _quiet(_stage: str, _done: int, _total: int) -> None:
    return None


AfterSync = Callable[[Runtime, dict[str, Any]], None]
_hooks: list[AfterSync] = []


def after_sync(hook: AfterSync) -> AfterSync:
    """Register `hook(runtime, summary)` to run after each successful sync; returns it."""
    _hooks.append(hook)
    return hook


def remove_after_sync(hook: AfterSync) -> None:
    if hook in _hooks:
        _hooks.remove(hook)


# With nothing changed, a scan is still due this often: review dates pass without any edit.
RESCAN_AFTER = timedelta(hours=1)


def scan_after_ingest(runtime: Runtime, summary: dict[str, Any]) -> dict[str, Any] | None:
    """Run the hygiene scan after a good ingest when anything changed; its summary, or None.

    A failed scan is logged and never fails the ingest: the documents are in.
    """
    from hygiene.records import HygieneRecords
    from hygiene.scan import scan

    if not runtime.settings.hygiene.scan_after_sync:
        return None
    last = HygieneRecords(runtime.database).last_scan()
    if last is not None and not _changed(summary):
        if utc_now() - as_utc(last["finished_at"]) < RESCAN_AFTER:
            return None
    try:
        found = scan(runtime).summary()
    except Exception:  # the ingest stands; the next one scans again
        log.exception("the hygiene scan after ingesting %s failed", summary.get("source"))
        return None
    runtime.hygiene.invalidate()
    return found


def _changed(summary: dict[str, Any]) -> bool:
    """Whether an ingest run changed the index."""
    names = ("new", "changed", "metadata_only", "moved", "deleted")
    return any(int(summary.get(name) or 0) for name in names)


def evaluate_after_sync(runtime: Runtime, summary: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Run every golden set after a sync that changed the index or rescanned it; a short
    summary of each run, or None when nothing changed (the scheduled evaluation still runs).

    A failed evaluation is logged (and stored as failed) and never fails the sync.
    """
    from evaluation.runs import evaluate_all

    if not _changed(summary) and summary.get("hygiene") is None:
        return None
    return evaluate_all(runtime, "sync")


def sync_source(
    runtime: Runtime,
    name: str,
    allow_deletes: bool = False,
    progress: Progress | None = None,
    incremental: bool = False,
) -> dict[str, Any]:
    """Sync one source of the sources file; the run's summary as a dict.

    `incremental` lists only what changed since the last successful run began (where the
    connector can; a full sync otherwise, and always for the first one); it prunes nothing.
    """
    settings = runtime.settings
    declared = load_sources(settings.home.sources_file)
    if name not in declared:
        raise ConfigError(f"no source {name} in {settings.home.sources_file}")
    pipeline = runtime.pipeline
    if allow_deletes:
        pipeline.settings = pipeline.settings.model_copy(update={"max_delete_share": 1.0})
    config = declared[name]
    runtime.catalog.save_source(name, config.connector, config.model_dump(mode="json"))
    connector = build_connector(name, config, settings.home.home)
    since = None
    if incremental and hasattr(connector, "list_changed"):
        last = runtime.catalog.last_good_run(name)
        since = as_utc(last["started_at"]) if last else None
    summary = pipeline.run(connector, progress or _quiet, since)
    result = summary.as_dict()
    if summary.status == "ok":
        result["hygiene"] = scan_after_ingest(runtime, result)
        result["evaluation"] = evaluate_after_sync(runtime, result)
        for hook in list(_hooks):
            try:
                hook(runtime, result)
            except Exception:  # a hook is someone else's code: report it, keep the sync
                log.exception("after-sync hook %r failed for source %s", hook, name)
    return result
