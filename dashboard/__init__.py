"""The owners' dashboard: server-rendered pages at / over the same services as the API.

`install(app)` adds its pages, its actions and its static files to the API's application.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from dashboard import actions, audit, documents, evaluation, gaps, pages, search, sources

STATIC_DIR = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Serve the dashboard from `app` (its routes stay out of the API's OpenAPI schema)."""
    for module in (pages, actions, evaluation, documents, search, gaps, audit, sources):
        app.include_router(module.router)
    app.mount("/static/dashboard", StaticFiles(directory=STATIC_DIR), name="dashboard-static")


__all__ = ["STATIC_DIR", "install"]
