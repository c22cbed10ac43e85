"""Hygiene records in the catalog: scan results, owners' decisions and conflicts.

Scan results (`hygiene_documents`, `hygiene_chunk_duplicates`) are replaced by every scan.
Decisions (reviews, "not a duplicate" pairs, conflict resolutions) are only ever changed by an
owner's action, each of which writes an entry of the audit log (`steward.audit`) in the same
transaction.
"""

from __future__ import annotations

import hashlib
import threading
import time as clock
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update

from hygiene import history
from hygiene.tables import (
    hygiene_chunk_duplicates,
    hygiene_conflicts,
    hygiene_distinct,
    hygiene_documents,
    hygiene_reviews,
    hygiene_scans,
)
from steward.audit import audit, entries, hygiene_audit, require_actor
from steward.catalog import documents
from steward.database import Database
from steward.domain import DocumentMark, HygieneSnapshot, ReviewState, as_utc, utc_now
from steward.errors import NotFoundError, QueryError

RESOLUTIONS = ("keep_a", "keep_b", "both_valid")
# How far ahead an owner may set a document's next review.
MAX_REVIEW_DAYS = 5 * 366


def _utc(moment: datetime | None) -> datetime | None:
    return as_utc(moment) if moment is not None else None


@dataclass(frozen=True, slots=True)
class Review:
    doc_id: str
    verified_at: datetime | None
    verified_by: str | None
    verified_hash: str | None
    deprecated_at: datetime | None
    deprecated_by: str | None
    # The next review an owner set, and when: it holds unless a verification came later.
    review_by: datetime | None = None
    review_set_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Conflict:
    """Two documents stating different values for the same thing."""

    conflict_id: str
    a_doc: str
    b_doc: str
    kind: str
    a_span: str
    b_span: str
    a_value: str
    b_value: str
    confidence: float
    newer: str | None  # "a" or "b"
    resolution: str | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    first_seen: datetime | None = None


def conflict_id(a_doc: str, b_doc: str, kind: str, a_span: str, b_span: str) -> str:
    """Stable across scans, so a resolution stays attached to the same disagreement."""
    spans = " ".join(a_span.split()) + "\x00" + " ".join(b_span.split())
    key = "\x00".join((a_doc, b_doc, kind, spans))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class DocumentState:
    """One row of a scan's results."""

    doc_id: str
    state: ReviewState
    expires_at: datetime | None
    duplicate_of: str | None
    similarity: float | None
    superseded_by: str | None


