"""The MCP server through the MCP Python client, over both transports: streamable HTTP at the
API's /mcp (a real server, with and without access control) and stdio (`steward mcp` spawned
on a prepared home, the real model in both processes)."""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import select
from steward_kb import OLD_REFUND, REFUND, SAMPLE, doc_id

from api.app import create_app
from app.hygiene import scan_hygiene
from app.runtime import Runtime, open_runtime
from app.sources import FilesystemSource, build_connector
from client import HttpClient
from connectors.filesystem import FilesystemConnector
from evaluation.tables import feedback
from ingest.pipeline import document_id
from integrations.mcp import build_server
from steward.settings import AccessSettings, KeyEntry

ROOT = Path(__file__).resolve().parents[1]
STEWARD = ROOT / ".venv" / "bin" / "steward"
TOOLS = {"retrieve", "get_document", "report_document", "hygiene_summary"}
KEYS = {"secret-reader": "secret-reader-key-0001", "staff-reader": "staff-reader-key-00001"}
ADMIN_KEY = "admin-key-000000000001"


def text(result: Any) -> str:
    return "\n".join(part.text for part in result.content if getattr(part, "text", None))


def ids(answer: str, name: str) -> list[str]:
    """The values of `name <value>` in a retrieve answer (query_id, doc_id, chunk_id)."""
    words = answer.replace(";", " ").replace("(", " ").replace(")", " ").split()
    return [words[i + 1] for i, word in enumerate(words[:-1]) if word == name]


@asynccontextmanager
async def over_http(url: str, key: str | None = None) -> AsyncIterator[Client]:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        async with Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client:
            yield client


# -- over HTTP, access control off: the sample knowledge base ---------------------------------


def test_the_tools_over_http_tell_the_agent_what_is_superseded(
    sample_url: str, sample_kb: Runtime
) -> None:
    async def session() -> None:
        async with over_http(sample_url) as client:
            listed = await client.list_tools()
            assert {tool.name for tool in listed.tools} == TOOLS
            found = await client.call_tool(
                "retrieve", {"query": "refund window restocking fee", "top_k": 10, "mode": "sparse"}
            )
            answer = text(found)
            assert not found.is_error and OLD_REFUND in answer and REFUND in answer
            assert "a newer edition replaces it" in answer
            assert f"(document {doc_id(sample_kb, REFUND)}); prefer that one" in answer

            filtered = text(
                await client.call_tool(
                    "retrieve", {"query": "policy", "top_k": 20, "source_uri_prefix": "it/"}
                )
            )
            uris = [
                line.split(": ", 1)[1].split(";")[0]
                for line in filtered.splitlines()
                if line.startswith("source handbook: ")
            ]
            assert uris and all(uri.startswith("it/") for uri in uris)
            nothing = text(await client.call_tool("retrieve", {"query": "x", "source": "none"}))
            assert nothing.startswith("No result")

            old = text(
                await client.call_tool("get_document", {"doc_id": doc_id(sample_kb, OLD_REFUND)})
            )
            assert old.startswith("Refund Policy (2024)") and "Superseded: document" in old
            assert "Customers can request a refund within 14 days" in old
            missing = await client.call_tool("get_document", {"doc_id": "no-such-doc"})
            assert missing.is_error and "not found" in text(missing)

            summary = text(await client.call_tool("hygiene_summary", {"source": "handbook"}))
            assert summary.startswith("Hygiene of source 'handbook' (last scan finished")
            assert f"- stale: {OLD_REFUND}: a newer edition replaces it (prefer {REFUND})" in (
                summary
            )
            assert "- conflict (money):" in summary

    anyio.run(session)


def test_a_report_lands_as_feedback_for_the_owners(sample_url: str, sample_kb: Runtime) -> None:
    async def report() -> int:
        async with over_http(sample_url) as client:
            answer = text(await client.call_tool("retrieve", {"query": "refund window"}))
            [query_id] = ids(answer, "query_id")
            chunk_id = ids(answer, "chunk_id")[0]
            done = await client.call_tool(
                "report_document",
                {
                    "query_id": query_id,
                    "chunk_id": chunk_id,
                    "problem": "outdated",
                    "explanation": "the window is 30 days since July",
                },
            )
            assert not done.is_error, text(done)
            said = text(done)
            assert said.startswith("Reported as outdated (feedback ") and "owners" in said
            empty = await client.call_tool(
                "report_document",
                {
                    "query_id": query_id,
                    "chunk_id": chunk_id,
                    "problem": "wrong",
                    "explanation": " ",
                },
            )
            assert empty.is_error and "say why" in text(empty)
            return int(said.split("(feedback ")[1].split(")")[0])

    with HttpClient(sample_url) as steward:
        before = steward.feedback_summary().precision_by_source.get("handbook")
    feedback_id = anyio.run(report)
    with HttpClient(sample_url) as steward:
        after = steward.feedback_summary().precision_by_source["handbook"]
    assert after.judged == (before.judged if before else 0) + 1
    with sample_kb.database.connect() as conn:
        row = conn.execute(
            select(feedback.c.relevant, feedback.c.note).where(
                feedback.c.feedback_id == feedback_id
            )
        ).one()
    assert tuple(row) == (0, "outdated: the window is 30 days since July")


# -- over HTTP, access control on: the caller's key and groups --------------------------------


