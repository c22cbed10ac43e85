"""The one place where Steward's errors become HTTP status codes."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from steward.errors import (
    CatalogError,
    ConfigError,
    NotFoundError,
    QueryError,
    StewardError,
    StoreError,
)

STATUS: list[tuple[type[StewardError], int]] = [
    (NotFoundError, 404),
    (QueryError, 422),
    (ConfigError, 400),
    (StoreError, 503),
    (CatalogError, 503),
    (StewardError, 500),
]


async def _steward_error(_request: Request, error: Exception) -> JSONResponse:
    status = next(code for kind, code in STATUS if isinstance(error, kind))
    if isinstance(error, QueryError):
        # Shaped like FastAPI's own validation errors, naming the field.
        body = {
            "detail": [{"loc": ["body", error.field], "msg": error.message, "type": "value_error"}]
        }
        return JSONResponse(status_code=status, content=body)
    return JSONResponse(status_code=status, content={"detail": str(error)})


def install(app: FastAPI) -> None:
    app.add_exception_handler(StewardError, _steward_error)
