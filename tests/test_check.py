"""`steward check` finds every kind of disagreement between catalog and index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from app.runtime import Runtime
from connectors.filesystem import FilesystemConnector
from ingest.check import check
from ingest.pipeline import document_id
from steward.domain import IndexedChunk, SparseVector

SOURCE = "kb"
STEWARD = Path(sys.executable).with_name("steward")


@pytest.fixture
def filled(open_home, hash_embedder, write, tmp_path: Path) -> Runtime:
    kb = tmp_path / "kb"
    write.text(kb / "a.txt", "Parking permits are renewed every January at the front desk.\n")
    write.text(kb / "b.txt", "Lunch is served in the canteen from noon until two.\n")
    live = open_home("a", hash_embedder)
    assert live.pipeline.run(FilesystemConnector(kb, SOURCE)).status == "ok"
    return live


def test_a_fresh_ingest_is_consistent(filled: Runtime) -> None:
    report = check(filled.catalog, filled.store)
    assert report.clean
    assert (report.sources, report.documents, report.chunks) == ([SOURCE], 2, 2)


def test_a_point_the_catalog_does_not_know_is_an_orphan(filled: Runtime) -> None:
    known = filled.store.document_chunks(document_id(SOURCE, "a.txt"))[0]
    stray = "00000000-0000-5000-8000-000000000001"
    filled.store.upsert(
        [
            IndexedChunk(
                chunk_id=stray,
                dense=[1.0] + [0.0] * (filled.embedder.dimension - 1),
                sparse=SparseVector([1], [1.0]),
                payload=replace(known.payload, doc_id="ghost"),
            )
        ]
    )
    report = check(filled.catalog, filled.store)
    assert report.orphan_points == [stray]
    assert not report.clean and not report.missing_points and not report.stale_payloads


def test_a_catalogued_chunk_missing_from_the_index_is_reported(filled: Runtime) -> None:
    doc_id = document_id(SOURCE, "b.txt")
    row = filled.catalog.document(doc_id)
    assert row is not None
    filled.store.delete_documents([doc_id])
    report = check(filled.catalog, filled.store)
    assert report.missing_points == row.chunk_ids
    assert not report.orphan_points


def test_a_payload_that_disagrees_with_the_catalog_is_stale(filled: Runtime) -> None:
    row = filled.catalog.document(document_id(SOURCE, "a.txt"))
    assert row is not None
    filled.catalog.save_documents([replace(row, owner="someone.else@example.com")])
    report = check(filled.catalog, filled.store)
    assert report.stale_payloads == row.chunk_ids
    assert not report.orphan_points and not report.missing_points


def test_the_cli_exits_1_with_a_json_report_when_they_disagree(filled: Runtime) -> None:
    home = filled.settings.home.home
    filled.store.delete_documents([document_id(SOURCE, "b.txt")])
    filled.close()  # one process owns an embedded index
    env = {**os.environ, "STEWARD_HOME": str(home)}
    result = subprocess.run(
        [str(STEWARD), "check", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["clean"] is False and len(report["missing_points"]) == 1
