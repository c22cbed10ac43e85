"""OpenTelemetry spans around a retrieve (embed, search, fuse, rank) and an ingest run.

Off by default: `span()` is then a `nullcontext` and nothing of OpenTelemetry's SDK is imported.
`configure(settings.tracing)` switches it on when STEWARD_TRACING_ENABLED or the standard
OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_TRACES_EXPORTER variables ask for it (the exporter reads
its endpoint, headers and protocol settings from OTEL_* itself), once per process: the CLI and
each Celery worker process call it at start. Tests call `enable()` with their own provider.

The tracer is process-wide state, as OpenTelemetry's own tracer provider is: spans are opened
deep in the domain (retrieval, ingest), which should not be handed a tracer for them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from steward import __version__
from steward.settings import TracingSettings

log = logging.getLogger("steward.tracing")

_tracer: Any = None
_configured = False


def span(name: str, **attributes: str | int | float | bool) -> AbstractContextManager[Any]:
    """A span named `name` under the current one, or nothing while tracing is off."""
    if _tracer is None:
        return nullcontext()
    opened: AbstractContextManager[Any] = _tracer.start_as_current_span(
        name, attributes=attributes or None
    )
    return opened


def enabled() -> bool:
    return _tracer is not None


def enable(provider: Any) -> None:
    """Trace through `provider` (an OpenTelemetry `TracerProvider`) from now on."""
    global _tracer
    _tracer = provider.get_tracer("steward", __version__)


def disable() -> None:
    global _tracer
    _tracer = None


def configure(settings: TracingSettings, environ: Mapping[str, str] | None = None) -> bool:
    """Switch tracing on when the settings or the OTEL_* variables say so; whether it is on."""
    global _configured
    exporter_name = settings.exporter(os.environ if environ is None else environ)
    if exporter_name is None or _configured:
        return enabled()
    # Imported only now: a process that does not trace pays nothing for the SDK.
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    exporter: SpanExporter
    if exporter_name == "console":
        exporter = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    # The global provider too, so libraries instrumented with OpenTelemetry join the traces.
    trace.set_tracer_provider(provider)
    enable(provider)
    _configured = True
    log.info("tracing on: spans exported by %s", exporter_name)
    return True
