"""Pruning only after a complete listing, and never more than the allowed share of a source."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from connectors.filesystem import FilesystemConnector
from ingest.check import check
from ingest.pipeline import document_id

SOURCE = "kb"
STEWARD = Path(sys.executable).with_name("steward")


def write_ten(write, kb: Path) -> None:
    for n in range(10):
        write.text(kb / f"doc{n}.txt", f"Document {n} explains procedure number {n} in detail.\n")


def test_removing_up_to_the_share_prunes(open_home, hash_embedder, write, tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    write_ten(write, kb)
    live = open_home("a", hash_embedder)  # default share 0.2
    live.pipeline.run(FilesystemConnector(kb, SOURCE))
    (kb / "doc0.txt").unlink()
    (kb / "doc1.txt").unlink()
    summary = live.pipeline.run(FilesystemConnector(kb, SOURCE))
    assert (summary.status, summary.deleted) == ("ok", 2)
    assert len(live.catalog.documents_of(SOURCE)) == 8
    assert check(live.catalog, live.store).clean


def test_removing_more_than_the_share_deletes_nothing_and_fails(
    open_home, hash_embedder, write, tmp_path: Path
) -> None:
    kb = tmp_path / "kb"
    write_ten(write, kb)
    live = open_home("a", hash_embedder)
    live.pipeline.run(FilesystemConnector(kb, SOURCE))
    before = {k: v.chunk_ids for k, v in live.catalog.documents_of(SOURCE).items()}
    for n in range(3):
        (kb / f"doc{n}.txt").unlink()
    write.text(kb / "new.txt", "A new page about the canteen opening hours.\n")

    summary = live.pipeline.run(FilesystemConnector(kb, SOURCE))

    assert summary.status == "failed" and summary.deleted == 0
    assert "3 of 10 documents (30%)" in (summary.error or "")
    assert "STEWARD_INGEST_MAX_DELETE_SHARE" in (summary.error or "")
    rows = live.catalog.documents_of(SOURCE)
    assert {k: rows[k].chunk_ids for k in before} == before  # nothing was pruned
    assert document_id(SOURCE, "new.txt") in rows  # what did arrive is indexed
    assert live.catalog.last_run(SOURCE).status == "failed"
    assert check(live.catalog, live.store).clean


def test_the_cli_prunes_a_mass_removal_only_with_allow_deletes(write, tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    write_ten(write, kb)
    env = {**os.environ, "STEWARD_HOME": str(tmp_path / "home")}
    command = [str(STEWARD), "ingest", str(kb), "--source", SOURCE, "--json"]
    assert subprocess.run(command, env=env, capture_output=True, timeout=180).returncode == 0
    for n in range(5):
        (kb / f"doc{n}.txt").unlink()

    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["deleted"] == 0

    allowed = subprocess.run(
        [*command, "--allow-deletes"], env=env, capture_output=True, text=True, timeout=180
    )
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(allowed.stdout)["deleted"] == 5
