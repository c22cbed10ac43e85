"""Liveness and readiness: the process answers; the catalog takes a write and the index answers."""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from app.readiness import CATALOG_TIMEOUT_S
from app.runtime import Runtime
from connectors.filesystem import FilesystemConnector
from retrieval.edge_store import EdgeStore
from steward.errors import StoreError


@pytest.fixture
def hash_runtime(open_home, hash_embedder) -> Runtime:
    return open_home("a", hash_embedder)


@pytest.fixture
def api_url(hash_runtime: Runtime, serve_app) -> Iterator[str]:
    with serve_app(create_app(hash_runtime.settings, hash_runtime)) as url:
        yield url


def test_live_and_ready_answer_ok_on_a_healthy_process(api_url: str) -> None:
    live = httpx.get(f"{api_url}/health/live", timeout=30)
    ready = httpx.get(f"{api_url}/health/ready", timeout=30)
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (
        200,
        {"status": "ready", "catalog": "ok", "index": "ok"},
    )
    assert httpx.get(f"{api_url}/health", timeout=30).json()["status"] == "ok"  # unchanged


def test_a_locked_catalog_is_not_ready_but_the_process_is_live(
    hash_runtime: Runtime, api_url: str
) -> None:
    # Another writer (a sync, a scan, a second process) holds the write lock.
    holder = sqlite3.connect(hash_runtime.settings.home.catalog_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        ready = httpx.get(f"{api_url}/health/ready", timeout=30)
        waited = time.monotonic() - started
        live = httpx.get(f"{api_url}/health/live", timeout=30)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert ready.status_code == 503, ready.text
    body = ready.json()
    assert body["status"] == "unavailable" and body["index"] == "ok"
    assert "locked" in body["catalog"], body
    assert ready.headers["retry-after"] == "5"
    # The probe waits its own short timeout, not the 5 s a write would.
    assert CATALOG_TIMEOUT_S <= waited < CATALOG_TIMEOUT_S + 2.5, waited
    assert live.status_code == 200
    # The lock gone, ready again; and the pooled connection is back to its usual patience.
    assert httpx.get(f"{api_url}/health/ready", timeout=30).status_code == 200
    with hash_runtime.database.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 5000


def test_a_closed_embedded_index_is_not_ready_and_named(
    hash_runtime: Runtime, api_url: str, tmp_path: Path, write: Any
) -> None:
    write.markdown(tmp_path / "kb" / "vpn.md", "# VPN\n\nConnect with WireGuard first.\n")
    assert hash_runtime.pipeline.run(FilesystemConnector(tmp_path / "kb", "kb")).status == "ok"
    assert httpx.get(f"{api_url}/health/ready", timeout=30).status_code == 200
    store = hash_runtime.store
    assert isinstance(store, EdgeStore)
    store.close()
    # A closed shard used to count as an empty one: "ready", while nothing could be retrieved.
    ready = httpx.get(f"{api_url}/health/ready", timeout=30)
    assert ready.status_code == 503, ready.text
    body = ready.json()
    assert body["status"] == "unavailable" and body["catalog"] == "ok"
    assert "embedded index" in body["index"] and "is closed" in body["index"], body
    assert str(hash_runtime.settings.home.home) in body["index"]
    assert ready.headers["retry-after"] == "5"
    # A query answers 503 too, rather than an empty list that looks like a miss.
    answer = httpx.post(f"{api_url}/retrieve", json={"query": "vpn"}, timeout=30)
    assert answer.status_code == 503, answer.text
    assert httpx.get(f"{api_url}/health/live", timeout=30).status_code == 200


def test_an_embedded_index_whose_files_are_gone_is_not_ready(
    hash_runtime: Runtime, api_url: str, tmp_path: Path, write: Any
) -> None:
    write.markdown(tmp_path / "kb" / "vpn.md", "# VPN\n\nConnect with WireGuard first.\n")
    assert hash_runtime.pipeline.run(FilesystemConnector(tmp_path / "kb", "kb")).status == "ok"
    shutil.rmtree(hash_runtime.settings.home.index_dir / "shard")
    # The open shard still counts from memory; nothing it writes could outlive the process.
    assert hash_runtime.store.count() > 0
    ready = httpx.get(f"{api_url}/health/ready", timeout=30)
    assert ready.status_code == 503, ready.text
    body = ready.json()
    assert "unusable" in body["index"] and "shard directory is gone" in body["index"], body
    assert body["catalog"] == "ok"
    # Closing it says the flush failed, and still lets the lock go.
    with pytest.raises(StoreError, match="could not be flushed"):
        hash_runtime.store.close()
