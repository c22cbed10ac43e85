"""Scheduled jobs: Celery tasks and beat (distributed), or a thread in `steward serve`."""
