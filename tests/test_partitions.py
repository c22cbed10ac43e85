"""A source synced in buckets (`partitions: N`): each bucket reads, writes and prunes only its
own documents, and once every bucket has run the index is the one a whole sync gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.runtime import Runtime
from app.sync import sync_source
from ingest.check import check
from ingest.pipeline import document_id
from steward.domain import Partition
from steward.errors import ConfigError

SOURCE = "kb"
BUCKETS = 3
# A footer line on three pages is boilerplate (STEWARD_INGEST_BOILERPLATE_MIN_DOCS=3): with the
# pages in three different buckets, no bucket can see that from its own documents.
FOOTER = "Questions go to the facilities desk on extension 4400."


def declare(root: Path, folder: Path, partitions: int | None) -> None:
    root.mkdir(parents=True, exist_ok=True)
    lines = ["sources:", f"  {SOURCE}:", "    connector: filesystem", f"    path: {folder}"]
    if partitions is not None:
        lines.append(f"    partitions: {partitions}")
    (root / "steward.yaml").write_text("\n".join(lines) + "\n")


def bucket_of(name: str) -> int:
    """The bucket of a file of the folder (its key is its path in the folder)."""
    for index in range(BUCKETS):
        if Partition(index, BUCKETS).holds(document_id(SOURCE, name)):
            return index
    raise AssertionError(name)


def pages(count: int) -> dict[str, str]:
    """File name -> text; the footer goes on the first page found in each bucket."""
    texts = {
        # Longer than a boilerplate candidate line (200 characters): the pages differ only in
        # their digits, which boilerplate keys fold.
        f"page{n:02d}.txt": f"Procedure {n} for line {n % 5}: step {n} is run by shift {n % 3}. "
        "The operator checks the gauges before and after it, writes the readings down in the "
        "shift log, and calls the supervisor when a reading is outside its marked band."
        for n in range(count)
    }
    footed: set[int] = set()
    for name in sorted(texts):
        bucket = bucket_of(name)
        if bucket not in footed:
            footed.add(bucket)
            texts[name] = f"{FOOTER}\n\n{texts[name]}\n\n{FOOTER}"
    assert footed == set(range(BUCKETS))
    return texts


@pytest.fixture
def folder(tmp_path: Path, write) -> Path:
    kb = tmp_path / "kb"
    for name, text in pages(24).items():
        write.text(kb / name, text + "\n")
    return kb


@pytest.fixture
def homes(open_home, hash_embedder, folder: Path, tmp_path: Path):
    """A home syncing the folder whole, and one syncing it in three buckets."""
    declare(tmp_path / "whole", folder, None)
    declare(tmp_path / "parts", folder, BUCKETS)
    return open_home("whole", hash_embedder), open_home("parts", hash_embedder)


def state(live: Runtime) -> dict[str, list[tuple[str, str]]]:
    """source_uri -> [(chunk id, text)] in reading order; the catalog and the index agree."""
    report = check(live.catalog, live.store)
    assert report.clean, report.as_dict()
    return {
        row.source_uri.rsplit("/", 1)[-1]: [
            (c.chunk_id, c.payload.text) for c in live.store.document_chunks(row.doc_id)
        ]
        for row in live.catalog.documents_of(SOURCE).values()
    }


def test_a_partition_is_a_stable_even_share_of_document_ids() -> None:
    ids = [document_id(SOURCE, f"doc{n}.md") for n in range(4000)]
    buckets = [Partition(i, 4) for i in range(4)]
    held = [[b for b in buckets if b.holds(i)] for i in ids]
    assert all(len(h) == 1 for h in held)  # every id in exactly one bucket
    shares = [sum(h[0] == b for h in held) / len(ids) for b in buckets]
    assert all(0.22 < share < 0.28 for share in shares), shares
    assert Partition.parse("2/4") == Partition(2, 4) and str(Partition(2, 4)) == "2/4"
    assert all(Partition(0, 1).holds(i) for i in ids[:10])
    for bad in ("4/4", "a/4", "2", "-1/4", "1/0"):
        with pytest.raises(ConfigError, match="partition"):
            Partition.parse(bad)


def test_syncing_every_bucket_gives_the_index_a_whole_sync_gives(homes) -> None:
    whole, parts = homes
    expected = sync_source(whole, SOURCE)
    assert expected["new"] == 24 and expected["boilerplate_lines_removed"] == 6, expected
    summary = sync_source(parts, SOURCE)  # all three buckets, one after another
    assert summary["status"] == "ok", summary
    assert summary["partitions"] == ["0/3", "1/3", "2/3"]
    assert (summary["listed"], summary["new"]) == (24, 24)
    runs = [parts.catalog.last_good_run(SOURCE, f"{i}/3") for i in range(BUCKETS)]
    assert all(r is not None and r.summary and r.summary["listed"] < 24 for r in runs)
    # The footer became boilerplate only in the last bucket's run, after the first two had
    # chunked theirs with it: their next run re-chunks them, and nothing else changes.
    again = sync_source(parts, SOURCE)
    assert again["status"] == "ok" and again["new"] == again["deleted"] == 0, again
    assert state(parts) == state(whole)
    assert all(FOOTER not in text for chunks in state(parts).values() for _, text in chunks)
    third = sync_source(parts, SOURCE)
    assert (third["unchanged"], third["chunks"]) == (24, 0), third


def settle(live: Runtime) -> None:
    """Two rounds: the first bucket's footer pages are re-chunked in the second (above)."""
    for _ in range(2):
        assert sync_source(live, SOURCE)["status"] == "ok"


