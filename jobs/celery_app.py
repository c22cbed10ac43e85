"""The Celery application: `celery -A jobs.celery_app worker` / `celery -A jobs.celery_app beat`.

Settings are read when the module is imported (STEWARD_JOBS_*); nothing connects until a worker
or a producer sends. Each worker process builds its own runtime (catalog, index, model) when it
starts (`worker_process_init`, in jobs/tasks.py) and closes it when it stops, never at import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import Celery
from celery.schedules import crontab

from app.sources import load_evaluation, load_sources
from steward.errors import ConfigError
from steward.settings import load_settings


def _crontab(expression: str) -> crontab:
    """Celery's crontab from a five-field cron expression (minute hour day month weekday)."""
    minute, hour, day, month, weekday = expression.split()
    return crontab(minute, hour, weekday, day, month)


def beat_schedule(sources_file: Path) -> dict[str, dict[str, Any]]:
    """One entry per source with a schedule in steward.yaml; none without the file."""
    if not sources_file.exists():
        return {}
    schedule: dict[str, dict[str, Any]] = {}
    for name, config in load_sources(sources_file).items():
        if config.schedule:
            schedule[f"sync {name}"] = {
                # A partitioned source: one task per bucket, for every free worker.
                "task": "steward.sync_partitions"
                if config.partitions > 1
                else "steward.sync_source",
                "schedule": _crontab(config.schedule),
                "args": (name,),
            }
    evaluation = load_evaluation(sources_file)
    if evaluation is not None:
        schedule["evaluate"] = {
            "task": "steward.evaluate_all",
            "schedule": _crontab(evaluation.schedule),
            "args": (evaluation.probes,),
        }
    return schedule


def create_celery() -> Celery:
    settings = load_settings()
    jobs = settings.jobs
    celery = Celery("steward", broker=jobs.broker_url, backend=jobs.result_backend)
    celery.conf.update(
        include=["jobs.tasks"],
        task_acks_late=True,  # a task whose worker dies is redelivered, not lost
        task_soft_time_limit=jobs.soft_time_limit_s,
        task_time_limit=jobs.soft_time_limit_s + 120,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        enable_utc=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": jobs.visibility_timeout_s},
        result_expires=7 * 24 * 3600,
        beat_schedule=beat_schedule(settings.home.sources_file),
    )
    return celery


try:
    app = create_celery()
except ConfigError as error:  # a worker must not start on bad settings
    raise SystemExit(f"steward jobs: {error}") from None
