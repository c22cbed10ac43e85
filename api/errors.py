"""The one place where Steward's errors become HTTP status codes."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

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
    return JSONResponse(status_code=status, content={"detail": str(error)})


def install(app: FastAPI) -> None:
    app.add_exception_handler(StewardError, _steward_error)
