"""The catalog: what the index should contain, the embedding cache, the ingest runs and the
sync runs asked for over HTTP in the embedded mode.

SQLAlchemy Core tables on the shared database (`steward.database`). It is the source of truth
that pruning and change detection read; the index is rebuilt from sources, never the reverse.
Every domain package reads its documents (hygiene and evaluation join them with their own
tables), so it lives in the kernel; each package's own tables live in that package.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    update,
)

from steward.database import Database, metadata
from steward.domain import Partition, as_utc, utc_now
from steward.errors import CatalogError
from steward.redact import redact_secrets

documents = Table(
    "documents",
    metadata,
    Column("doc_id", String(64), primary_key=True),
    Column("source", String(200), nullable=False, index=True),
    Column("key", Text, nullable=False),
    Column("source_uri", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    # Of the parsed text alone: equal body hashes and unequal content hashes mean a change of
    # metadata only (front matter), or, across two paths, a move.
    Column("body_hash", String(64)),
    Column("pipeline_version", String(64), nullable=False),
    Column("title", Text, nullable=False),
    Column("owner", Text),
    Column("review_by", String(10)),
    Column("review_interval_days", Integer),
    Column("tags", JSON, nullable=False),
    Column("acl", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("size", Integer, nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_ingested", DateTime(timezone=True), nullable=False),
    Column("last_seen_run", Integer),  # the last ingest run whose complete listing had it
    # Hashes of the document's short lines, so boilerplate statistics cover unchanged documents
    # without re-parsing them.
    Column("line_hashes", JSON, nullable=False),
)

chunks = Table(
    "chunks",
    metadata,
    Column("doc_id", String(64), primary_key=True),
    Column("chunk_id", String(36), primary_key=True),
    Column("ordinal", Integer, nullable=False),
)

# What left the index and when: the audit trail of pruning.
tombstones = Table(
    "document_tombstones",
    metadata,
    Column("doc_id", String(64), primary_key=True),
    Column("deleted_at", DateTime(timezone=True), primary_key=True),
    Column("source", String(200), nullable=False, index=True),
    Column("source_uri", Text, nullable=False),
    Column("run_id", Integer),
)

sources = Table(
    "sources",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("connector", String(40), nullable=False),
    Column("config", JSON, nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

embeddings = Table(
    "embeddings",
    metadata,
    Column("model", String(300), primary_key=True),
    Column("content_hash", String(64), primary_key=True),
    Column("vector", LargeBinary, nullable=False),
)

runs = Table(
    "ingest_runs",
    metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(200), nullable=False, index=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("status", String(20), nullable=False),
    Column("duration_s", Float),
    Column("summary", JSON),
)

# Syncs started on request in the embedded mode (app.sync_runs.ThreadSyncRuns), kept here so a
# run id stays readable after the server restarts. The distributed mode keeps its runs in Redis.
sync_runs = Table(
    "sync_runs",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("source", String(200), nullable=False, index=True),
    # queued, running, ok, failed, or interrupted (its process stopped before it ended)
    Column("status", String(20), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("progress", JSON, nullable=False),
    Column("result", JSON),
    Column("error", Text),
)

SYNC_RUN_FIELDS = tuple(column.name for column in sync_runs.columns)
_INTERRUPTED = "interrupted: the process stopped before the sync finished"


@dataclass(frozen=True, slots=True)
class DocumentRow:
    doc_id: str
    source: str
    key: str
    source_uri: str
    content_hash: str
    pipeline_version: str
    title: str
    owner: str | None
    review_by: str | None
    tags: list[str]
    acl: list[str]
    updated_at: datetime
    size: int
    first_seen: datetime
    last_ingested: datetime
    chunk_ids: list[str]
    line_hashes: list[str]
    body_hash: str | None = None
    last_seen_run: int | None = None
    review_interval_days: int | None = None


_STORED = [name for name in DocumentRow.__slots__ if name != "chunk_ids"]


@dataclass(frozen=True, slots=True)
class EdgeLines:
    """What one document adds to its source's boilerplate set (ingest.normalize), and the hash
    of its text: the columns a bucket's sync reads of the other buckets' documents."""

    doc_id: str
    content_hash: str
    line_hashes: list[str]
    body_hash: str | None
    pipeline_version: str


@dataclass(frozen=True, slots=True)
class RunRow:
    """One ingest run of a source, as the catalog holds it (`summary` is the sync's summary)."""

    run_id: int
    source: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    duration_s: float | None
    summary: dict[str, Any] | None


def _row(mapping: Any, chunk_ids: list[str]) -> DocumentRow:
    values = {name: mapping[name] for name in _STORED}
    values["chunk_ids"] = chunk_ids
    for name in ("updated_at", "first_seen", "last_ingested"):
        values[name] = as_utc(values[name])
    return DocumentRow(**values)


class Catalog:
    """Typed access to the catalog tables of one database."""

    def __init__(self, database: Database) -> None:
        self._database = database

    # -- documents --------------------------------------------------------------------------

    def _chunk_ids(self, conn: Any, doc_ids: Sequence[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {doc_id: [] for doc_id in doc_ids}
        for start in range(0, len(doc_ids), 500):
            query = (
                select(chunks.c.doc_id, chunks.c.chunk_id)
                .where(chunks.c.doc_id.in_(doc_ids[start : start + 500]))
                .order_by(chunks.c.doc_id, chunks.c.ordinal)
            )
            for doc_id, chunk_id in conn.execute(query):
                found[doc_id].append(chunk_id)
        return found

    def documents_of(
        self, source: str, partition: Partition | None = None
    ) -> dict[str, DocumentRow]:
        """Every document of a source, or of one bucket of it (only the bucket's rows are read
        whole: a bucket's sync costs its share of the source, plus the ids)."""
        query = select(documents).where(documents.c.source == source)
        with self._database.connect() as conn:
            if partition is None or partition.of == 1:
                rows = conn.execute(query).all()
            else:
                every = conn.execute(select(documents.c.doc_id).where(documents.c.source == source))
                mine = [doc_id for (doc_id,) in every if partition.holds(doc_id)]
                rows = []
                for start in range(0, len(mine), 500):
                    part = mine[start : start + 500]
                    rows += conn.execute(query.where(documents.c.doc_id.in_(part))).all()
            ids = self._chunk_ids(conn, [row.doc_id for row in rows])
            return {row.doc_id: _row(row._mapping, ids[row.doc_id]) for row in rows}

    def edge_lines_of(self, source: str) -> list[EdgeLines]:
        """Every document of a source, as its boilerplate candidates and its text's hash."""
        columns = [getattr(documents.c, name) for name in EdgeLines.__slots__]
        with self._database.connect() as conn:
            found = conn.execute(select(*columns).where(documents.c.source == source))
            return [EdgeLines(*row) for row in found]

    def document(self, doc_id: str) -> DocumentRow | None:
        with self._database.connect() as conn:
            row = conn.execute(select(documents).where(documents.c.doc_id == doc_id)).first()
            return _row(row._mapping, self._chunk_ids(conn, [doc_id])[doc_id]) if row else None

    def acls(self, doc_ids: Sequence[str]) -> dict[str, list[str]]:
        """The access groups of these documents (those that exist), in one query."""
        if not doc_ids:
            return {}
        query = select(documents.c.doc_id, documents.c.acl).where(
            documents.c.doc_id.in_(list(doc_ids))
        )
        with self._database.connect() as conn:
            return {str(doc_id): list(acl) for doc_id, acl in conn.execute(query)}

    def sources(self) -> list[str]:
        """Names of the sources that have documents."""
        with self._database.connect() as conn:
            query = select(documents.c.source).distinct().order_by(documents.c.source)
            return [str(name) for (name,) in conn.execute(query)]

    def all_documents(
        self, sources: Sequence[str] = (), line_hashes: bool = True
    ) -> dict[str, DocumentRow]:
        """Every document (of these sources), without chunk lists (they stay empty); without
        line hashes too when not asked for (listings: decoding them is most of the read)."""
        columns = [c for c in documents.c if line_hashes or c.name != "line_hashes"]
        query = select(*columns)
        if sources:
            query = query.where(documents.c.source.in_(list(sources)))
        with self._database.connect() as conn:
            if line_hashes:
                return {row.doc_id: _row(row._mapping, []) for row in conn.execute(query)}
            return {
                row.doc_id: _row({**row._mapping, "line_hashes": []}, [])
                for row in conn.execute(query)
            }

    def count_documents(self) -> int:
        with self._database.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(documents)).scalar_one())

    def save_documents(self, rows: Sequence[DocumentRow]) -> None:
        """Insert or replace documents and their chunk lists in one transaction."""
        if not rows:
            return
        ids = [row.doc_id for row in rows]
        values = [{name: getattr(row, name) for name in _STORED} for row in rows]
        chunk_rows = [
            {"chunk_id": chunk_id, "doc_id": row.doc_id, "ordinal": ordinal}
            for row in rows
            for ordinal, chunk_id in enumerate(row.chunk_ids)
        ]
        with self._database.begin() as conn:
            conn.execute(delete(chunks).where(chunks.c.doc_id.in_(ids)))
            conn.execute(delete(documents).where(documents.c.doc_id.in_(ids)))
            conn.execute(insert(documents), values)
            if chunk_rows:
                conn.execute(insert(chunks), chunk_rows)

    def delete_documents(self, doc_ids: Iterable[str], run_id: int | None = None) -> None:
        """Remove documents and their chunks, leaving a tombstone for each."""
        ids = list(doc_ids)
        if not ids:
            return
        now = utc_now()
        with self._database.begin() as conn:
            gone = conn.execute(
                select(documents.c.doc_id, documents.c.source, documents.c.source_uri).where(
                    documents.c.doc_id.in_(ids)
                )
            ).all()
            if gone:
                conn.execute(
                    insert(tombstones),
                    [
                        {
                            "doc_id": d,
                            "source": s,
                            "source_uri": u,
                            "deleted_at": now,
                            "run_id": run_id,
                        }
                        for d, s, u in gone
                    ],
                )
            conn.execute(delete(chunks).where(chunks.c.doc_id.in_(ids)))
            conn.execute(delete(documents).where(documents.c.doc_id.in_(ids)))

    def tombstones_of(self, source: str) -> list[dict[str, Any]]:
        """Documents pruned from a source, newest first."""
        with self._database.connect() as conn:
            query = (
                select(tombstones)
                .where(tombstones.c.source == source)
                .order_by(tombstones.c.deleted_at.desc())
            )
            return [dict(row._mapping) for row in conn.execute(query)]

    def mark_seen(self, doc_ids: Iterable[str], run_id: int) -> None:
        """Record that a complete listing of this run contained these documents."""
        ids = list(doc_ids)
        with self._database.begin() as conn:
            for start in range(0, len(ids), 500):
                conn.execute(
                    update(documents)
                    .where(documents.c.doc_id.in_(ids[start : start + 500]))
                    .values(last_seen_run=run_id)
                )

    def save_source(self, name: str, connector: str, config: dict[str, Any]) -> None:
        """Record how a source is declared (its latest configuration), secrets masked."""
        now = utc_now()
        # A password or token written into steward.yaml must not end up in the catalog, which
        # backups, replicas and every admin's SQL client read: references (password_env) stay.
        stored = redact_secrets(json.loads(json.dumps(config, default=str)))
        with self._database.begin() as conn:
            found = conn.execute(select(sources.c.first_seen).where(sources.c.name == name)).first()
            conn.execute(delete(sources).where(sources.c.name == name))
            conn.execute(
                insert(sources).values(
                    name=name,
                    connector=connector,
                    config=stored,
                    first_seen=found[0] if found else now,
                    updated_at=now,
                )
            )

    def mask_stored_secrets(self) -> int:
        """Mask secrets in configurations stored before they were masked; how many changed."""
        changed = 0
        with self._database.begin() as conn:
            for name, config in conn.execute(select(sources.c.name, sources.c.config)).all():
                masked = redact_secrets(config)
                if masked != config:
                    conn.execute(
                        update(sources).where(sources.c.name == name).values(config=masked)
                    )
                    changed += 1
        return changed

    def source(self, name: str) -> dict[str, Any] | None:
        with self._database.connect() as conn:
            row = conn.execute(select(sources).where(sources.c.name == name)).first()
            return dict(row._mapping) if row else None

    # -- embedding cache --------------------------------------------------------------------

    def cached_embeddings(self, model: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._database.connect() as conn:
            for start in range(0, len(hashes), 500):
                part = list(hashes[start : start + 500])
                query = select(embeddings.c.content_hash, embeddings.c.vector).where(
                    embeddings.c.model == model, embeddings.c.content_hash.in_(part)
                )
                for content_hash, blob in conn.execute(query):
                    found[content_hash] = np.frombuffer(blob, dtype=np.float32)
        return found

    def cache_embeddings(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        if not vectors:
            return
        rows = [
            {"model": model, "content_hash": h, "vector": np.asarray(v, dtype=np.float32).tobytes()}
            for h, v in vectors.items()
        ]
        with self._database.begin() as conn:
            existing = {
                h
                for (h,) in conn.execute(
                    select(embeddings.c.content_hash).where(
                        embeddings.c.model == model,
                        embeddings.c.content_hash.in_([r["content_hash"] for r in rows]),
                    )
                )
            }
            fresh = [r for r in rows if r["content_hash"] not in existing]
            if fresh:
                conn.execute(insert(embeddings), fresh)

    # -- runs -------------------------------------------------------------------------------

    def start_run(self, source: str) -> int:
        with self._database.begin() as conn:
            result = conn.execute(
                insert(runs).values(source=source, started_at=utc_now(), status="running")
            )
            key = result.inserted_primary_key
            if key is None:
                raise CatalogError("the catalog did not return the new run's id")
            return int(key[0])

    def finish_run(
        self, run_id: int, status: str, duration_s: float, summary: dict[str, Any]
    ) -> None:
        with self._database.begin() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.run_id == run_id)
                .values(
                    finished_at=utc_now(),
                    status=status,
                    duration_s=duration_s,
                    summary=json.loads(json.dumps(summary, default=str)),
                )
            )

    def last_good_run(self, source: str, partition: str | None = None) -> RunRow | None:
        """The newest run of a source that finished well; with `partition` ("2/8"), the newest
        of that bucket's (its summary names it)."""
        query = (
            select(runs)
            .where(runs.c.source == source, runs.c.status == "ok")
            .order_by(runs.c.run_id.desc())
        )
        with self._database.connect() as conn:
            if partition is None:
                row = conn.execute(query.limit(1)).first()
                return RunRow(**row._mapping) if row else None
            # Read newest first, a page at a time: the bucket's run is among the last rounds'.
            offset = 0
            while True:
                page = conn.execute(query.offset(offset).limit(100)).all()
                for row in page:
                    if (row.summary or {}).get("partition") == partition:
                        return RunRow(**row._mapping)
                if len(page) < 100:
                    return None
                offset += 100

    def last_run(self, source: str) -> RunRow | None:
        """The newest run of a source, whatever its status (a running one included)."""
        with self._database.connect() as conn:
            row = conn.execute(
                select(runs).where(runs.c.source == source).order_by(runs.c.run_id.desc()).limit(1)
            ).first()
            return RunRow(**row._mapping) if row else None

    def runs_of(self, source: str, limit: int = 10) -> list[RunRow]:
        """The newest runs of a source, newest first."""
        with self._database.connect() as conn:
            query = (
                select(runs)
                .where(runs.c.source == source)
                .order_by(runs.c.run_id.desc())
                .limit(limit)
            )
            return [RunRow(**row._mapping) for row in conn.execute(query)]

    # -- sync runs asked for over HTTP (embedded mode) -----------------------------------------

    def add_sync_run(self, record: dict[str, Any]) -> None:
        """Record a new sync run: a mapping of SYNC_RUN_FIELDS."""
        with self._database.begin() as conn:
            conn.execute(insert(sync_runs).values(**_sync_values(record)))

    def update_sync_run(self, run_id: str, **changes: Any) -> None:
        with self._database.begin() as conn:
            conn.execute(
                update(sync_runs)
                .where(sync_runs.c.run_id == run_id)
                .values(**_sync_values(changes))
            )

    def sync_run(self, run_id: str) -> dict[str, Any] | None:
        """A sync run's record (times in UTC), or None for an unknown id."""
        with self._database.connect() as conn:
            row = conn.execute(select(sync_runs).where(sync_runs.c.run_id == run_id)).first()
        if row is None:
            return None
        found = dict(row._mapping)
        for key in ("requested_at", "started_at", "finished_at"):
            if found[key] is not None:
                found[key] = as_utc(found[key])
        return found

    def interrupt_sync_runs(self) -> int:
        """Mark sync runs still queued or running as interrupted: the process that ran them
        stopped before they ended (a restart). How many."""
        with self._database.begin() as conn:
            result = conn.execute(
                update(sync_runs)
                .where(sync_runs.c.status.in_(("queued", "running")))
                .values(status="interrupted", finished_at=utc_now(), error=_INTERRUPTED)
            )
        return int(result.rowcount or 0)


def _sync_values(record: dict[str, Any]) -> dict[str, Any]:
    unknown = set(record) - set(SYNC_RUN_FIELDS)
    if unknown:
        raise CatalogError(f"not fields of a sync run: {sorted(unknown)}")
    values = dict(record)
    for key in ("progress", "result"):
        if values.get(key) is not None:
            values[key] = json.loads(json.dumps(values[key], default=str))
    return values
