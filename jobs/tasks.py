"""Named, idempotent tasks that take ids: thin adapters over `app.sync`."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import redis
from celery.exceptions import Retry, SoftTimeLimitExceeded
from celery.signals import worker_process_init, worker_process_shutdown
from redis.exceptions import LockError

from app.runtime import Runtime, open_runtime
from app.sources import load_sources
from app.sync import combined, counts, finish_sync
from app.sync_runs import ProgressOf
from jobs.celery_app import app
from jobs.sync_runs import active_key
from steward import tracing
from steward.domain import Partition, rfc3339, utc_now
from steward.errors import CatalogError, ConfigError, SourceError, StoreError
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


def lock_key(name: str, bucket: Partition) -> str:
    """The Redis lock of one bucket of a source (of the source itself when it has one)."""
    return f"steward:sync:{name}" if bucket.of == 1 else f"steward:sync:{name}:{bucket}"


class BusyBucket(Exception):
    """A bucket's lock is held by another sync."""


@contextmanager
def holding(
    client: redis.Redis, name: str, buckets: list[Partition], ttl_s: float
) -> Iterator[None]:
    """Hold the locks of these buckets of a source, kept alive while this worker works (a
    killed worker's expire in one TTL); all or none: BusyBucket when one is taken."""
    locks = [client.lock(lock_key(name, b), timeout=ttl_s) for b in buckets]
    taken: list[Any] = []
    for lock in locks:
        if not lock.acquire(blocking=False):
            for held in taken:
                held.release()
            raise BusyBucket(name)
        taken.append(lock)
    done = threading.Event()

    def keep_locks() -> None:
        while not done.wait(ttl_s / 3):
            try:
                for lock in locks:
                    lock.reacquire()
            except LockError:
                return

    heartbeat = threading.Thread(target=keep_locks, name=f"lock {name}", daemon=True)
    heartbeat.start()
    try:
        yield
    finally:
        done.set()
        heartbeat.join()
        for lock in locks:
            try:
                lock.release()
            except LockError:
                pass  # expired while we worked: another sync may already hold it


# A sync's task: acknowledged after it ends (a killed worker's is redelivered), retried with
# backoff on a store, catalog or connection error.
SYNC_TASK: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "autoretry_for": (StoreError, CatalogError, ConnectionError),
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "max_retries": 8,
}


