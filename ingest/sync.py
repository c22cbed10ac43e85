"""Sync declared sources: the one function the CLI, the Celery tasks and the scheduler call.

Hooks registered with `after_sync` run after every successful sync of a source, in the process
that synced (the evaluation runs of a later issue attach here); a failing hook is logged and
never fails the sync.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC
from typing import Any

from ingest.pipeline import Progress
from steward.errors import ConfigError
from steward.runtime import Runtime
from steward.sources import build_connector, load_sources

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
        since = last["started_at"] if last else None
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
    summary = pipeline.run(connector, progress or _quiet, since)
    result = summary.as_dict()
    if summary.status == "ok":
        for hook in list(_hooks):
            try:
                hook(runtime, result)
            except Exception:  # a hook is someone else's code: report it, keep the sync
                log.exception("after-sync hook %r failed for source %s", hook, name)
    return result
