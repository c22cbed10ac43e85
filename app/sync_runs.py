"""Syncs started on request (POST /sources/{name}/sync): a run id at once, the work elsewhere.

`SyncRuns` is the seam: `ThreadSyncRuns` (here) runs each sync in a thread of this process, the
embedded mode, where the API process owns the index; `jobs.sync_runs.CelerySyncRuns` enqueues
the `steward.sync_source` task, the distributed mode. Both answer `get(run_id)` with a `SyncRun`:
its status, its progress while it runs (documents read and indexed so far, from the pipeline's
progress callback), and its counts or error when it ends.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, Protocol

from app.runtime import Runtime
from app.sources import load_sources
from app.sync import counts, sync_source
from steward.audit import audit, require_actor
from steward.database import Database
from steward.domain import utc_now
from steward.errors import BusyError, NotFoundError

log = logging.getLogger("steward.sync")

# interrupted: the process running it stopped before it ended (marked at the next start).
Status = Literal["queued", "running", "ok", "failed", "interrupted"]


@dataclass(frozen=True, slots=True)
class SyncRun:
    """A sync asked for by id: where it stands, and what it did once it is done."""

    run_id: str
    source: str
    status: Status
    requested_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # stage ("read" or "index"), done and total of that stage, documents read and indexed.
    progress: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None  # app.sync.counts of the summary
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "source": self.source,
            "status": self.status,
            "requested_at": self.requested_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "progress": dict(self.progress),
            "result": self.result,
            "error": self.error,
        }


class SyncRuns(Protocol):
    """Start a source's sync and follow it by id."""

    def start(self, source: str, allow_deletes: bool = False) -> SyncRun:
        """The new run (queued); NotFoundError for an undeclared source, BusyError while one
        of that source is running."""
        ...

    def get(self, run_id: str) -> SyncRun:
        """The run as it stands; NotFoundError for an unknown id."""
        ...

    def close(self) -> None: ...


def start_for(runs: SyncRuns, database: Database, source: str, actor: str) -> SyncRun:
    """Start a sync someone asked for (the dashboard's "Sync now"), and put who asked in the
    audit log; the errors of `SyncRuns.start`."""
    require_actor(actor)
    run = runs.start(source)
    with database.begin() as conn:
        audit(conn, actor, "sync", source, run_id=run.run_id)
    return run


def check_declared(runtime: Runtime, source: str) -> None:
    """NotFoundError unless steward.yaml declares `source` (ConfigError without the file)."""
    if source not in load_sources(runtime.settings.home.sources_file):
        raise NotFoundError("source", source)


class ProgressOf:
    """The pipeline's progress callback, kept as a run's `progress` (documents read, indexed)."""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {"stage": None, "done": 0, "total": 0, "read": 0, "indexed": 0}

    def __call__(self, stage: str, done: int, total: int) -> None:
        state = {**self.state, "stage": stage, "done": done, "total": total}
        state["read" if stage == "read" else "indexed"] = done
        self.state = state  # one assignment: a reader in another thread sees a whole state


Sync = Callable[..., dict[str, Any]]


def _from_record(record: dict[str, Any]) -> SyncRun:
    return SyncRun(
        run_id=record["run_id"],
        source=record["source"],
        status=record["status"],
        requested_at=record["requested_at"],
        started_at=record["started_at"],
        finished_at=record["finished_at"],
        progress=dict(record["progress"] or {}),
        result=record["result"],
        error=record["error"],
    )