class HygieneRecords:
    """Reads and writes the hygiene tables of one database."""

    def __init__(self, database: Database) -> None:
        self._database = database

    # -- scans ------------------------------------------------------------------------------

    def start_scan(self) -> int:
        with self._database.begin() as conn:
            key = conn.execute(
                insert(hygiene_scans).values(started_at=utc_now())
            ).inserted_primary_key
            assert key is not None
            return int(key[0])

    def save_scan(
        self,
        scan_id: int,
        states: Sequence[DocumentState],
        chunk_duplicates: Sequence[tuple[str, str, float]],
        conflicts: Sequence[Conflict],
        summary: dict[str, Any],
        duration_s: float,
    ) -> None:
        """Replace the scan results; upsert conflicts, keeping resolutions; drop vanished ones."""
        now = utc_now()
        with self._database.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Two scans (a worker's after a sync, the API's) write one at a time.
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7405)")
            previous_superseded = {
                doc_id: (by, since)
                for doc_id, by, since in conn.execute(
                    select(
                        hygiene_documents.c.doc_id,
                        hygiene_documents.c.superseded_by,
                        hygiene_documents.c.superseded_since,
                    )
                )
            }
            conn.execute(delete(hygiene_documents))
            rows = []
            for s in states:
                before = previous_superseded.get(s.doc_id)
                since = None
                if s.superseded_by:
                    since = before[1] if before and before[0] == s.superseded_by else now
                rows.append(
                    {
                        "doc_id": s.doc_id,
                        "state": s.state.value,
                        "expires_at": s.expires_at,
                        "duplicate_of": s.duplicate_of,
                        "similarity": s.similarity,
                        "superseded_by": s.superseded_by,
                        "superseded_since": since,
                        # Counted from the stored conflicts, resolutions included, below.
                        "conflicts": 0,
                        "scanned_at": now,
                    }
                )
            for start in range(0, len(rows), 1000):
                conn.execute(insert(hygiene_documents), rows[start : start + 1000])
            conn.execute(delete(hygiene_chunk_duplicates))
            if chunk_duplicates:
                conn.execute(
                    insert(hygiene_chunk_duplicates),
                    [
                        {"chunk_id": c, "canonical_chunk": k, "cosine": cos}
                        for c, k, cos in chunk_duplicates
                    ],
                )
            known = dict(
                conn.execute(
                    select(hygiene_conflicts.c.conflict_id, hygiene_conflicts.c.resolution)
                ).all()
            )
            seen = {c.conflict_id for c in conflicts}
            # A resolved conflict a scan did not see stays on record: an owner's decision is
            # never lost to one scan's neighbour list, and it applies again if the pair returns.
            gone = [cid for cid, resolution in known.items() if cid not in seen and not resolution]
            for start in range(0, len(gone), 500):
                conn.execute(
                    delete(hygiene_conflicts).where(
                        hygiene_conflicts.c.conflict_id.in_(gone[start : start + 500])
                    )
                )
            fresh = []
            for c in conflicts:
                values = {
                    "a_doc": c.a_doc,
                    "b_doc": c.b_doc,
                    "kind": c.kind,
                    "a_span": c.a_span,
                    "b_span": c.b_span,
                    "a_value": c.a_value,
                    "b_value": c.b_value,
                    "confidence": c.confidence,
                    "newer": c.newer,
                    "last_seen": now,
                }
                if c.conflict_id in known:
                    conn.execute(
                        update(hygiene_conflicts)
                        .where(hygiene_conflicts.c.conflict_id == c.conflict_id)
                        .values(**values)
                    )
                else:
                    fresh.append(
                        {
                            "conflict_id": c.conflict_id,
                            "first_seen": now,
                            # A judge's veto arrives with the conflict; owners act later.
                            "resolution": c.resolution,
                            "resolved_by": c.resolved_by,
                            "resolved_at": c.resolved_at,
                            **values,
                        }
                    )
            if fresh:
                conn.execute(insert(hygiene_conflicts), fresh)
            self._reapply_decisions(conn)
            # The per-source counts of this scan, for the dashboard's trends.
            history.record(conn, scan_id, now)
            conn.execute(
                update(hygiene_scans)
                .where(hygiene_scans.c.scan_id == scan_id)
                .values(finished_at=now, duration_s=duration_s, summary=summary)
            )

    def _reapply_decisions(self, conn: Any) -> None:
        """Decisions taken while a scan ran win over what the scan computed before them; each
        document's count of open conflicts is made here, from the stored conflicts."""
        for a, b in conn.execute(select(hygiene_distinct.c.doc_a, hygiene_distinct.c.doc_b)).all():
            _unfold(conn, a, b)
        conn.execute(
            update(hygiene_documents)
            .where(
                hygiene_documents.c.doc_id.in_(
                    select(hygiene_reviews.c.doc_id).where(
                        hygiene_reviews.c.deprecated_at.is_not(None)
                    )
                )
            )
            .values(state=ReviewState.DEPRECATED.value)
        )
        counts: dict[str, int] = {}
        open_conflicts = select(hygiene_conflicts.c.a_doc, hygiene_conflicts.c.b_doc).where(
            hygiene_conflicts.c.resolution.is_(None)
        )
        for a, b in conn.execute(open_conflicts).all():
            counts[a] = counts.get(a, 0) + 1
            counts[b] = counts.get(b, 0) + 1
        conn.execute(update(hygiene_documents).values(conflicts=0))
        for doc_id, count in counts.items():
            conn.execute(
                update(hygiene_documents)
                .where(hygiene_documents.c.doc_id == doc_id)
                .values(conflicts=count)
            )

    def last_scan(self) -> dict[str, Any] | None:
        with self._database.connect() as conn:
            row = conn.execute(
                select(hygiene_scans)
                .where(hygiene_scans.c.finished_at.is_not(None))
                .order_by(hygiene_scans.c.scan_id.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        # In UTC with the zone said (SQLite drops it), so the API's date-times are RFC 3339.
        found = dict(row._mapping)
        for name in ("started_at", "finished_at"):
            if found[name] is not None:
                found[name] = as_utc(found[name])
        return found

    def generation(self) -> tuple[int | None, datetime | None, int]:
        """Changes whenever retrieval's view must be reloaded: a scan, an ingest, a decision."""
        with self._database.connect() as conn:
            scan = conn.execute(
                select(func.max(hygiene_scans.c.scan_id)).where(
                    hygiene_scans.c.finished_at.is_not(None)
                )
            ).scalar_one()
            ingested = conn.execute(select(func.max(documents.c.last_ingested))).scalar_one()
            audit = conn.execute(select(func.max(hygiene_audit.c.entry_id))).scalar_one()
            return scan, ingested, int(audit or 0)

    def snapshot(self) -> HygieneSnapshot:
        """Every document's mark for retrieval; documents not scanned yet are unverified."""
        with self._database.connect() as conn:
            query = select(
                documents.c.doc_id,
                documents.c.updated_at,
                hygiene_documents.c.state,
                hygiene_documents.c.duplicate_of,
                hygiene_documents.c.superseded_by,
                hygiene_documents.c.conflicts,
            ).select_from(
                documents.outerjoin(
                    hygiene_documents, documents.c.doc_id == hygiene_documents.c.doc_id
                )
            )
            deprecated = {
                doc_id
                for (doc_id,) in conn.execute(
                    select(hygiene_reviews.c.doc_id).where(
                        hygiene_reviews.c.deprecated_at.is_not(None)
                    )
                )
            }
            marks: dict[str, DocumentMark] = {}
            for doc_id, updated_at, state, dup, sup, conflicts in conn.execute(query):
                review = ReviewState(state) if state else ReviewState.UNVERIFIED
                if doc_id in deprecated:  # an action takes effect before the next scan
                    review = ReviewState.DEPRECATED
                marks[doc_id] = DocumentMark(
                    updated_at=as_utc(updated_at),
                    state=review,
                    duplicate_of=dup,
                    superseded_by=sup,
                    conflicts=int(conflicts or 0),
                )
            chunk_canonical = dict(
                conn.execute(
                    select(
                        hygiene_chunk_duplicates.c.chunk_id,
                        hygiene_chunk_duplicates.c.canonical_chunk,
                    )
                ).all()
            )
            scan = conn.execute(select(func.max(hygiene_scans.c.scan_id))).scalar_one()
        return HygieneSnapshot(marks, chunk_canonical, scan)

    def states(self, doc_ids: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        query = select(hygiene_documents)
        if doc_ids is not None:
            query = query.where(hygiene_documents.c.doc_id.in_(list(doc_ids)))
        with self._database.connect() as conn:
            found = {}
            for row in conn.execute(query):
                values = dict(row._mapping)
                for name in ("expires_at", "superseded_since", "scanned_at"):
                    values[name] = _utc(values[name])
                found[row.doc_id] = values
            return found

    def copies_of(self, doc_id: str) -> list[str]:
        """The documents the last scan folded into this one."""
        query = select(hygiene_documents.c.doc_id).where(hygiene_documents.c.duplicate_of == doc_id)
        with self._database.connect() as conn:
            return sorted(str(d) for (d,) in conn.execute(query))

    # -- decisions --------------------------------------------------------------------------

    def reviews(self) -> dict[str, Review]:
        with self._database.connect() as conn:
            return {
                row.doc_id: Review(
                    doc_id=row.doc_id,
                    verified_at=_utc(row.verified_at),
                    verified_by=row.verified_by,
                    verified_hash=row.verified_hash,
                    deprecated_at=_utc(row.deprecated_at),
                    deprecated_by=row.deprecated_by,
                    review_by=_utc(row.review_by),
                    review_set_at=_utc(row.review_set_at),
                )
                for row in conn.execute(select(hygiene_reviews))
            }

    def distinct_pairs(self) -> set[tuple[str, str]]:
        with self._database.connect() as conn:
            return {
                (a, b)
                for a, b in conn.execute(select(hygiene_distinct.c.doc_a, hygiene_distinct.c.doc_b))
            }

    def _document(self, conn: Any, doc_id: str) -> Any:
        row = conn.execute(select(documents).where(documents.c.doc_id == doc_id)).first()
        if row is None:
            raise NotFoundError("document", doc_id)
        return row

    def _review_values(self, conn: Any, doc_id: str, **values: Any) -> None:
        exists = conn.execute(
            select(hygiene_reviews.c.doc_id).where(hygiene_reviews.c.doc_id == doc_id)
        ).first()
        if exists:
            conn.execute(
                update(hygiene_reviews).where(hygiene_reviews.c.doc_id == doc_id).values(**values)
            )
        else:
            conn.execute(insert(hygiene_reviews).values(doc_id=doc_id, **values))

    def verify(self, doc_id: str, actor: str, note: str | None = None) -> None:
        """The owner vouches for the document as it reads now; a later edit undoes it."""
        require_actor(actor)
        with self._database.begin() as conn:
            row = self._document(conn, doc_id)
            self._review_values(
                conn,
                doc_id,
                verified_at=utc_now(),
                verified_by=actor,
                verified_hash=row.body_hash or row.content_hash,
                deprecated_at=None,
                deprecated_by=None,
                note=note,
            )
            audit(conn, actor, "verify", doc_id, source_uri=row.source_uri, note=note)

    def deprecate(self, doc_id: str, actor: str, note: str | None = None) -> None:
        require_actor(actor)
        with self._database.begin() as conn:
            row = self._document(conn, doc_id)
            self._review_values(
                conn, doc_id, deprecated_at=utc_now(), deprecated_by=actor, note=note
            )
            audit(conn, actor, "deprecate", doc_id, source_uri=row.source_uri, note=note)

    def set_review_date(self, doc_id: str, review_by: date, actor: str) -> None:
        """The owner's next review of the document: it is not expired before that day ends."""
        require_actor(actor)
        now = utc_now()
        if review_by <= now.date():
            raise QueryError("review_by", "must be a day after today")
        if review_by > now.date() + timedelta(days=MAX_REVIEW_DAYS):
            raise QueryError("review_by", f"must be within {MAX_REVIEW_DAYS} days")
        with self._database.begin() as conn:
            row = self._document(conn, doc_id)
            self._review_values(
                conn,
                doc_id,
                review_by=datetime.combine(review_by, time.min, tzinfo=UTC),
                review_set_at=now,
                review_set_by=actor,
            )
            audit(
                conn,
                actor,
                "set_review_date",
                doc_id,
                source_uri=row.source_uri,
                review_by=review_by.isoformat(),
            )

    def hand_over(self, doc_id: str, owner: str, actor: str) -> None:
        """The document's owner is `owner` from now on, across syncs (front matter or not)."""
        require_actor(actor)
        owner = owner.strip()
        if not owner or len(owner) > 200:
            raise QueryError("owner", "must name the new owner (an e-mail or user name)")
        with self._database.begin() as conn:
            row = self._document(conn, doc_id)
            self._review_values(conn, doc_id, owner=owner)
            audit(
                conn,
                actor,
                "hand_over",
                doc_id,
                source_uri=row.source_uri,
                owner=owner,
                previous=row.owner,
            )

    def handed_over(self) -> dict[str, str]:
        """Document -> the owner it was handed over to."""
        query = select(hygiene_reviews.c.doc_id, hygiene_reviews.c.owner).where(
            hygiene_reviews.c.owner.is_not(None)
        )
        with self._database.connect() as conn:
            return {str(d): str(o) for d, o in conn.execute(query)}

    def mark_distinct(self, doc_a: str, doc_b: str, actor: str) -> None:
        """Two documents are not duplicates of each other, whatever their similarity."""
        require_actor(actor)
        if doc_a == doc_b:
            raise QueryError("doc_b", "must differ from doc_a")
        a, b = sorted((doc_a, doc_b))
        with self._database.begin() as conn:
            self._document(conn, a)
            self._document(conn, b)
            exists = conn.execute(
                select(hygiene_distinct.c.doc_a).where(
                    hygiene_distinct.c.doc_a == a, hygiene_distinct.c.doc_b == b
                )
            ).first()
            if not exists:
                conn.execute(
                    insert(hygiene_distinct).values(
                        doc_a=a, doc_b=b, decided_by=actor, decided_at=utc_now()
                    )
                )
            # Until the next scan, retrieval must stop folding one into the other.
            _unfold(conn, a, b)
            audit(conn, actor, "not_duplicate", f"{a} {b}", doc_a=a, doc_b=b)

    def resolve_conflict(
        self,
        conflict: str,
        resolution: str,
        actor: str,
        readable: Callable[[str], bool] = lambda doc_id: True,
    ) -> None:
        """Decide a conflict by its id or a unique prefix of it; one the actor cannot read both
        sides of (`readable`) answers as missing, like an unknown one."""
        require_actor(actor)
        if resolution not in RESOLUTIONS:
            raise QueryError("resolution", f"must be one of {', '.join(RESOLUTIONS)}")
        with self._database.begin() as conn:
            # A unique prefix will do (`steward hygiene report` prints eight characters).
            rows = conn.execute(
                select(hygiene_conflicts)
                .where(hygiene_conflicts.c.conflict_id.startswith(conflict, autoescape=True))
                .limit(2)
            ).all()
            if len(rows) != 1 or len(conflict) < 6:
                raise NotFoundError("conflict", conflict)
            row = rows[0]
            if not (readable(row.a_doc) and readable(row.b_doc)):
                raise NotFoundError("conflict", conflict)
            conflict = row.conflict_id
            conn.execute(
                update(hygiene_conflicts)
                .where(hygiene_conflicts.c.conflict_id == conflict)
                .values(resolution=resolution, resolved_by=actor, resolved_at=utc_now())
            )
            # The documents' unresolved-conflict counts follow at once (once per conflict).
            for doc_id in (row.a_doc, row.b_doc) if row.resolution is None else ():
                conn.execute(
                    update(hygiene_documents)
                    .where(hygiene_documents.c.doc_id == doc_id, hygiene_documents.c.conflicts > 0)
                    .values(conflicts=hygiene_documents.c.conflicts - 1)
                )
            audit(
                conn,
                actor,
                "resolve_conflict",
                conflict,
                resolution=resolution,
                a_doc=row.a_doc,
                b_doc=row.b_doc,
                kind=row.kind,
            )

    def conflicts(self, doc_id: str | None = None, include_resolved: bool = True) -> list[Conflict]:
        query = select(hygiene_conflicts).order_by(
            hygiene_conflicts.c.confidence.desc(), hygiene_conflicts.c.conflict_id
        )
        if doc_id is not None:
            query = query.where(
                or_(hygiene_conflicts.c.a_doc == doc_id, hygiene_conflicts.c.b_doc == doc_id)
            )
        if not include_resolved:
            query = query.where(hygiene_conflicts.c.resolution.is_(None))
        with self._database.connect() as conn:
            return [
                Conflict(
                    conflict_id=row.conflict_id,
                    a_doc=row.a_doc,
                    b_doc=row.b_doc,
                    kind=row.kind,
                    a_span=row.a_span,
                    b_span=row.b_span,
                    a_value=row.a_value,
                    b_value=row.b_value,
                    confidence=row.confidence,
                    newer=row.newer,
                    resolution=row.resolution,
                    resolved_by=row.resolved_by,
                    resolved_at=_utc(row.resolved_at),
                    first_seen=_utc(row.first_seen),
                )
                for row in conn.execute(query)
            ]

    def audit(self, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        return entries(self._database, limit, offset)


def _unfold(conn: Any, a: str, b: str) -> None:
    """Neither of two documents is a copy of the other in the scan results."""
    for member, other in ((a, b), (b, a)):
        conn.execute(
            update(hygiene_documents)
            .where(hygiene_documents.c.doc_id == member, hygiene_documents.c.duplicate_of == other)
            .values(duplicate_of=None, similarity=None)
        )


class SnapshotCache:
    """Retrieval's view of hygiene: reloaded when a scan, an ingest or a decision changed it.

    The catalog is asked whether anything changed at most once per `check_every_s`, so the
    cost per query is a clock read; a reload reads one row per document.
    """

    def __init__(self, records: HygieneRecords, check_every_s: float = 2.0) -> None:
        self._records = records
        self._check_every_s = check_every_s
        self._checked = float("-inf")
        self._generation: tuple[int | None, datetime | None, int] | None = None
        self._snapshot: HygieneSnapshot | None = None
        self._lock = threading.Lock()

    def __call__(self) -> HygieneSnapshot | None:
        now = clock.monotonic()
        if now - self._checked < self._check_every_s:
            return self._snapshot
        with self._lock:
            if now - self._checked >= self._check_every_s:
                generation = self._records.generation()
                if generation != self._generation:
                    self._snapshot = self._records.snapshot()
                    self._generation = generation
                self._checked = clock.monotonic()
        return self._snapshot

    def invalidate(self) -> None:
        """Reload on the next query (after a scan or an action in this process)."""
        self._checked = float("-inf")
