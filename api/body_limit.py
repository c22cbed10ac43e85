"""A cap on request bodies, enforced before anything parses them."""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Used until the lifespan has put the runtime (and its settings) on the app.
DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024


def _limit_of(scope: Scope) -> int:
    runtime = getattr(scope["app"].state, "runtime", None)
    return runtime.settings.api.max_body_bytes if runtime is not None else DEFAULT_MAX_BODY_BYTES


class BodyLimit:
    """Answers 413 to a body above STEWARD_API_MAX_BODY_BYTES, declared or chunked.

    The body is read here, at most the limit plus one chunk, and replayed to the app: a
    Content-Length is only a claim, and a chunked upload has none.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = _limit_of(scope)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(limit, scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _refuse(limit, scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break

        body: Message | None = {
            "type": "http.request",
            "body": b"".join(chunks),
            "more_body": False,
        }

        async def replay() -> Message:
            nonlocal body
            if body is not None:
                message, body = body, None
                return message
            return await receive()

        await self.app(scope, replay, send)


async def _refuse(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    detail = (
        f"the request body is larger than the limit of {limit} bytes (STEWARD_API_MAX_BODY_BYTES)"
    )
    # The connection is closed after the answer: the rest of the body is never read.
    response = JSONResponse({"detail": detail}, status_code=413, headers={"Connection": "close"})
    await response(scope, receive, send)
