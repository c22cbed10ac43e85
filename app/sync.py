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
from steward.webhooks import SYNC_FAILED, SYNC_FINISHED


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
    try:
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
    except Exception as error:
        failed = {"source": name, "status": "failed", "error": f"{type(error).__name__}: {error}"}
        runtime.webhooks.send(SYNC_FAILED, failed)
        raise
    result = summary.as_dict()
    if summary.status == "ok":
        run_after_sync(runtime.after_sync, result)
    runtime.webhooks.send(SYNC_FINISHED if summary.status == "ok" else SYNC_FAILED, counts(result))
    return result


# What a sync's summary says in a webhook and a run's result: the counts, not every skipped path.
COUNTED = (
    "listed",
    "new",
    "changed",
    "metadata_only",
    "moved",
    "unchanged",
    "deleted",
    "chunks",
    "chunks_embedded",
)


def counts(summary: dict[str, Any]) -> dict[str, Any]:
    """A sync's outcome in short: source, status, error, the document counts, the duration."""
    short = {key: summary.get(key) for key in ("source", "status", "error", "incremental")}
    short.update({key: int(summary.get(key) or 0) for key in COUNTED})
    short["skipped"] = len(summary.get("skipped") or [])
    short["seconds"] = round(float(summary.get("seconds") or 0.0), 3)
    scan = summary.get("hygiene")
    if isinstance(scan, dict):
        short["hygiene"] = {k: v for k, v in scan.items() if isinstance(v, int)}
    return short
