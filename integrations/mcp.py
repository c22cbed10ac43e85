"""Steward as MCP tools for an agent: retrieve, read a document, report one, a source's hygiene.

`build_server(connect)` makes the server; `connect(headers)` opens the Steward the tools ask for
one call (`headers`: the HTTP request's, None over stdio). `steward mcp` serves it over stdio on
a client of its own (cli/main.py); the API mounts it at /mcp, where each call asks the API
itself with the caller's key, so access control is the API's (api/mcp.py).

Answers are text written for a model: every result says when it is stale, deprecated,
superseded or in conflict, and what to prefer instead.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from client.errors import ApiError, ClientError, NotFoundError
from client.models import (
    ConflictPage,
    Document,
    DuplicatePage,
    Mode,
    RetrieveResponse,
    ScanRecord,
    StalePage,
)
from client.protocol import StewardClient
from integrations.results import caveats

T = TypeVar("T")

INSTRUCTIONS = (
    "Steward answers questions from the organisation's knowledge base. Call `retrieve` first; "
    "each result says when it is stale, deprecated, superseded or in conflict with another "
    "document: prefer current results, and tell the user when an answer rests on one that is "
    "not. When a result is outdated or wrong, call `report_document` so its owners review it."
)


class AsyncSteward(Protocol):
    """What the tools ask of Steward: `client.AsyncHttpClient`, or `Threaded` over any client."""

    async def retrieve(
        self,
        query: str,
        *,
        top_k: int = 10,
        mode: Mode | None = None,
        source: str | list[str] | None = None,
        source_uri_prefix: str | None = None,
        updated_after: datetime | None = None,
    ) -> RetrieveResponse: ...

    async def document(self, doc_id: str) -> Document: ...

    async def feedback(
        self, query_id: str, chunk_id: str, relevant: bool, *, note: str | None = None
    ) -> int: ...

    async def stale(self, *, source: str | None = None, limit: int = 50) -> StalePage: ...

    async def duplicates(self, *, source: str | None = None, limit: int = 50) -> DuplicatePage: ...

    async def conflicts(self, *, source: str | None = None, limit: int = 50) -> ConflictPage: ...

    async def last_scan(self) -> ScanRecord | None: ...


Connect = Callable[[Mapping[str, str] | None], AbstractAsyncContextManager[AsyncSteward]]


class Threaded:
    """A synchronous `StewardClient` (the in-process one) as an `AsyncSteward`: each call runs
    in a worker thread, so a slow search does not hold the MCP session's event loop."""

    def __init__(self, client: StewardClient) -> None:
        self._client = client

    async def _run(self, call: Callable[[], T]) -> T:
        return await anyio.to_thread.run_sync(call)

    async def retrieve(self, query: str, **options: Any) -> RetrieveResponse:
        return await self._run(lambda: self._client.retrieve(query, **options))

    async def document(self, doc_id: str) -> Document:
        return await self._run(lambda: self._client.document(doc_id))

    async def feedback(
        self, query_id: str, chunk_id: str, relevant: bool, *, note: str | None = None
    ) -> int:
        return await self._run(
            lambda: self._client.feedback(query_id, chunk_id, relevant, note=note)
        )

    async def stale(self, **options: Any) -> StalePage:
        return await self._run(lambda: self._client.stale(**options))

    async def duplicates(self, **options: Any) -> DuplicatePage:
        return await self._run(lambda: self._client.duplicates(**options))

    async def conflicts(self, **options: Any) -> ConflictPage:
        return await self._run(lambda: self._client.conflicts(**options))

    async def last_scan(self) -> ScanRecord | None:
        return await self._run(self._client.last_scan)


# -- the answers, in words -------------------------------------------------------------------


