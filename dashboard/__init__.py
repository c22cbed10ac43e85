"""The owners' dashboard: server-rendered pages at / over the same services as the API.

`install(app)` adds its pages, its actions and its static files to the API's application.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from dashboard import actions, pages

STATIC_DIR = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Serve the dashboard from `app` (its routes stay out of the API's OpenAPI schema)."""
    app.include_router(pages.router)
    app.include_router(actions.router)
    app.mount("/static/dashboard", StaticFiles(directory=STATIC_DIR), name="dashboard-static")


__all__ = ["STATIC_DIR", "install"]
