"""Named, idempotent tasks that take ids: thin adapters over `app.sync`."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import Any

import redis
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init, worker_process_shutdown
from redis.exceptions import LockError

from app.runtime import Runtime, open_runtime
from app.sources import load_sources
from app.sync import counts
from app.sync_runs import ProgressOf
from jobs.celery_app import app
from jobs.sync_runs import active_key
from steward import tracing
from steward.domain import rfc3339, utc_now
from steward.errors import CatalogError, SourceError, StoreError
from steward.settings import load_settings

log = logging.getLogger("steward.jobs")


class WorkerProcess:
    """What one worker process holds: its runtime (catalog, index, model) and Redis clients.

    Opened on `worker_process_init` (each prefork child, or the solo pool's one process) and
    closed on `worker_process_shutdown`; never at import. A worker that could not open it then
    (the catalog down at start) opens it at its next task, so the task retries as before.
    """

    def __init__(self) -> None:
        self._runtime: Runtime | None = None
        self._clients: dict[str, redis.Redis] = {}

    def open(self) -> None:
        if self._runtime is None:
            self._runtime = open_runtime(load_settings())

    @property
    def runtime(self) -> Runtime:
        self.open()
        assert self._runtime is not None
        return self._runtime

    def redis(self, url: str) -> redis.Redis:
        """One Redis client (and connection pool) per URL in this process."""
        if url not in self._clients:
            self._clients[url] = redis.Redis.from_url(url)
        return self._clients[url]

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None
        for client in self._clients.values():
            client.close()
        self._clients.clear()


# Empty until the worker process starts; the signals below fill and empty it.
process = WorkerProcess()


# Connected here, not in celery_app: the app lists this module in `include`, so every worker
# imports it, and celery_app need not import its own tasks.
@worker_process_init.connect
def _open_process(**_: Any) -> None:
    try:
        process.open()
    except Exception:  # Celery would only log it too; the first task tries again
        log.exception("opening this worker's runtime failed; the next task tries again")
        return
    # Per process: a prefork child must not share its parent's span exporter thread.
    tracing.configure(process.runtime.settings.tracing)


@worker_process_shutdown.connect
def _close_process(**_: Any) -> None:
    process.close()


@app.task(
    name="steward.sync_source",
    bind=True,
    acks_late=True,
    autoretry_for=(StoreError, CatalogError, ConnectionError),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
)
def sync_source(self: Any, name: str, allow_deletes: bool = False) -> dict[str, Any]:
    """Sync one source; a second sync of the same source waits for the first (lock)."""
    from app.sync import sync_source as run_sync

    live = process.runtime  # before taking the lock: loading the model takes seconds
    settings = live.settings
    lock = process.redis(settings.jobs.broker_url).lock(
        f"steward:sync:{name}", timeout=settings.jobs.lock_ttl_s
    )
    if not lock.acquire(blocking=False):
        raise self.retry(countdown=settings.jobs.lock_ttl_s, max_retries=None)
    done = threading.Event()

    def keep_lock() -> None:
        # The lock lives only while this worker does: a killed worker's lock expires in one TTL.
        while not done.wait(settings.jobs.lock_ttl_s / 3):
            try:
                lock.reacquire()
            except LockError:
                return

    heartbeat = threading.Thread(target=keep_lock, name=f"lock {name}", daemon=True)
    heartbeat.start()
    progress = TaskProgress(self, utc_now())
    progress("starting", 0, 0)
    retried = False
    try:
        summary = run_sync(live, name, allow_deletes, progress)
    except SoftTimeLimitExceeded:
        retried = True
        raise self.retry(countdown=60) from None
    except SourceError as error:
        summary = {"source": name, "status": "failed", "error": error.reason}
    finally:
        done.set()
        heartbeat.join()
        try:
            lock.release()
        except LockError:
            pass  # expired while we worked: another sync may already hold it
        if not retried:  # a retried run is still the source's run under way
            _release_source(process.redis(settings.jobs.broker_url), name, self.request.id)
    # The summary, plus what GET /sources/{name}/sync/{run_id} reads (jobs/sync_runs.py).
    return {**summary, **progress.ended(summary)}


class TaskProgress:
    """The pipeline's progress as the task's PROGRESS state, at most every half second."""

    def __init__(self, task: Any, started_at: datetime) -> None:
        self._task = task
        self._started_at = rfc3339(started_at)
        self._state = ProgressOf()
        self._sent = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        self._state(stage, done, total)
        now = time.monotonic()
        if now - self._sent < 0.5 and done < total:
            return
        self._sent = now
        if self._task.request.id is not None:  # None when called directly, not as a task
            meta = {"started_at": self._started_at, "progress": self._state.state}
            self._task.update_state(state="PROGRESS", meta=meta)

    def ended(self, summary: dict[str, Any]) -> dict[str, Any]:
        return {
            "started_at": self._started_at,
            "finished_at": rfc3339(utc_now()),
            "progress": self._state.state,
            "result": counts(summary),
        }


def _release_source(client: redis.Redis, name: str, run_id: str | None) -> None:
    """End the source's busy mark (jobs/sync_runs.py) when it is this run's."""
    key = active_key(name)
    if run_id is not None and client.get(key) == run_id.encode():
        client.delete(key)


@app.task(name="steward.sync_all", acks_late=True)
def sync_all() -> list[str]:
    """Queue a sync of every declared source."""
    names = list(load_sources(load_settings().home.sources_file))
    for name in names:
        sync_source.delay(name)
    return names


@app.task(name="steward.evaluate_all", acks_late=True)
def evaluate_all(probes: bool = True) -> list[dict[str, Any]]:
    """Run every golden set (and the probes) on steward.yaml's evaluation schedule."""
    from evaluation.runs import evaluate_all as run_all

    return run_all(process.runtime, "schedule", probes)
