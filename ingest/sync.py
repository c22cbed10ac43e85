"""Sync declared sources: the one function the CLI, the Celery tasks and the scheduler call."""

from __future__ import annotations

from typing import Any

from ingest.pipeline import Progress
from steward.errors import ConfigError
from steward.runtime import Runtime
from steward.sources import build_connector, load_sources


def sync_source(
    runtime: Runtime,
    name: str,
    allow_deletes: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Sync one source of the sources file; the run's summary as a dict."""
    settings = runtime.settings
    declared = load_sources(settings.home.sources_file)
    if name not in declared:
        raise ConfigError(f"no source {name} in {settings.home.sources_file}")
    pipeline = runtime.pipeline
    if allow_deletes:
        pipeline.settings = pipeline.settings.model_copy(update={"max_delete_share": 1.0})
    connector = build_connector(name, declared[name], settings.home.home)
    if progress is None:
        return pipeline.run(connector).as_dict()
    return pipeline.run(connector, progress).as_dict()
