"""The distributed mode's `SyncRuns`: a sync is the `steward.sync_source` Celery task.

The run id is the task's id. Redis (the broker) holds what the result backend cannot say: that
an id was ever given (an unknown one is a 404, where Celery would answer PENDING forever), and
which run of a source is under way (a second start is a 409 until the task ends or the key
expires). The task reports its progress as the PROGRESS state (jobs/tasks.py).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import redis
from celery import Celery
from celery.result import AsyncResult

from app.runtime import Runtime
from app.sync_runs import Status, SyncRun, check_declared
from steward.domain import as_utc, utc_now
from steward.errors import BusyError, NotFoundError

TASK = "steward.sync_source"


def run_key(run_id: str) -> str:
    return f"steward:sync-run:{run_id}"


def active_key(source: str) -> str:
    return f"steward:sync-active:{source}"


class CelerySyncRuns:
    """Enqueues syncs on the broker and reads their state from the result backend."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        jobs = runtime.settings.jobs
        # A producer of its own, built from this process's settings (jobs.celery_app reads the
        # environment at import, which an API built from handed-in settings may not match).
        self._celery = Celery("steward-api", broker=jobs.broker_url, backend=jobs.result_backend)
        self._celery.conf.update(
            task_serializer="json", result_serializer="json", accept_content=["json"]
        )
        self._redis = redis.Redis.from_url(jobs.broker_url)
        # A run is known as long as its result is kept (celery_app: result_expires, 7 days).
        self._keep_s = 7 * 24 * 3600
        # The source counts as busy until its task ends, or this long after a worker died.
        self._busy_s = jobs.soft_time_limit_s + jobs.visibility_timeout_s

    def start(self, source: str, allow_deletes: bool = False) -> SyncRun:
        check_declared(self._runtime, source)
        run = SyncRun(str(uuid.uuid4()), source, "queued", utc_now())
        if not self._redis.set(active_key(source), run.run_id, nx=True, ex=self._busy_s):
            running = self._redis.get(active_key(source)) or b"?"
            shown = running.decode() if isinstance(running, bytes) else str(running)
            raise BusyError(f"a sync of source {source!r}", shown)
        record = {"source": source, "requested_at": run.requested_at.isoformat()}
        self._redis.set(run_key(run.run_id), json.dumps(record), ex=self._keep_s)
        self._celery.send_task(TASK, args=[source, allow_deletes], task_id=run.run_id)
        return run

    def get(self, run_id: str) -> SyncRun:
        raw = self._redis.get(run_key(run_id))
        if raw is None:
            raise NotFoundError("sync run", run_id)
        record = json.loads(raw)
        requested = as_utc(datetime.fromisoformat(record["requested_at"]))
        found = AsyncResult(run_id, app=self._celery)
        state, info = found.state, found.info
        base = SyncRun(run_id, record["source"], "queued", requested)
        if state == "PROGRESS" and isinstance(info, dict):
            return _with(base, "running", info)
        if state == "SUCCESS" and isinstance(info, dict):
            status: Status = "ok" if info.get("status") == "ok" else "failed"
            return _with(base, status, info)
        if state == "FAILURE":
            return SyncRun(
                run_id, base.source, "failed", requested, error=f"{type(info).__name__}: {info}"
            )
        return base  # PENDING, RECEIVED, RETRY (waiting for the source's lock): not started

    def close(self) -> None:
        self._redis.close()
        self._celery.close()


def _with(base: SyncRun, status: Status, info: dict[str, Any]) -> SyncRun:
    """A run from what the task stored: its progress while running, its result when done."""

    def moment(key: str) -> datetime | None:
        value = info.get(key)
        return as_utc(datetime.fromisoformat(value)) if isinstance(value, str) else None

    return SyncRun(
        base.run_id,
        base.source,
        status,
        base.requested_at,
        started_at=moment("started_at"),
        finished_at=moment("finished_at"),
        progress=dict(info.get("progress") or {}),
        result=info.get("result") if status != "running" else None,
        error=info.get("error") if status == "failed" else None,
    )