def describe_results(answer: RetrieveResponse) -> str:
    """A retrieve answer for a model: each result with where it comes from, its caveats, and
    the ids `report_document` needs."""
    if not answer.results:
        return "No result: the knowledge base has nothing on this (or nothing you may read)."
    lines = [f"{len(answer.results)} results (query_id {answer.query_id}), best first."]
    for rank, hit in enumerate(answer.results, start=1):
        where = f"{hit.title}" + (f" > {hit.section}" if hit.section else "")
        lines.append("")
        lines.append(f"[{rank}] {where}")
        lines.append(
            f"source {hit.source}: {hit.source_uri}; updated {hit.updated_at}; "
            f"score {hit.score:.3f}; doc_id {hit.doc_id}; chunk_id {hit.chunk_id}"
        )
        said = caveats(hit)
        if hit.duplicates:
            said.append(f"Also found in {len(hit.duplicates)} copies, folded into this result.")
        lines.extend(said or ["Current: no hygiene finding on this document."])
        lines.append(hit.text.strip())
    return "\n".join(lines)


def describe_document(found: Document, max_chars: int) -> str:
    """A document for a model: its record, its hygiene state in words, then its text."""
    lines = [
        f"{found.title} (doc_id {found.doc_id})",
        f"source {found.source}: {found.source_uri}; owner {found.owner or 'none'}; "
        f"updated {found.updated_at}",
    ]
    hygiene = found.hygiene
    if hygiene is None:
        lines.append("Not yet scanned for hygiene.")
    else:
        states = {
            "verified": "Verified by its owner"
            + (
                f" ({hygiene.verified_by}, {hygiene.last_verified_at})"
                if hygiene.verified_by
                else ""
            )
            + ".",
            "unverified": "Not verified by an owner yet.",
            "expired": "Stale: its review date has passed, so it may be out of date.",
            "deprecated": "Deprecated by its owner: do not rely on it.",
        }
        lines.append(states[hygiene.state])
        if hygiene.superseded_by:
            lines.append(
                f"Superseded: document {hygiene.superseded_by} is a newer edition; prefer it."
            )
        if hygiene.duplicate_of:
            lines.append(f"A copy of document {hygiene.duplicate_of}.")
        if hygiene.conflicts:
            lines.append(
                f"In conflict: {len(hygiene.conflicts)} open disagreement(s) with other documents "
                "on a value (an amount, a date, a number); check before quoting one."
            )
    text = "\n\n".join(
        (f"## {chunk.section}\n" if chunk.section else "") + chunk.text for chunk in found.chunks
    )
    if len(text) > max_chars:
        text = text[:max_chars] + f"\n[... cut at {max_chars} of {len(text)} characters]"
    return "\n".join(lines) + "\n\n" + text


def describe_hygiene(
    source: str,
    stale: StalePage,
    duplicates: DuplicatePage,
    conflicts: ConflictPage,
    scan: ScanRecord | None,
) -> str:
    """A source's hygiene for a model: what is stale and why, copies, open conflicts."""
    when = f"last scan finished {scan.finished_at}" if scan else "never scanned"
    lines = [
        f"Hygiene of source {source!r} ({when}): {stale.total} stale document(s), "
        f"{duplicates.total} duplicate cluster(s), {conflicts.total} open conflict(s)."
    ]
    reasons = {
        "expired": "its review date has passed",
        "superseded": "a newer edition replaces it",
        "deprecated": "its owner deprecated it",
        "negative_feedback": "readers judged it not relevant or wrong",
    }
    for item in stale.items:
        newer = f" (prefer {item.superseded_by.source_uri})" if item.superseded_by else ""
        lines.append(f"- stale: {item.source_uri}: {reasons.get(item.reason, item.reason)}{newer}")
    for cluster in duplicates.items:
        copies = ", ".join(str(m.source_uri) for m in cluster.members)
        lines.append(f"- copies of {cluster.canonical.source_uri}: {copies}")
    for conflict in conflicts.items:
        lines.append(
            f"- conflict ({conflict.kind}): {conflict.a.source_uri} says {conflict.a.value!r}, "
            f"{conflict.b.source_uri} says {conflict.b.value!r}"
        )
    shown = len(stale.items) + len(duplicates.items) + len(conflicts.items)
    if shown < stale.total + duplicates.total + conflicts.total:
        lines.append("(more findings than shown: see GET /hygiene/stale, /duplicates, /conflicts)")
    return "\n".join(lines)