def test_a_bucket_changes_and_prunes_only_its_own_documents(homes, folder: Path, write) -> None:
    _, parts = homes
    settle(parts)
    names = sorted(pages(24))
    gone = next(n for n in names if bucket_of(n) == 0 and FOOTER not in (folder / n).read_text())
    edited = next(n for n in names if bucket_of(n) == 1 and FOOTER not in (folder / n).read_text())
    (folder / gone).unlink()
    write.text(folder / edited, "Procedure rewritten: the valves are closed first.\n")
    before = state(parts)

    first = sync_source(parts, SOURCE, partition=Partition(0, BUCKETS))
    assert (first["partition"], first["deleted"], first["changed"]) == ("0/3", 1, 0), first
    after = state(parts)
    assert gone not in after and after[edited] == before[edited]  # bucket 1 not yet synced
    assert after == {n: c for n, c in before.items() if n != gone}

    second = sync_source(parts, SOURCE, partition=Partition(1, BUCKETS))
    assert (second["changed"], second["deleted"]) == (1, 0), second
    assert "valves are closed first" in state(parts)[edited][0][1]


def test_the_delete_guard_counts_the_bucket_s_documents(homes, folder: Path) -> None:
    _, parts = homes
    settle(parts)
    mine = [n for n in sorted(pages(24)) if bucket_of(n) == 2]
    # 3 of 24 pages is 12.5 %, under the 20 % guard for the source; of bucket 2's it is more.
    for name in mine[:3]:
        (folder / name).unlink()
    before = state(parts)
    summary = sync_source(parts, SOURCE, partition=Partition(2, BUCKETS))
    assert summary["status"] == "failed" and summary["deleted"] == 0, summary
    assert f"would delete 3 of {len(mine)} documents" in summary["error"]
    assert state(parts) == before  # nothing deleted
    # Every bucket in turn: the source's sync fails by the bucket, and the others' stand.
    whole = sync_source(parts, SOURCE)
    assert whole["status"] == "failed" and whole["error"].startswith("partition 2/3: ")


def test_a_bucket_of_another_count_and_an_incremental_sync_are_refused(homes) -> None:
    _, parts = homes
    with pytest.raises(ConfigError, match="has partitions: 3"):
        sync_source(parts, SOURCE, partition=Partition(0, 4))
    with pytest.raises(ConfigError, match="incremental"):
        sync_source(parts, SOURCE, incremental=True)
    assert parts.catalog.documents_of(SOURCE) == {}


def test_the_cli_syncs_one_bucket_and_refuses_a_bad_one(folder: Path, tmp_path: Path) -> None:
    root = tmp_path / "cli"
    declare(root, folder, BUCKETS)
    env = {
        **os.environ,
        "COLUMNS": "200",
        "STEWARD_HOME": str(root / "home"),
        "STEWARD_SOURCES_FILE": str(root / "steward.yaml"),
    }

    def steward(*args: str) -> subprocess.CompletedProcess[str]:
        command = [str(Path(sys.executable).with_name("steward")), *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    done = steward("sync", SOURCE, "--partition", "1/3", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    mine = [n for n in pages(24) if bucket_of(n) == 1]
    assert (summary["partition"], summary["new"]) == ("1/3", len(mine)), summary
    for bad, said in [
        ("3/3", "partition 3/3: want 0 <= index < of"),
        ("1of3", "want INDEX/OF"),
        ("0/4", "has partitions: 3"),
    ]:
        refused = steward("sync", SOURCE, "--partition", bad)
        assert refused.returncode == 2 and said in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