class ThreadSyncRuns:
    """The embedded mode: each sync in a thread of this process, one per source at a time.

    Every run is recorded in the catalog as it is asked for, starts and ends, so its id is
    still readable after a restart (open_runtime marks the runs a stopped process left
    unfinished as interrupted); the progress of a running one is read from this process.
    """

    def __init__(self, runtime: Runtime, sync: Sync = sync_source) -> None:
        self._runtime = runtime
        self._catalog = runtime.catalog
        self._sync = sync
        self._lock = threading.Lock()
        self._active: dict[str, SyncRun] = {}  # run id -> run, until it ends
        self._progress: dict[str, ProgressOf] = {}
        self._running: dict[str, str] = {}  # source -> run id
        self._threads: dict[str, threading.Thread] = {}

    def start(self, source: str, allow_deletes: bool = False) -> SyncRun:
        run = self._register(source)
        # The caller's context goes along: the sync's log lines name the request that started
        # it (steward/logs.py).
        thread = threading.Thread(
            target=contextvars.copy_context().run,
            args=(self._work, run.run_id, allow_deletes),
            name=f"sync {source}",
        )
        with self._lock:
            self._threads[run.run_id] = thread
        thread.start()
        log.info("the sync of %s started as run %s", source, run.run_id)
        return run

    def run(self, source: str) -> dict[str, Any]:
        """Sync `source` in the calling thread as a run like the others (the embedded
        scheduler's syncs); its counts. BusyError while one of that source is under way."""
        return self._work(self._register(source).run_id, False)

    def _register(self, source: str) -> SyncRun:
        check_declared(self._runtime, source)
        with self._lock:
            if source in self._running:
                raise BusyError(f"a sync of source {source!r}", self._running[source])
            run = SyncRun(str(uuid.uuid4()), source, "queued", utc_now())
            self._running[source] = run.run_id
        try:
            self._catalog.add_sync_run(run.as_dict())
        except BaseException:
            with self._lock:
                del self._running[source]
            raise
        with self._lock:
            self._active[run.run_id] = run
            self._progress[run.run_id] = ProgressOf()
        return run

    def get(self, run_id: str) -> SyncRun:
        with self._lock:
            run = self._active.get(run_id)
            progress = self._progress.get(run_id)
        if run is not None:
            if progress is not None and run.status == "running":
                return replace(run, progress=dict(progress.state))
            return run
        record = self._catalog.sync_run(run_id)
        if record is None:
            raise NotFoundError("sync run", run_id)
        return _from_record(record)

    def wait(self, run_id: str, timeout: float | None = None) -> SyncRun:
        """The run once its thread is done (or as it stands after `timeout`)."""
        with self._lock:
            thread = self._threads.get(run_id)
        if thread is not None:
            thread.join(timeout)
        return self.get(run_id)

    def close(self) -> None:
        """Wait for the running syncs: the index they write closes with the process."""
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join()

    def _work(self, run_id: str, allow_deletes: bool) -> dict[str, Any]:
        with self._lock:
            run = self._active[run_id] = replace(
                self._active[run_id], status="running", started_at=utc_now()
            )
            progress = self._progress[run_id]
        try:
            self._catalog.update_sync_run(run_id, status="running", started_at=run.started_at)
            summary = self._sync(self._runtime, run.source, allow_deletes, progress)
        except Exception as error:  # the run reports it; the server goes on
            log.exception("the sync of %s (run %s) failed", run.source, run_id)
            reason = f"{type(error).__name__}: {error}"
            self._end(run_id, progress, "failed", None, reason)
            return {"source": run.source, "status": "failed", "error": reason}
        short = counts(summary)
        status: Status = "ok" if summary.get("status") == "ok" else "failed"
        self._end(run_id, progress, status, short, summary.get("error"))
        return short

    def _end(
        self,
        run_id: str,
        progress: ProgressOf,
        status: Status,
        result: dict[str, Any] | None,
        error: str | None,
    ) -> None:
        with self._lock:
            ended = replace(
                self._active[run_id],
                status=status,
                finished_at=utc_now(),
                progress=dict(progress.state),
                result=result,
                error=error,
            )
            self._active[run_id] = ended
        try:
            self._catalog.update_sync_run(
                run_id,
                status=status,
                finished_at=ended.finished_at,
                progress=ended.progress,
                result=result,
                error=error,
            )
        except Exception:  # the catalog is unavailable: the run is still known until a restart
            log.exception("the end of sync run %s was not recorded in the catalog", run_id)
            return
        finally:
            with self._lock:
                self._progress.pop(run_id, None)
                self._threads.pop(run_id, None)
                if self._running.get(ended.source) == run_id:
                    del self._running[ended.source]
        with self._lock:
            del self._active[run_id]
