"""The catalog contract, run on SQLite (embedded) and the machine's PostgreSQL (distributed)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from app.schema import metadata
from connectors.filesystem import FilesystemConnector
from steward.catalog import Catalog, DocumentRow
from steward.database import Database
from steward.errors import CatalogError


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    opened = Database(catalog_url)
    yield Catalog(opened)
    opened.close()


def row(doc_id: str, source: str = "kb", **changes: object) -> DocumentRow:
    moment = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    values: dict[str, object] = {
        "doc_id": doc_id,
        "source": source,
        "key": f"{doc_id}.md",
        "source_uri": f"team/{doc_id}.md",
        "content_hash": "a" * 64,
        "pipeline_version": "v1",
        "title": f"Title {doc_id}",
        "owner": "ana@example.com",
        "review_by": "2027-01-31",
        "tags": ["policy", "hr"],
        "acl": ["hr"],
        "updated_at": moment,
        "size": 1234,
        "first_seen": moment - timedelta(days=3),
        "last_ingested": moment + timedelta(hours=1),
        "chunk_ids": ["c1", "c2"],
        "line_hashes": ["h1"],
    }
    values.update(changes)
    return DocumentRow(**values)  # type: ignore[arg-type]


def test_migrations_build_exactly_the_schema_the_code_uses(
    catalog_url: str, catalog: Catalog
) -> None:
    engine = create_engine(catalog_url)
    with engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), metadata)
        tables = set(inspect(connection).get_table_names())
    engine.dispose()
    assert diffs == []
    assert {"documents", "embeddings", "ingest_runs", "alembic_version"} <= tables


def test_reopening_a_migrated_catalog_keeps_its_rows(catalog_url: str, catalog: Catalog) -> None:
    catalog.save_documents([row("d1")])
    again = Database(catalog_url)
    try:
        assert Catalog(again).document("d1") == row("d1")
    finally:
        again.close()


def test_documents_round_trip_with_utc_datetimes_and_lists(catalog: Catalog) -> None:
    catalog.save_documents([row("d1"), row("d2", owner=None, acl=[], review_by=None)])
    assert catalog.document("d1") == row("d1")
    second = catalog.document("d2")
    assert second is not None and second.owner is None and second.acl == []
    assert second.updated_at.tzinfo is not None
    assert second.updated_at == datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    assert catalog.document("missing") is None
    assert catalog.count_documents() == 2


def test_acls_are_read_for_many_documents_at_once(catalog: Catalog) -> None:
    catalog.save_documents([row("d1", acl=["secret-team"]), row("d2", acl=[])])
    assert catalog.acls(["d1", "d2", "missing"]) == {"d1": ["secret-team"], "d2": []}
    assert catalog.acls([]) == {}


def test_save_replaces_and_sources_stay_apart(catalog: Catalog) -> None:
    catalog.save_documents([row("d1"), row("x1", source="other")])
    catalog.save_documents([row("d1", title="Renamed", chunk_ids=["c9"])])
    assert set(catalog.documents_of("kb")) == {"d1"}
    assert set(catalog.documents_of("other")) == {"x1"}
    replaced = catalog.document("d1")
    assert replaced is not None and replaced.title == "Renamed" and replaced.chunk_ids == ["c9"]
    catalog.delete_documents(["d1"])
    assert catalog.documents_of("kb") == {}
    assert set(catalog.documents_of("other")) == {"x1"}


def test_embedding_cache_is_exact_and_idempotent(catalog: Catalog) -> None:
    rng = np.random.default_rng(7)
    vectors = {f"h{i}": rng.standard_normal(384).astype(np.float32) for i in range(3)}
    catalog.cache_embeddings("model-a", vectors)
    catalog.cache_embeddings("model-a", {"h0": vectors["h0"], "h9": vectors["h1"]})
    found = catalog.cached_embeddings("model-a", ["h0", "h1", "h2", "h9", "nope"])
    assert set(found) == {"h0", "h1", "h2", "h9"}
    for key in ("h0", "h1", "h2"):
        assert np.array_equal(found[key], vectors[key])
    assert catalog.cached_embeddings("model-b", ["h0"]) == {}  # keyed by model too


def test_runs_are_recorded_in_order(catalog: Catalog) -> None:
    first = catalog.start_run("kb")
    catalog.finish_run(first, "ok", 1.5, {"new": 3})
    second = catalog.start_run("kb")
    last = catalog.last_run("kb")
    assert second > first
    assert last is not None and last.run_id == second and last.status == "running"
    catalog.finish_run(second, "failed", 0.2, {"error": "listing failed"})
    last = catalog.last_run("kb")
    assert last is not None and last.status == "failed" and last.summary is not None
    assert last.summary["error"] == "listing failed" and last.finished_at is not None
    assert catalog.last_run("elsewhere") is None


def test_sync_runs_outlive_the_catalog_and_unfinished_ones_are_interrupted(
    catalog_url: str, catalog: Catalog
) -> None:
    asked = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def record(run_id: str, status: str) -> dict[str, object]:
        return {
            "run_id": run_id,
            "source": "kb",
            "status": status,
            "requested_at": asked,
            "started_at": None,
            "finished_at": None,
            "progress": {},
            "result": None,
            "error": None,
        }

    for run_id, status in (("done", "queued"), ("left", "running"), ("waiting", "queued")):
        catalog.add_sync_run(record(run_id, status))
    catalog.update_sync_run("done", status="running", started_at=asked + timedelta(seconds=1))
    catalog.update_sync_run(
        "done",
        status="ok",
        finished_at=asked + timedelta(seconds=9),
        progress={"stage": "index", "read": 3, "indexed": 3},
        result={"new": 3, "seconds": 8.0},
    )
    with pytest.raises(CatalogError, match="colour"):
        catalog.update_sync_run("done", colour="red")

    database = Database(catalog_url)  # as after a restart
    reopened = Catalog(database)
    assert reopened.interrupt_sync_runs() == 2
    done = reopened.sync_run("done")
    assert done is not None and done["status"] == "ok" and done["error"] is None
    assert (done["requested_at"], done["finished_at"]) == (asked, asked + timedelta(seconds=9))
    assert done["progress"]["read"] == 3 and done["result"] == {"new": 3, "seconds": 8.0}
    for run_id in ("left", "waiting"):
        stopped = reopened.sync_run(run_id)
        assert stopped is not None and stopped["status"] == "interrupted"
        assert "interrupted" in stopped["error"] and stopped["finished_at"] is not None
    assert reopened.sync_run("nope") is None
    assert reopened.interrupt_sync_runs() == 0
    database.close()


def test_an_unreachable_catalog_fails_clearly_without_its_password() -> None:
    with pytest.raises(CatalogError) as caught:
        Database("postgresql+psycopg://steward:s3cret@127.0.0.1:1/steward")
    assert "s3cret" not in str(caught.value)
    assert "127.0.0.1:1" in str(caught.value)


@pytest.mark.services
def test_distributed_shape_ingests_on_postgres_and_qdrant(
    open_home, hash_embedder, write, tmp_path: Path, postgres_url: str
) -> None:
    """PostgreSQL catalog and the qdrant-client backend: the same pipeline, the same answers."""
    kb = tmp_path / "kb"
    write.text(kb / "a.txt", "Parking permits are renewed every January at the front desk.\n")
    write.text(kb / "b.txt", "Lunch is served in the canteen from noon until two.\n")
    live = open_home(
        "pg",
        hash_embedder,
        catalog={"url": postgres_url},
        index={"backend": "qdrant", "url": ":memory:"},
    )
    first = live.pipeline.run(FilesystemConnector(kb, "kb"))
    again = live.pipeline.run(FilesystemConnector(kb, "kb"))
    assert (first.status, first.new, first.chunks_embedded) == ("ok", 2, 2)
    assert (again.unchanged, again.chunks_embedded) == (2, 0)
    assert len(live.catalog.documents_of("kb")) == 2
    assert (
        live.retriever.retrieve("canteen lunch", 1, "sparse").hits[0].payload.source_uri == "b.txt"
    )


def test_deleting_leaves_tombstones_and_removes_chunks(catalog: Catalog) -> None:
    catalog.save_documents([row("d1"), row("d2", chunk_ids=["c3"])])
    catalog.delete_documents(["d1", "never-there"], run_id=7)
    assert catalog.document("d1") is None
    (tomb,) = catalog.tombstones_of("kb")
    assert (tomb["doc_id"], tomb["source_uri"], tomb["run_id"]) == ("d1", "team/d1.md", 7)
    assert tomb["deleted_at"] is not None
    kept = catalog.document("d2")
    assert kept is not None and kept.chunk_ids == ["c3"]


def test_mark_seen_records_the_run(catalog: Catalog) -> None:
    catalog.save_documents([row("d1"), row("d2")])
    catalog.mark_seen(["d1"], 12)
    first, second = catalog.document("d1"), catalog.document("d2")
    assert first is not None and first.last_seen_run == 12
    assert second is not None and second.last_seen_run is None


def test_sources_keep_their_first_seen_across_updates(catalog: Catalog) -> None:
    catalog.save_source("kb", "filesystem", {"path": "/docs", "include": ["**/*.md"]})
    first = catalog.source("kb")
    catalog.save_source("kb", "filesystem", {"path": "/other"})
    again = catalog.source("kb")
    assert first is not None and again is not None
    assert again["config"] == {"path": "/other"} and again["first_seen"] == first["first_seen"]
    assert catalog.source("nope") is None


def test_upgrading_from_0002_moves_chunk_ids_into_the_chunks_table(catalog_url: str) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    engine = create_engine(catalog_url)
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parents[1] / "steward/migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        connection.execute(
            text(
                "INSERT INTO documents (doc_id, source, key, source_uri, content_hash, body_hash,"
                " pipeline_version, title, tags, acl, updated_at, size, first_seen, last_ingested,"
                " chunk_ids, line_hashes) VALUES ('d1', 'kb', 'a.md', 'a.md', 'h', 'b', 'v',"
                " 'T', '[]', '[]', '2026-01-01 00:00:00+00:00', 1, '2026-01-01 00:00:00+00:00',"
                " '2026-01-01 00:00:00+00:00', '[\"c2\", \"c1\"]', '[]')"
            )
        )
    engine.dispose()
    upgraded = Database(catalog_url)
    try:
        moved = Catalog(upgraded).document("d1")
        assert moved is not None and moved.chunk_ids == ["c2", "c1"]  # order kept
    finally:
        upgraded.close()
