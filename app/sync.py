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
from connectors.base import Connector, ListedOnce
from ingest.pipeline import Progress
from steward.domain import Partition, as_utc
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
    partition: Partition | None = None,
    finish: bool = True,
) -> dict[str, Any]:
    """Sync one source of the sources file; the run's summary as a dict.

    `incremental` lists only what changed since the last successful run began (where the
    connector can; a full sync otherwise, and always for the first one); it prunes nothing.

    A source declared with `partitions: N` syncs bucket by bucket, one after another (each
    lists the source, but holds and writes only its own documents), or only `partition`.
    `finish=False` leaves out what follows a whole sync (the after-sync steps and the webhook):
    a bucket synced as one of a fan-out's tasks, whose last one calls `finish_sync`.
    """
    settings = runtime.settings
    declared = load_sources(settings.home.sources_file)
    if name not in declared:
        raise ConfigError(f"no source {name} in {settings.home.sources_file}")
    pipeline = runtime.pipeline
    if allow_deletes:
        pipeline.settings = pipeline.settings.model_copy(update={"max_delete_share": 1.0})
    config = declared[name]
    of = config.partitions
    if partition is not None and partition.of != of:
        raise ConfigError(
            f"partition {partition} of source {name}: the source has partitions: {of} "
            f"in {settings.home.sources_file}"
        )
    if incremental and of > 1:
        # One bucket's last good run says nothing of another's: a shared `since` could skip
        # the changes a failed bucket has not taken in yet.
        raise ConfigError(f"source {name} is partitioned ({of}): incremental syncs are not")
    buckets = [partition] if partition is not None else [Partition(i, of) for i in range(of)]
    parts: list[dict[str, Any]] = []
    try:
        runtime.catalog.save_source(name, config.connector, config.model_dump(mode="json"))
        connector = build_connector(name, config, settings.home.home, settings.outbound.policy())
        since = None
        if incremental and hasattr(connector, "list_changed"):
            last = runtime.catalog.last_good_run(name)
            since = as_utc(last.started_at) if last else None
        try:
            source: Connector = connector if len(buckets) == 1 else ListedOnce(connector)
            for bucket in buckets:
                summary = pipeline.run(
                    source, progress or _quiet, since, bucket if of > 1 else None
                )
                parts.append(summary.as_dict())
        finally:
            close = getattr(connector, "close", None)
            if close is not None:
                close()  # an HTTP client's connections (web and SaaS sources)
    except Exception as error:
        failed = {"source": name, "status": "failed", "error": f"{type(error).__name__}: {error}"}
        runtime.webhooks.send(SYNC_FAILED, failed)
        raise
    result = parts[0] if len(parts) == 1 else combined(parts)
    return finish_sync(runtime, result) if finish else result


def finish_sync(runtime: Runtime, result: dict[str, Any]) -> dict[str, Any]:
    """What follows a whole sync: the after-sync steps when it went well, then the webhook."""
    if result["status"] == "ok":
        run_after_sync(runtime.after_sync, result)
    runtime.webhooks.send(
        SYNC_FINISHED if result["status"] == "ok" else SYNC_FAILED, counts(result)
    )
    return result


def combined(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One summary of a partitioned source's buckets: counts summed, failures named by bucket."""
    failures = [p for p in parts if p.get("status") != "ok"]
    result: dict[str, Any] = {
        "source": parts[0]["source"],
        "status": "failed" if failures else "ok",
        "error": "; ".join(f"partition {p.get('partition')}: {p.get('error')}" for p in failures)
        or None,
        "incremental": any(p.get("incremental") for p in parts),
        "partitions": [p.get("partition") for p in parts],
        "skipped": [s for p in parts for s in p.get("skipped") or []],
    }
    for key in (*COUNTED, "chunks_cached", "boilerplate_lines_removed"):
        result[key] = sum(int(p.get(key) or 0) for p in parts)
    for key in ("seconds", "embed_seconds"):
        result[key] = sum(float(p.get(key) or 0.0) for p in parts)
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
