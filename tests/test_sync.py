"""Re-ingesting a folder only redoes what changed, and leaves exactly what a fresh ingest would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.runtime import Runtime
from connectors.filesystem import FilesystemConnector
from ingest.check import check
from ingest.pipeline import document_id

SOURCE = "kb"


def section_text(topic: str, words: int = 150) -> str:
    """A paragraph of `words` words about `topic`: long enough to be a chunk of its own."""
    filler = [f"{topic}-{n}" for n in range(words - 4)]
    return f"This covers {topic}: " + " ".join(filler) + "."


def write_sections(write, path: Path, title: str, topics: list[str]) -> None:
    write.markdown_sections(path, title, [(t.title(), section_text(t)) for t in topics])


def indexed(live: Runtime) -> dict[str, list[tuple[str, str, str]]]:
    """source_uri -> [(chunk id, section, text)] in reading order, from the catalog's documents."""
    return {
        row.source_uri: [
            (c.chunk_id, c.payload.section, c.payload.text)
            for c in live.store.document_chunks(row.doc_id)
        ]
        for row in live.catalog.documents_of(SOURCE).values()
    }


def run(live: Runtime, folder: Path):
    summary = live.pipeline.run(FilesystemConnector(folder, SOURCE))
    assert summary.status == "ok" and summary.skipped == [], summary
    return summary


BACKENDS = {"edge": {"backend": "edge"}, "qdrant": {"backend": "qdrant", "url": ":memory:"}}


@pytest.fixture(
    params=[
        "edge",
        pytest.param(
            "qdrant",
            marks=pytest.mark.filterwarnings(
                "ignore:Payload indexes have no effect in the local Qdrant:UserWarning"
            ),
        ),
    ]
)
def live(request: pytest.FixtureRequest, open_home, hash_embedder) -> Iterator[Runtime]:
    """A runtime with the test embedder, on each index backend in turn.

    After every scenario the catalog and the index must agree (`steward check`).
    """
    # Removing one of three files is 33 %: these scenarios are not about the prune guard.
    runtime = open_home(
        "a", hash_embedder, index=BACKENDS[request.param], ingest={"max_delete_share": 1.0}
    )
    yield runtime
    report = check(runtime.catalog, runtime.store)
    assert report.clean, report.as_dict()


@pytest.fixture
def kb(tmp_path: Path, write) -> Path:
    folder = tmp_path / "kb"
    write_sections(write, folder / "pumps.md", "Pumps", ["inspection", "repair", "storage"])
    write_sections(write, folder / "valves.md", "Valves", ["sizing", "sealing"])
    write.text(folder / "notes/parking.txt", "Parking permits are renewed every January.\n")
    return folder


def test_reingest_of_an_unchanged_folder_embeds_nothing(live: Runtime, kb: Path) -> None:
    first = run(live, kb)
    before = indexed(live)
    assert (first.new, first.chunks_embedded) == (3, 6)

    second = run(live, kb)

    assert (second.new, second.changed, second.unchanged, second.deleted) == (0, 0, 3, 0)
    assert (second.chunks, second.chunks_embedded, second.chunks_cached) == (0, 0, 0)
    assert indexed(live) == before


def test_a_document_that_got_shorter_leaves_no_stale_tail(live: Runtime, kb: Path, write) -> None:
    run(live, kb)
    pumps = document_id(SOURCE, "pumps.md")
    assert len(live.store.document_chunks(pumps)) == 3
    count_before = live.store.count()

    write_sections(write, kb / "pumps.md", "Pumps", ["inspection"])
    summary = run(live, kb)

    chunks = live.store.document_chunks(pumps)
    assert summary.changed == 1
    assert [(c.payload.section, c.payload.ordinal) for c in chunks] == [("Inspection", 0)]
    assert live.catalog.document(pumps).chunk_ids == [c.chunk_id for c in chunks]
    assert live.store.count() == count_before - 2
    assert live.store.count() == sum(len(v) for v in indexed(live).values())


def test_a_removed_file_leaves_the_index_and_the_catalog(live: Runtime, kb: Path) -> None:
    run(live, kb)
    valves = document_id(SOURCE, "valves.md")
    assert live.store.document_chunks(valves)

    (kb / "valves.md").unlink()
    summary = run(live, kb)

    assert (summary.deleted, summary.unchanged) == (1, 2)
    assert live.catalog.document(valves) is None
    assert live.store.document_chunks(valves) == []
    assert valves not in live.store.document_ids(SOURCE)
    assert live.store.count() == 4  # pumps 3 + parking 1


