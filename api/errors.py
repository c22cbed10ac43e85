"""The one place where Steward's errors become HTTP status codes."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from client.errors import status_of
from steward.errors import QueryError, StewardError, UnauthenticatedError

# The table of status codes lives with the client (client/errors.py: STATUS), which reads
# these answers back into its errors and raises the same ones in-process.


async def _steward_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StewardError)
    status = status_of(error)
    if isinstance(error, QueryError):
        # Shaped like FastAPI's own validation errors, naming the field.
        body = {
            "detail": [{"loc": ["body", error.field], "msg": error.message, "type": "value_error"}]
        }
        return JSONResponse(status_code=status, content=body)
    if isinstance(error, UnauthenticatedError):
        headers = {"WWW-Authenticate": 'Bearer realm="steward"'}
        return JSONResponse(status_code=status, content={"detail": str(error)}, headers=headers)
    retry_after_s = getattr(error, "retry_after_s", None)
    if retry_after_s is not None:
        # Whole seconds, rounded up: a client that waits that long finds the next token.
        headers = {"Retry-After": str(max(1, math.ceil(retry_after_s)))}
        return JSONResponse(status_code=status, content={"detail": str(error)}, headers=headers)
    return JSONResponse(status_code=status, content={"detail": str(error)})


# How much of a refused value a 422 echoes back: enough to recognise it, not a 30 MB query.
ECHO_CHARS = 200


class _AsciiJSONResponse(JSONResponse):
    """JSON with non-ASCII escaped, so an echoed lone surrogate stays "\\ud800", not a 500."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _shortened(value: Any) -> Any:
    """The echoed input, cut to ECHO_CHARS characters when its JSON is longer."""
    if isinstance(value, str):
        return value if len(value) <= ECHO_CHARS else value[:ECHO_CHARS] + "…"
    encoded = json.dumps(value, ensure_ascii=True, default=str)
    return value if len(encoded) <= ECHO_CHARS else encoded[:ECHO_CHARS] + "…"


async def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    """FastAPI's 422 body, with each echoed `input` shortened."""
    assert isinstance(error, RequestValidationError)
    detail = []
    for item in jsonable_encoder(error.errors()):
        if "input" in item:
            item["input"] = _shortened(item["input"])
        detail.append(item)
    return _AsciiJSONResponse(status_code=422, content={"detail": detail})


async def _database_unavailable(_request: Request, error: Exception) -> JSONResponse:
    """A catalog that is locked or unreachable is a 503 to retry, like a CatalogError."""
    assert isinstance(error, OperationalError)
    # The driver's message can name the database URL; the detail stays generic.
    detail = "the catalog is busy or unreachable; retry shortly"
    return JSONResponse(status_code=503, content={"detail": detail}, headers={"Retry-After": "5"})


def install(app: FastAPI) -> None:
    app.add_exception_handler(StewardError, _steward_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
