"""The MCP server (integrations/mcp.py) over streamable HTTP at /mcp, behind the API's keys.

A call without a valid key is refused here (401, as every route but /health); a tool then asks
the API itself, in process (httpx's ASGI transport: no socket), with the caller's key. So the
answer is filtered by the caller's groups and its role is checked by the very routes an
application calls, with no second implementation of access control to keep in step.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from client.http import AsyncHttpClient
from client.retry import Retry
from integrations.mcp import AsyncSteward, build_server
from steward.authentication import Authenticator
from steward.errors import KeySetError, TooManyFailuresError, UnauthenticatedError

PATH = "/mcp"


def _bearer(headers: Mapping[str, str] | None) -> str | None:
    value = (headers or {}).get("authorization", "")
    scheme, _, key = value.partition(" ")
    return key.strip() or None if scheme.lower() == "bearer" else None


class McpEndpoint:
    """The ASGI endpoint at /mcp; `running()` serves it for the app's lifetime."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._serving: StreamableHTTPASGIApp | None = None

    @asynccontextmanager
    async def _connect(self, headers: Mapping[str, str] | None) -> AsyncIterator[AsyncSteward]:
        # The agent retries as it sees fit: no sleeping inside a tool call.
        async with AsyncHttpClient(
            "http://steward.internal",
            api_key=_bearer(headers),
            transport=httpx.ASGITransport(app=self._app),
            retry=Retry(retries=0),
        ) as steward:
            yield steward

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """A fresh MCP server and session manager for one lifespan of the app (a session
        manager runs once)."""
        server = build_server(self._connect)
        # Stateless, JSON answers: any worker can answer any call, and nothing is kept between.
        # The host check against DNS rebinding is off: the API key guards this route like the
        # others, and they have no such check either.
        server.streamable_http_app(
            streamable_http_path=PATH,
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        async with server.session_manager.run():
            self._serving = StreamableHTTPASGIApp(server.session_manager)
            try:
                yield
            finally:
                self._serving = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        # The routes' authenticator: API keys and, behind single sign-on, bearer JWTs.
        authenticator: Authenticator = self._app.state.authenticator
        client = scope.get("client")
        try:
            authenticator.resolve(_bearer(headers), client[0] if client else None)
        except UnauthenticatedError as error:
            await _refuse(send, 401, str(error), {"www-authenticate": "Bearer"})
            return
        except TooManyFailuresError as error:
            wait = str(max(1, math.ceil(error.retry_after_s)))
            await _refuse(send, 429, str(error), {"retry-after": wait})
            return
        except KeySetError as error:
            await _refuse(send, 503, str(error), {"retry-after": str(int(error.retry_after_s))})
            return
        if self._serving is None:
            await _refuse(send, 503, "the MCP endpoint is not running", {})
            return
        await self._serving(scope, receive, send)


async def _refuse(send: Send, status: int, detail: str, headers: dict[str, str]) -> None:
    body = json.dumps({"detail": detail}).encode()
    sent = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    sent += [(k.encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": sent})
    await send({"type": "http.response.body", "body": body})


def install(app: FastAPI) -> McpEndpoint:
    """Route /mcp to a new endpoint; the app's lifespan runs it (`endpoint.running()`)."""
    endpoint = McpEndpoint(app)
    app.router.routes.append(Route(PATH, endpoint=endpoint))
    return endpoint
