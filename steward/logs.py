"""How a process logs: text or one JSON object a line, each with the request it serves.

The API's request-id middleware (api/request_id.py) sets `request_id` for the time of a request;
`RequestIdFilter` copies it onto every record logged meanwhile, from any package (FastAPI runs
sync routes in worker threads with the request's context copied, so they carry it too).
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

from steward.settings import LogSettings

# The id of the request being served, "-" outside one.
request_id: ContextVar[str] = ContextVar("steward_request_id", default="-")


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (a filter on handlers, so any logger's records get it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request_id (and the traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id.get()),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def handler(settings: LogSettings, stream: TextIO | None = None) -> logging.Handler:
    """A handler writing to `stream` (stderr) in the configured format, with the request id on
    every record."""
    out = logging.StreamHandler(stream or sys.stderr)
    out.addFilter(RequestIdFilter())
    shape = JsonFormatter() if settings.format == "json" else logging.Formatter(TEXT_FORMAT)
    out.setFormatter(shape)
    return out


def configure_logging(settings: LogSettings) -> None:
    """The root logger writes through `handler(settings)`; uvicorn's loggers propagate to it."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler(settings))
    root.setLevel(settings.level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
