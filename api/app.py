"""The FastAPI application; clients are built in the lifespan, once per process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import dashboard
from api import errors, mcp
from api.body_limit import BodyLimit
from api.http_metrics import HttpMetrics
from api.inflight import InFlightBound
from api.metrics import CatalogCollector, ServiceMetrics
from api.rate_limit import rate_limiter
from api.request_id import RequestId
from api.routes import documents, evaluation, health, hygiene, keys, metrics, retrieve, sources
from app.runtime import Runtime, open_runtime
from app.sync_runs import SyncRuns, ThreadSyncRuns
from jobs.scheduler import EmbeddedScheduler
from steward import __version__
from steward.settings import Settings, load_settings
from steward.stored_keys import StoredKeys


def _embedded_scheduler(runtime: Runtime, runs: SyncRuns) -> EmbeddedScheduler | None:
    """In embedded mode this process owns the index, so it also runs the schedules (as runs of
    `runs`, so a scheduled sync and one started over HTTP never overlap)."""
    settings = runtime.settings
    if (
        not settings.jobs.embedded_scheduler
        or settings.index.backend != "edge"
        or not settings.home.sources_file.exists()
    ):
        return None
    sync = runs.run if isinstance(runs, ThreadSyncRuns) else None
    return EmbeddedScheduler(runtime, settings.home.sources_file, sync=sync)


def _sync_runs(runtime: Runtime) -> SyncRuns:
    """Where a sync asked for over HTTP runs: a Celery task, or a thread of this process."""
    if runtime.settings.syncs_on_celery:
        # Celery only in distributed mode: an embedded server need not import it.
        from jobs.sync_runs import CelerySyncRuns

        return CelerySyncRuns(runtime)
    return ThreadSyncRuns(runtime)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """An app that opens its own runtime, or serves one handed in (and then leaves it open)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        live = runtime or open_runtime(settings or load_settings())
        app.state.runtime = live
        app.state.retriever = live.retriever
        # Declared keys (settings) and the catalog's, which admins make and revoke at run time.
        declared = live.settings.auth.key_ring().declared_names()
        app.state.stored_keys = StoredKeys(live.database, declared)
        app.state.keys = live.settings.auth.key_ring(app.state.stored_keys.keys)
        # The keys and, behind single sign-on, the JWT verifier: what the routes' callers meet.
        app.state.authenticator = live.settings.auth.authenticator(app.state.keys)
        app.state.rate_limiter = rate_limiter(live.settings.api)
        # The first forward pass of a model is several times slower: pay it before serving.
        live.embedder.embed_query("warm-up")
        app.state.sync_runs = sync_runs = _sync_runs(live)
        scheduler = _embedded_scheduler(live, sync_runs)
        app.state.scheduler = scheduler
        if scheduler is not None:
            scheduler.start()
        catalog_state = CatalogCollector(live.database)
        service_metrics.registry.register(catalog_state)
        try:
            async with mcp_endpoint.running():
                yield
        finally:
            service_metrics.registry.unregister(catalog_state)
            if scheduler is not None:
                scheduler.stop()
            sync_runs.close()  # a running sync ends before the index it writes closes
            if owned:
                live.close()

    app = FastAPI(
        title="Steward",
        version=__version__,
        description="Retrieval over a clean, measured knowledge base.",
        lifespan=lifespan,
    )
    errors.install(app)
    service_metrics = ServiceMetrics()
    app.state.metrics = service_metrics
    app.add_middleware(BodyLimit)
    # Outside the body limit: a request beyond the bound is refused before its body is read.
    app.add_middleware(InFlightBound)
    # Outside both, so their refusals are counted and logged with the request's id too.
    app.add_middleware(HttpMetrics, metrics=service_metrics)
    app.add_middleware(RequestId)
    app.include_router(retrieve.router)
    app.include_router(documents.router)
    app.include_router(hygiene.router)
    app.include_router(evaluation.router)
    app.include_router(sources.router)
    app.include_router(keys.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    mcp_endpoint = mcp.install(app)
    # The owners' dashboard at / (HTML; its routes stay out of the OpenAPI schema).
    dashboard.install(app)
    return app