def _refused(error: ClientError) -> ToolError:
    """A client error as a message the model can act on."""
    if isinstance(error, NotFoundError):
        return ToolError(f"not found: {error.detail} (or not readable with this key)")
    if isinstance(error, ApiError):
        return ToolError(f"Steward refused the call ({error.status_code}): {error.detail}")
    return ToolError(f"Steward did not answer: {error}")


async def _ask(connect: Connect, ctx: Context, call: Callable[[AsyncSteward], Awaitable[T]]) -> T:
    try:
        async with connect(ctx.headers) as steward:
            return await call(steward)
    except ClientError as error:
        raise _refused(error) from error


# -- the server ------------------------------------------------------------------------------


def build_server(connect: Connect, *, name: str = "steward") -> MCPServer:
    """An MCP server with Steward's tools; each call asks the Steward that `connect` opens."""
    # MCPServer calls logging.basicConfig (a Rich handler on the root logger); the process
    # that hosts it (the API, the CLI) owns its logging, so the root logger is put back.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    server: MCPServer = MCPServer(name, instructions=INSTRUCTIONS, log_level="WARNING")
    root.handlers[:] = handlers
    root.setLevel(level)

    @server.tool()
    async def retrieve(
        query: str,
        ctx: Context,
        top_k: int = 5,
        source: str | None = None,
        source_uri_prefix: str | None = None,
        updated_after: datetime | None = None,
        mode: Mode | None = None,
    ) -> str:
        """Search the knowledge base. Filters: `source` (a source's name), `source_uri_prefix`
        (a folder, e.g. "it/"), `updated_after` (ISO date); `mode` "sparse" matches words
        exactly, "dense" meaning only (default: both). Each result says when it is stale,
        superseded or in conflict, and gives the query_id and chunk_id to report it."""
        if not 1 <= top_k <= 100:
            raise ToolError("top_k must be between 1 and 100")
        answer = await _ask(
            connect,
            ctx,
            lambda s: s.retrieve(
                query,
                top_k=top_k,
                source=source,
                source_uri_prefix=source_uri_prefix,
                updated_after=updated_after,
                mode=mode,
            ),
        )
        return describe_results(answer)

    @server.tool()
    async def get_document(doc_id: str, ctx: Context, max_chars: int = 20000) -> str:
        """Read a whole document by its doc_id (from `retrieve`), with its hygiene state: whether
        it is verified, stale, deprecated, superseded (and by which document) or in conflict."""
        found = await _ask(connect, ctx, lambda s: s.document(doc_id))
        return describe_document(found, max(500, max_chars))

    @server.tool()
    async def report_document(
        query_id: str,
        chunk_id: str,
        problem: Literal["outdated", "wrong"],
        explanation: str,
        ctx: Context,
    ) -> str:
        """Report that a result of `retrieve` is outdated or wrong, with why (what is correct
        now, where you saw it). It reaches the document's owners as negative feedback."""
        if not explanation.strip():
            raise ToolError("say why the document is outdated or wrong (explanation)")
        note = f"{problem}: {explanation.strip()}"
        feedback_id = await _ask(
            connect, ctx, lambda s: s.feedback(query_id, chunk_id, False, note=note)
        )
        return (
            f"Reported as {problem} (feedback {feedback_id}). The document's owners see it in "
            "their review queue; until they act, treat the document with caution."
        )

    @server.tool()
    async def hygiene_summary(source: str, ctx: Context, limit: int = 10) -> str:
        """The state of one source of the knowledge base: its stale documents (and why),
        duplicate copies and open conflicts between documents, from the last hygiene scan."""
        shown = min(max(1, limit), 50)

        async def summary(steward: AsyncSteward) -> str:
            return describe_hygiene(
                source,
                await steward.stale(source=source, limit=shown),
                await steward.duplicates(source=source, limit=shown),
                await steward.conflicts(source=source, limit=shown),
                await steward.last_scan(),
            )

        return await _ask(connect, ctx, summary)

    return server