@pytest.fixture(scope="module")
def guarded(
    tmp_path_factory: pytest.TempPathFactory, hash_embedder: Any, make_settings: Any, write: Any
) -> Iterator[Runtime]:
    root = tmp_path_factory.mktemp("mcp-access")
    secret, public = root / "secret", root / "public"
    write.markdown(
        secret / "merger-plan.md",
        "# Merger plan\n\nThe Falcon acquisition closes in March; it is not to be announced.\n",
    )
    write.markdown(public / "vpn.md", "# VPN\n\nConnect with the WireGuard client first.\n")
    keys = AccessSettings(
        keys=[
            KeyEntry(
                name="secret-reader",
                role="reader",
                groups=["secret-team"],
                key=KEYS["secret-reader"],
            ),
            KeyEntry(
                name="staff-reader", role="reader", groups=["staff"], key=KEYS["staff-reader"]
            ),
            KeyEntry(name="admin", role="admin", key=ADMIN_KEY),
        ]
    )
    live = open_runtime(make_settings(root, auth=keys), embedder=hash_embedder)
    configs = {
        "secret": FilesystemSource(connector="filesystem", path=secret, acl=["secret-team"]),
        "public": FilesystemSource(connector="filesystem", path=public),
    }
    for name, config in configs.items():
        assert live.pipeline.run(build_connector(name, config, root / "home")).status == "ok"
    scan_hygiene(live)
    yield live
    live.close()


@pytest.fixture(scope="module")
def guarded_url(guarded: Runtime, serve_app: Any) -> Iterator[str]:
    with serve_app(create_app(guarded.settings, guarded)) as url:
        yield url


def test_http_without_a_valid_key_is_refused(guarded_url: str) -> None:
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    for headers in ({}, {"authorization": "Bearer not-a-key-of-this-server"}):
        answer = httpx.post(f"{guarded_url}/mcp", json=call, headers=headers)
        assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
        assert "API key" in answer.json()["detail"]


def test_each_caller_finds_only_what_its_groups_may_read(guarded_url: str) -> None:
    merger = document_id("secret", "merger-plan.md")

    async def ask(key: str) -> tuple[str, Any]:
        async with over_http(guarded_url, key) as client:
            found = text(await client.call_tool("retrieve", {"query": "Falcon acquisition"}))
            document = await client.call_tool("get_document", {"doc_id": merger})
            return found, document

    found, document = anyio.run(ask, KEYS["secret-reader"])
    assert "merger-plan.md" in found and not document.is_error
    assert "Falcon acquisition closes in March" in text(document)
    found, document = anyio.run(ask, KEYS["staff-reader"])
    assert "merger-plan.md" not in found and "Falcon" not in found
    assert document.is_error and "not found" in text(document)
    found, _ = anyio.run(ask, ADMIN_KEY)
    assert "merger-plan.md" in found


# -- over stdio: `steward mcp` on a prepared home ---------------------------------------------


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, embedder: Any, make_settings: Any) -> Path:
    """Three pages of the sample knowledge base, ingested with the real model and scanned, and
    the runtime closed: the spawned command opens the home itself."""
    root = tmp_path_factory.mktemp("mcp-stdio")
    pages = root / "pages"
    for page in (REFUND, OLD_REFUND, "it/laptop-policy.md"):
        (pages / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE / page, pages / page)
    runtime = open_runtime(make_settings(root), embedder=embedder)
    try:
        assert runtime.pipeline.run(FilesystemConnector(pages, "handbook")).status == "ok"
        scan_hygiene(runtime)
    finally:
        runtime.close()
    return root


@pytest.mark.slow
def test_steward_mcp_over_stdio(home: Path) -> None:
    server = StdioServerParameters(
        command=str(STEWARD),
        args=["mcp"],
        cwd=home,
        env={
            "STEWARD_HOME": str(home / "home"),
            "HF_HUB_OFFLINE": "1",
        },
    )

    async def session() -> None:
        async with Client(server, read_timeout_seconds=120) as client:
            assert {tool.name for tool in (await client.list_tools()).tools} == TOOLS
            answer = text(
                await client.call_tool("retrieve", {"query": "how long is the refund window?"})
            )
            lines = answer.splitlines()
            assert lines[2].startswith("[1] Refund Policy") and f": {REFUND};" in lines[3]
            both = text(
                await client.call_tool(
                    "retrieve", {"query": "refund window restocking fee", "mode": "sparse"}
                )
            )
            assert OLD_REFUND in both and "a newer edition replaces it" in both
            doc = ids(answer, "doc_id")[0]
            read = text(await client.call_tool("get_document", {"doc_id": doc}))
            assert read.startswith("Refund Policy (doc_id") and "Superseded" not in read
            summary = text(await client.call_tool("hygiene_summary", {"source": "handbook"}))
            assert f"- stale: {OLD_REFUND}: a newer edition replaces it" in summary

    anyio.run(session)


def test_building_the_server_leaves_the_hosts_logging_alone() -> None:
    """MCPServer configures the root logger; the API and the CLI own theirs."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level

    @asynccontextmanager
    async def nowhere(_headers: Any) -> AsyncIterator[Any]:
        raise AssertionError("no call is made")
        yield

    build_server(nowhere)
    assert (root.handlers, root.level) == (handlers, level)