def test_a_changed_file_re_embeds_only_its_changed_chunks(live: Runtime, kb: Path, write) -> None:
    run(live, kb)
    before = indexed(live)["pumps.md"]

    write.markdown_sections(
        kb / "pumps.md",
        "Pumps",
        [
            ("Inspection", section_text("inspection")),
            ("Repair", section_text("repair") + " Always wear gloves."),
            ("Storage", section_text("storage")),
        ],
    )
    summary = run(live, kb)

    assert (summary.changed, summary.unchanged) == (1, 2)
    assert (summary.chunks, summary.chunks_embedded, summary.chunks_cached) == (3, 1, 2)
    after = indexed(live)["pumps.md"]
    assert [after[0], after[2]] == [before[0], before[2]]  # same ids, same text
    assert after[1][0] != before[1][0] and after[1][2].endswith("Always wear gloves.")


def test_a_metadata_only_change_updates_payloads_without_embedding(
    live: Runtime, tmp_path: Path, write
) -> None:
    folder = tmp_path / "kb"
    body = f"# Pumps\n\n{section_text('inspection')}\n"
    write.markdown(folder / "pumps.md", body, owner="ops@example.com")
    run(live, folder)
    write.markdown(folder / "pumps.md", body, owner="maintenance@example.com", acl=["crew"])

    summary = run(live, folder)

    assert (summary.metadata_only, summary.changed, summary.chunks_embedded) == (1, 0, 0)
    assert summary.chunks == 0  # nothing re-chunked or re-written: payloads only
    (chunk,) = live.store.document_chunks(document_id(SOURCE, "pumps.md"))
    assert (chunk.payload.owner, chunk.payload.acl) == ("maintenance@example.com", ["crew"])
    row = live.catalog.document(document_id(SOURCE, "pumps.md"))
    assert row is not None and (row.owner, row.acl) == ("maintenance@example.com", ["crew"])


def test_identical_chunk_text_in_two_files_is_embedded_once(
    live: Runtime, tmp_path: Path, write
) -> None:
    folder = tmp_path / "kb"
    text = f"# Travel policy\n\n{section_text('travel')}\n"
    write.markdown(folder / "current/travel.md", text)
    write.markdown(folder / "archive/travel.md", text)

    summary = run(live, folder)

    assert (summary.new, summary.chunks, summary.chunks_embedded) == (2, 2, 1)
    docs = indexed(live)
    (current,), (archived,) = docs["current/travel.md"], docs["archive/travel.md"]
    assert current[2] == archived[2]
    assert current[0] != archived[0]  # one point per document: each can be pruned on its own


def test_a_renamed_file_is_moved_without_embedding(live: Runtime, kb: Path) -> None:
    run(live, kb)
    before = indexed(live)["valves.md"]
    (kb / "valves.md").rename(kb / "valves-guide.md")

    summary = run(live, kb)

    assert (summary.moved, summary.new, summary.deleted, summary.chunks_embedded) == (1, 0, 0, 0)
    after = indexed(live)
    assert "valves.md" not in after
    old_first_seen = live.catalog.document(document_id(SOURCE, "valves-guide.md"))
    assert old_first_seen is not None and old_first_seen.first_seen < old_first_seen.last_ingested
    assert [text for _, _, text in after["valves-guide.md"]] == [text for _, _, text in before]


def test_point_ids_are_the_same_in_two_fresh_homes(open_home, hash_embedder, kb: Path) -> None:
    first, second = open_home("a", hash_embedder), open_home("b", hash_embedder)
    run(first, kb)
    run(second, kb)

    assert indexed(first) == indexed(second)
    assert set(first.catalog.documents_of(SOURCE)) == set(second.catalog.documents_of(SOURCE))
    query = first.embedder.embed_query("repair").tolist()
    assert [h.chunk_id for h in first.store.search_dense(query, 5)] == [
        h.chunk_id for h in second.store.search_dense(query, 5)
    ]


FOOTER = "Confidential: Acme Corp internal use only."


def test_incremental_ingest_strips_new_boilerplate_like_a_fresh_one(
    open_home, hash_embedder, tmp_path: Path, write
) -> None:
    folder = tmp_path / "kb"
    topics = ["solar panels", "wind turbines", "heat pumps"]

    def add(n: int) -> None:
        write.markdown(
            folder / f"r{n}.md",
            f"# Report {n}\n\nThis report explains how {topics[n]} are installed.\n\n{FOOTER}\n",
        )

    incremental = open_home("a", hash_embedder)
    add(0)
    add(1)
    run(incremental, folder)  # two documents: the footer is not boilerplate yet
    add(2)
    run(incremental, folder)  # three: now it is

    fresh = open_home("b", hash_embedder)
    run(fresh, folder)
    assert not any(FOOTER in text for doc in indexed(fresh).values() for _, _, text in doc)
    assert indexed(incremental) == indexed(fresh)


