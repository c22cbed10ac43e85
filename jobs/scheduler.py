"""Embedded mode's scheduler: steward.yaml's cron schedules, run by a thread of `steward serve`.

The process that serves retrieval owns the embedded index, so it is also the one that syncs;
no Redis is needed. Syncs run one at a time; a failing one is logged and tried at its next time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from croniter import croniter

from app.runtime import Runtime
from app.sources import load_evaluation, load_sources
from app.sync import sync_source
from evaluation.runs import evaluate_all
from steward.domain import utc_now
from steward.errors import StewardError

log = logging.getLogger("steward.scheduler")


# The scheduler's name for steward.yaml's `evaluation:` entry (not a valid source name clash:
# it starts with a colon).
EVALUATION = ":evaluation"


class EmbeddedScheduler:
    """Runs every scheduled source of a sources file when its cron time comes."""

    def __init__(
        self,
        runtime: Runtime,
        sources_file: Path,
        clock: Callable[[], datetime] = utc_now,
        sync: Callable[[str], dict[str, Any]] | None = None,
    ) -> None:
        """`sync(name)` syncs a source (by default `app.sync.sync_source` on `runtime`); the
        API hands in its runs' (`ThreadSyncRuns.run`), so a scheduled sync and one asked for
        over HTTP never run at once."""
        self._clock = clock
        sync = sync or partial(sync_source, runtime)
        # name -> (cron, what to run): each scheduled source, and the evaluation entry.
        self._jobs: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
            name: (config.schedule, partial(sync, name))
            for name, config in load_sources(sources_file).items()
            if config.schedule
        }
        evaluation = load_evaluation(sources_file)
        if evaluation is not None:

            def evaluate() -> dict[str, Any]:
                runs = evaluate_all(runtime, "schedule", evaluation.probes)
                return {"source": EVALUATION, "status": "ok", "evaluation": runs}

            self._jobs[EVALUATION] = (evaluation.schedule, evaluate)
        now = clock()
        self._next = {
            name: croniter(cron, now).get_next(datetime) for name, (cron, _) in self._jobs.items()
        }
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def next_runs(self) -> dict[str, datetime]:
        return dict(self._next)

    def run_due(self, now: datetime) -> list[dict[str, Any]]:
        """Sync every source whose time has come; schedule its next run."""
        summaries = []
        for name, when in sorted(self._next.items(), key=lambda item: item[1]):
            if when > now:
                continue
            cron, job = self._jobs[name]
            try:
                summary = job()
                log.info("scheduled %s: %s", name, summary["status"])
            except StewardError as error:
                summary = {"source": name, "status": "failed", "error": str(error)}
                log.error("scheduled %s failed: %s", name, error)
            summaries.append(summary)
            self._next[name] = croniter(cron, now).get_next(datetime)
        return summaries

    def start(self) -> None:
        if self._next and self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="steward-scheduler", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = self._clock()
            self.run_due(now)
            soonest = min(self._next.values())
            self._stop.wait(max(1.0, min(60.0, (soonest - self._clock()).total_seconds())))
