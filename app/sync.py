"""Sync declared sources: the one function the CLI, the Celery tasks and the scheduler call.

After every successful sync of a source, the steps the composition root wired onto the runtime
(`Runtime.after_sync`: the hygiene scan, then the evaluation runs; see `app.after_sync`) run in
the process that synced; a failing step is logged and never fails the sync.
"""

from __future__ import annotations

from typing import Any

from app.after_sync import run_after_sync
from app.runtime import Runtime
from app.sources import build_connector, load_sources
from ingest.pipeline import Progress
from steward.domain import as_utc
from steward.errors import ConfigError


def _quiet(_stage: str, _done: int, _total: int) -> None:
    return None


def scan_after_ingest(runtime: Runtime, summary: dict[str, Any]) -> dict[str, Any] | None:
    """After an ingest outside steward.yaml (`steward ingest`): the wired scan step alone, not
    the evaluation; the scan's summary, or None when none ran."""
    run_after_sync([step for step in runtime.after_sync if step.key == "hygiene"], summary)
    found: dict[str, Any] | None = summary.get("hygiene")
    return found


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
    connector = build_connector(name, config, settings.home.home, settings.outbound.policy())
    since = None
    if incremental and hasattr(connector, "list_changed"):
        last = runtime.catalog.last_good_run(name)
        since = as_utc(last.started_at) if last else None
    try:
        summary = pipeline.run(connector, progress or _quiet, since)
    finally:
        close = getattr(connector, "close", None)
        if close is not None:
            close()  # an HTTP client's connections (web and SaaS sources)
    result = summary.as_dict()
    if summary.status == "ok":
        run_after_sync(runtime.after_sync, result)
    return result