def test_a_new_chunk_budget_re_chunks_every_document(
    open_home, hash_embedder, kb: Path, tmp_path: Path
) -> None:
    """The chunk settings are part of the pipeline version: changing them redoes everything."""
    wide = open_home("a", hash_embedder)
    run(wide, kb)
    assert len(indexed(wide)["pumps.md"]) == 3
    wide.close()  # one process per embedded index: release it before reopening

    narrow = open_home("a", hash_embedder, ingest={"chunk_tokens": 64})
    summary = run(narrow, kb)

    assert (summary.changed, summary.unchanged) == (3, 0)
    docs = indexed(narrow)
    assert len(docs["pumps.md"]) > 3
    assert narrow.store.count() == sum(len(chunks) for chunks in docs.values())


def test_pruning_one_source_leaves_another_alone(
    live: Runtime, kb: Path, tmp_path: Path, write
) -> None:
    other = tmp_path / "other"
    write.text(other / "lunch.txt", "Lunch is served in the canteen from noon until two.\n")
    live.pipeline.run(FilesystemConnector(other, "other"))
    run(live, kb)
    for path in list(kb.rglob("*.*")):
        path.unlink()

    summary = run(live, kb)

    assert summary.deleted == 3
    assert live.catalog.documents_of(SOURCE) == {}
    assert live.store.document_ids(SOURCE) == set()
    assert live.store.document_ids("other") == {document_id("other", "lunch.txt")}
    assert len(live.catalog.documents_of("other")) == 1


def test_a_new_title_is_not_metadata_only_because_titles_are_embedded(
    live: Runtime, tmp_path: Path, write
) -> None:
    folder = tmp_path / "kb"
    body = f"# Pumps\n\n{section_text('inspection')}\n"
    write.markdown(folder / "pumps.md", body, title="Pump care")
    run(live, folder)
    write.markdown(folder / "pumps.md", body, title="Pump maintenance")
    summary = run(live, folder)
    assert (summary.metadata_only, summary.changed, summary.chunks_embedded) == (0, 1, 1)
    (chunk,) = live.store.document_chunks(document_id(SOURCE, "pumps.md"))
    assert chunk.payload.title == "Pump maintenance"


def test_pruned_documents_leave_tombstones_and_listed_ones_their_last_run(
    live: Runtime, kb: Path
) -> None:
    run(live, kb)
    (kb / "valves.md").unlink()
    run(live, kb)
    last = live.catalog.last_run(SOURCE)
    assert last is not None
    (tomb,) = live.catalog.tombstones_of(SOURCE)
    assert (tomb["source_uri"], tomb["run_id"]) == ("valves.md", last.run_id)
    rows = live.catalog.documents_of(SOURCE).values()
    assert rows and all(row.last_seen_run == last.run_id for row in rows)


def test_an_incremental_run_reads_only_files_changed_since_and_prunes_nothing(
    live: Runtime, kb: Path, write
) -> None:
    import os
    from datetime import UTC, datetime, timedelta

    run(live, kb)
    cutoff = datetime.now(UTC) - timedelta(seconds=30)
    for path in kb.rglob("*"):
        if path.is_file():  # everything "old" except what we touch below
            os.utime(path, (cutoff.timestamp() - 60, cutoff.timestamp() - 60))
    write_sections(write, kb / "pumps.md", "Pumps", ["inspection", "overhaul", "storage"])
    (kb / "valves.md").unlink()

    summary = live.pipeline.run(FilesystemConnector(kb, SOURCE), since=cutoff)

    assert summary.status == "ok" and summary.incremental
    assert (summary.listed, summary.changed, summary.deleted) == (1, 1, 0)
    assert document_id(SOURCE, "valves.md") in live.store.document_ids(SOURCE)  # not pruned
    full = run(live, kb)
    # pumps.md was taken by the incremental run; parking.txt only got an older mtime.
    assert (full.deleted, full.unchanged, full.metadata_only) == (1, 1, 1)


def test_an_incremental_run_needs_a_connector_that_can_list_changes(
    live: Runtime, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from connectors.git import GitConnector

    summary = live.pipeline.run(
        GitConnector(str(tmp_path / "none"), SOURCE, tmp_path / "work"), since=datetime.now(UTC)
    )
    assert summary.status == "failed" and "cannot list changes" in (summary.error or "")
