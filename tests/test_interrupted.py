"""A run that dies half-way, then runs again, ends with the index of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import pytest

from app.runtime import Runtime, open_runtime
from connectors.filesystem import FilesystemConnector
from ingest.check import check

SOURCE = "kb"
STEWARD = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "steward"
TOPICS = (
    "pumps valves boilers chillers fans filters ducts meters sensors relays motors belts "
    "bearings gaskets hoses tanks compressors condensers heaters coolers dampers actuators "
    "switches breakers cables panels alarms sprinklers hydrants ladders"
).split()


def write_corpus(write, folder: Path, sections: int = 2) -> None:
    """One Markdown document per topic, each with a shared footer and a few sections."""
    for topic in TOPICS:
        body = f"# Maintenance of {topic}\n\n"
        for part in range(sections):
            steps = " ".join(
                f"Check {n} of part {part + 1} looks at the wear, noise and heat of the {topic}."
                for n in range(8)
            )
            body += f"## Part {part + 1}\n\n{steps}\n\n"
        body += "Facilities handbook, internal edition.\n"
        write.markdown(folder / f"{topic}.md", body)


def final_state(live: Runtime) -> tuple[dict, dict]:
    """The index (chunk ids, payload texts, sections, order) and catalog rows, timestamps aside."""
    rows = live.catalog.documents_of(SOURCE)
    index = {
        doc_id: [
            (c.chunk_id, c.payload.ordinal, c.payload.section, c.payload.text, c.payload.title)
            for c in live.store.document_chunks(doc_id)
        ]
        for doc_id in rows
    }
    catalog = {
        doc_id: (
            row.source_uri,
            row.content_hash,
            row.pipeline_version,
            row.title,
            row.chunk_ids,
            row.line_hashes,
            row.size,
        )
        for doc_id, row in rows.items()
    }
    # Nothing in the index that the catalog does not know of, and the reverse.
    assert live.store.document_ids(SOURCE) == set(rows)
    report = check(live.catalog, live.store)
    assert report.clean, report.as_dict()
    assert live.store.count() == sum(len(chunks) for chunks in index.values())
    return index, catalog


class Interrupted(Exception):
    pass


def test_a_run_interrupted_after_its_first_batch_resumes_to_the_same_index(
    open_home, hash_embedder, write, tmp_path: Path
) -> None:
    folder = tmp_path / "kb"
    write_corpus(write, folder)
    batches = {"ingest": {"batch_documents": 5}}

    interrupted = open_home("a", hash_embedder, **batches)

    def die_after_first_batch(stage: str, done: int, total: int) -> None:
        if stage == "index" and done >= 5:
            raise Interrupted(f"killed after {done} of {total}")

    with pytest.raises(Interrupted):
        interrupted.pipeline.run(FilesystemConnector(folder, SOURCE), die_after_first_batch)
    assert len(interrupted.catalog.documents_of(SOURCE)) == 5
    assert interrupted.catalog.last_run(SOURCE).status == "failed"

    resumed = interrupted.pipeline.run(FilesystemConnector(folder, SOURCE))
    assert (resumed.status, resumed.unchanged, resumed.new) == ("ok", 5, len(TOPICS) - 5)
    # Nothing is embedded again: the first batch is indexed, and the killed run had embedded
    # the other documents ahead while it parsed them (ingest/ahead.py), into the cache.
    assert (resumed.chunks_embedded, resumed.chunks_cached) == (0, 2 * (len(TOPICS) - 5))

    fresh = open_home("b", hash_embedder, **batches)
    fresh.pipeline.run(FilesystemConnector(folder, SOURCE))
    assert final_state(interrupted) == final_state(fresh)


@pytest.mark.slow
def test_a_killed_ingest_process_resumes_to_the_same_index(
    runtime: Runtime, make_settings, write, tmp_path: Path
) -> None:
    """SIGKILL a real `steward ingest` once some, not all, documents reached the catalog."""
    folder = tmp_path / "kb"
    write_corpus(write, folder)
    killed = make_settings(tmp_path / "killed")
    home = killed.home.home
    env = {
        **os.environ,
        "STEWARD_HOME": str(home),
        "STEWARD_INGEST_BATCH_DOCUMENTS": "5",
    }
    command = [str(STEWARD), "ingest", str(folder), "--source", SOURCE, "--json"]

    log = tmp_path / "killed.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            seen = wait_for_partial_catalog(home / "catalog.sqlite", process, len(TOPICS), log)
            os.kill(process.pid, signal.SIGKILL)
        finally:
            process.kill()
            process.wait(timeout=30)
    assert 0 < seen < len(TOPICS)
    assert process.returncode == -signal.SIGKILL

    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert finished.returncode == 0, finished.stderr
    summary = json.loads(finished.stdout)
    # Documents the killed run finished are not redone (a batch may have landed after the poll).
    assert summary["unchanged"] >= seen
    assert summary["unchanged"] + summary["new"] == len(TOPICS)

    # The uninterrupted reference: the same folder, the same model, a fresh home.
    runtime.pipeline.run(FilesystemConnector(folder, SOURCE))
    resumed = open_runtime(killed, embedder=runtime.embedder)
    try:
        assert final_state(resumed) == final_state(runtime)
    finally:
        resumed.close()


def wait_for_partial_catalog(path: Path, process: subprocess.Popen, total: int, log: Path) -> int:
    """Poll the catalog until it holds some documents but not all; return how many."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = log.read_text(errors="replace")[-2000:]
            pytest.fail(f"steward ingest ended before it could be killed: {stderr}")
        count = 0
        if path.exists():
            try:
                with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)) as db:
                    count = db.execute("select count(*) from documents").fetchone()[0]
            except sqlite3.OperationalError:
                count = 0  # the tables are not created yet
        if 0 < count < total:
            return count
        if count >= total:
            pytest.fail("the ingest finished before it could be killed")
        time.sleep(0.005)
    pytest.fail("the catalog never received a document")