def _under_locks(
    task: Any, name: str, buckets: list[Partition], run: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """`run()` holding these buckets' locks; the task is retried later when one is taken, or
    when the sync ran past the soft time limit (Celery's Retry, raised from here)."""
    settings = process.runtime.settings
    client = process.redis(settings.jobs.broker_url)
    try:
        with holding(client, name, buckets, settings.jobs.lock_ttl_s):
            try:
                return run()
            except SoftTimeLimitExceeded:
                raise task.retry(countdown=60) from None
    except BusyBucket:
        raise task.retry(countdown=settings.jobs.lock_ttl_s, max_retries=None) from None


def _declared_partitions(name: str) -> int:
    """The source's `partitions` in steward.yaml (1 when it is not declared: the sync says so)."""
    found = load_sources(process.runtime.settings.home.sources_file).get(name)
    return found.partitions if found is not None else 1


@app.task(name="steward.sync_source", **SYNC_TASK)
def sync_source(self: Any, name: str, allow_deletes: bool = False) -> dict[str, Any]:
    """Sync one source (a partitioned one bucket after bucket, in this worker); a second sync of
    the same source, or of one of its buckets, waits for the first (locks)."""
    from app.sync import sync_source as run_sync

    live = process.runtime  # before taking the lock: loading the model takes seconds
    progress = TaskProgress(self, utc_now())

    def run() -> dict[str, Any]:
        progress("starting", 0, 0)
        try:
            return run_sync(live, name, allow_deletes, progress)
        except SourceError as error:
            return {"source": name, "status": "failed", "error": error.reason}

    of = _declared_partitions(name)
    retried = False
    try:
        summary = _under_locks(self, name, [Partition(i, of) for i in range(of)], run)
    except Retry:
        retried = True
        raise
    finally:
        if not retried:  # a retried run is still the source's run under way
            _release_source(process.redis(live.settings.jobs.broker_url), name, self.request.id)
    # The summary, plus what GET /sources/{name}/sync/{run_id} reads (jobs/sync_runs.py).
    return {**summary, **progress.ended(summary)}


def round_key(round_id: str) -> str:
    return f"steward:sync-round:{round_id}"


@app.task(name="steward.sync_partitions", acks_late=True)
def sync_partitions(name: str, allow_deletes: bool = False) -> dict[str, Any]:
    """Fan a partitioned source's sync out: one `steward.sync_partition` task per bucket, for
    whichever workers are free; the last bucket to end runs what follows a whole sync once.
    A source of one bucket is one `steward.sync_source` task."""
    of = _declared_partitions(name)
    if of == 1:
        return {"source": name, "tasks": [sync_source.delay(name, allow_deletes).id]}
    round_id = str(uuid.uuid4())
    client = process.redis(process.runtime.settings.jobs.broker_url)
    # Kept as long as a run's result (7 days): a bucket waiting on a busy lock still counts.
    client.set(f"{round_key(round_id)}:left", of, ex=7 * 24 * 3600)
    tasks = [
        sync_partition.delay(name, index, of, allow_deletes, round_id).id for index in range(of)
    ]
    return {"source": name, "round": round_id, "tasks": tasks}


@app.task(name="steward.sync_partition", **SYNC_TASK)
def sync_partition(
    self: Any,
    name: str,
    index: int,
    of: int,
    allow_deletes: bool = False,
    round_id: str | None = None,
) -> dict[str, Any]:
    """Sync one bucket of a partitioned source; with `round_id`, the bucket that ends the
    round (the last of `steward.sync_partitions`' tasks) runs the scan and the webhook."""
    from app.sync import sync_source as run_sync

    live = process.runtime
    bucket = Partition(index, of)
    progress = TaskProgress(self, utc_now())

    def run() -> dict[str, Any]:
        progress("starting", 0, 0)
        try:
            return run_sync(live, name, allow_deletes, progress, partition=bucket, finish=False)
        except (SourceError, ConfigError) as error:  # ConfigError: steward.yaml changed since
            reason = error.reason if isinstance(error, SourceError) else str(error)
            return {"source": name, "status": "failed", "error": reason, "partition": str(bucket)}

    summary = _under_locks(self, name, [bucket], run)
    if round_id is not None:
        _end_bucket(live, round_id, summary)
    return {**summary, **progress.ended(summary)}


def _end_bucket(live: Runtime, round_id: str, summary: dict[str, Any]) -> None:
    """Count one bucket of a round as done; the last one combines them and finishes the sync."""
    client = process.redis(live.settings.jobs.broker_url)
    key = round_key(round_id)
    short = {**counts(summary), "partition": summary.get("partition")}
    with client.pipeline() as both:  # one transaction: the result is there before the count
        both.rpush(f"{key}:results", json.dumps(short))
        both.expire(f"{key}:results", 7 * 24 * 3600)
        both.decr(f"{key}:left")
        left = both.execute()[-1]
    if left != 0:
        return
    parts = [json.loads(raw) for raw in client.lrange(f"{key}:results", 0, -1)]
    client.delete(f"{key}:results", f"{key}:left")
    finish_sync(live, combined(parts))


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
    declared = load_sources(load_settings().home.sources_file)
    for name, config in declared.items():
        if config.partitions > 1:
            sync_partitions.delay(name)
        else:
            sync_source.delay(name)
    return list(declared)


@app.task(name="steward.evaluate_all", acks_late=True)
def evaluate_all(probes: bool = True) -> list[dict[str, Any]]:
    """Run every golden set (and the probes) on steward.yaml's evaluation schedule."""
    from evaluation.runs import evaluate_all as run_all

    return run_all(process.runtime, "schedule", probes)
