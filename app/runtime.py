"""Build the components of one process from its settings (the composition root)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from app.after_sync import AfterSync, reevaluate, rescan
from evaluation.feedback import QueryLog
from evaluation.runs import EvalRecords, evaluate_all
from hygiene.records import HygieneRecords, SnapshotCache
from hygiene.view import ViewCache
from ingest.pipeline import IngestPipeline
from retrieval.edge_store import EdgeStore
from retrieval.embed import Embedder, open_embedder
from retrieval.query_batch import BatchedQueries
from retrieval.search import Retriever
from retrieval.server_embed import open_server_embedder
from retrieval.sparse import Bm25Encoder
from retrieval.store import VectorStore
from steward.catalog import Catalog
from steward.database import Database
from steward.errors import ConfigError, StoreError
from steward.settings import Settings
from steward.webhooks import Webhooks

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from hygiene.findings import ScanReport


def open_store(settings: Settings) -> VectorStore:
    if settings.index.backend == "edge":
        return EdgeStore(settings.home.index_dir)
    if not settings.index.url:
        raise ConfigError("STEWARD_INDEX_URL: required when STEWARD_INDEX_BACKEND=qdrant")
    # Imported here: qdrant-client takes 0.7-1.7 s to import, which the embedded index never needs.
    from retrieval.qdrant_store import QdrantStore

    key = settings.index.api_key
    return QdrantStore(
        settings.index.url,
        settings.index.collection,
        key.get_secret_value() if key else None,
    )


@dataclass
class Runtime:
    """The long-lived clients of one process; close it when the process is done."""

    settings: Settings
    database: Database
    catalog: Catalog
    store: VectorStore
    embedder: Embedder
    sparse: Bm25Encoder
    hygiene: SnapshotCache
    query_log: QueryLog
    # The owners' listings' view of the catalog (the dashboard's pages), read again on a change.
    listings: ViewCache
    # What runs after each good sync, in order (app.sync); open_runtime wires the scan and the
    # evaluation runs, and anyone may add more.
    after_sync: list[AfterSync] = field(default_factory=list)
    # Where events go (sync finished or failed, a regression, new conflicts); none by default.
    webhooks: Webhooks = field(default_factory=Webhooks)

    @property
    def retriever(self) -> Retriever:
        return Retriever(
            self.store,
            self.embedder,
            self.sparse,
            self.settings.retrieval,
            self.settings.hygiene,
            self.hygiene,
        )

    @property
    def pipeline(self) -> IngestPipeline:
        return IngestPipeline(
            self.catalog, self.store, self.embedder, self.sparse, self.settings.ingest
        )

    def close(self) -> None:
        self.webhooks.close()  # what is queued goes out first (for a few seconds at most)
        self.store.close()
        self.database.close()
        if isinstance(self.embedder, BatchedQueries):
            self.embedder.close()


def open_runtime(settings: Settings, embedder: Embedder | None = None) -> Runtime:
    """Open catalog and store and the model (its weights load when a text is first embedded);
    an embedder may be handed in (tests share one)."""
    store = open_store(settings)
    try:
        database = Database(settings.home.catalog_url(settings.catalog))
        model = embedder or _open_embedder(settings)
        if not isinstance(model, BatchedQueries):
            # Concurrent requests' queries share the model's passes (retrieval.query_batch).
            model = BatchedQueries(model)
        built = store.built_with()
        if built is not None and built != (model.dimension, model.name):
            raise StoreError(
                f"the index was built with {built[1]!r} ({built[0]} dimensions) but "
                f"STEWARD_EMBED_MODEL is {model.name!r} ({model.dimension}); use the same model, "
                "or re-ingest into a new STEWARD_HOME or collection"
            )
        # A run left `running` by a process that died would read as in progress forever. Only
        # the embedded index's holder may say so: it is the one process that can evaluate (the
        # index is locked to it); with a Qdrant server, workers run evaluations concurrently.
        if settings.index.backend == "edge":
            interrupted = EvalRecords(database).interrupt_running()
            if interrupted:
                log.warning("marked %d evaluation run(s) left running as failed", interrupted)
            # The same for the syncs asked for over HTTP that this process's predecessor ran.
            stopped = Catalog(database).interrupt_sync_runs()
            if stopped:
                log.warning("marked %d sync run(s) left unfinished as interrupted", stopped)
    except BaseException:
        store.close()
        raise
    records = HygieneRecords(database)
    api = settings.api
    query_log = QueryLog(
        database,
        api.query_log_retention_days,
        api.keeps_query_text(settings.auth.enabled),
    )
    query_log.prune_when_due()  # at start: a process that logs nothing still honours retention
    catalog = Catalog(database)
    # A catalog written before configurations were masked may still hold a source's password;
    # best-effort, like the pruning: a locked catalog is masked by the next process.
    try:
        if catalog.mask_stored_secrets():
            log.warning("masked the secrets of source configurations stored in clear")
    except SQLAlchemyError as error:
        log.warning("stored source configurations were not checked: %s", type(error).__name__)
    runtime = Runtime(
        settings=settings,
        database=database,
        catalog=catalog,
        store=store,
        embedder=model,
        sparse=Bm25Encoder(settings.index.bm25_avg_len),
        hygiene=SnapshotCache(records),
        query_log=query_log,
        listings=ViewCache(database),
        webhooks=Webhooks.from_settings(settings),
    )
    runtime.after_sync += [
        # A scan when anything changed (and the retrieval's hygiene marks refreshed after it),
        # then every golden set measured against what changed.
        AfterSync(
            "hygiene",
            partial(rescan, settings.hygiene, partial(_scan, runtime), records, runtime.hygiene),
        ),
        AfterSync("evaluation", partial(reevaluate, partial(evaluate_all, runtime, "sync"))),
    ]
    return runtime


def _open_embedder(settings: Settings) -> Embedder:
    """The model in this process (loaded on first use), or the embedding server's client."""
    embedding = settings.embedding
    if embedding.backend == "local":
        return open_embedder(embedding.model, embedding.batch_size, embedding.device)
    return open_server_embedder(embedding, settings.outbound.policy())


def _scan(runtime: Runtime) -> ScanReport:
    # Imported when a sync first scans: the scan's modules (MinHash, the conflict rules) take
    # 1.1 s to import on this machine, which `steward query` and the like need not pay.
    from app.hygiene import scan_hygiene

    return scan_hygiene(runtime)
