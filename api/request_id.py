"""X-Request-ID: taken from the request (when it looks like an id) or made, returned in the
answer's header, and set for the request's time so every log line names it (steward/logs.py)."""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from steward.logs import request_id

HEADER = "X-Request-ID"
# A caller's id is kept when it is short and plain (a UUID, a trace id); anything else could
# forge log lines or bloat them, so a fresh one is made instead.
_PLAIN = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class RequestId:
    """Sets the request id for the request's time and returns it in the answer's header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"x-request-id"),
            "",
        )
        ident = given if _PLAIN.match(given) else uuid.uuid4().hex

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = ident
            await send(message)

        token = request_id.set(ident)
        try:
            await self.app(scope, receive, sending)
        finally:
            request_id.reset(token)
