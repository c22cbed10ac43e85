"""A short history of scan summaries per source: what each of the last scans counted.

Written by every scan in the transaction that saves it (`HygieneRecords.save_scan`), read by the
dashboard's Overview as trends. Counts are kept per source *and access list* (see
`hygiene.tables.hygiene_source_history`), so a reader's trend sums only what it may read:

- documents, and documents by review state (`state_verified`, ...);
- `duplicates` (copies, keyed with their canonical page's access list too), `superseded`
  (keyed with the successor's), `conflicts` (open ones, keyed with both sides' and counted in
  each side's source);
- `served` and `served_fresh`: the query log's results of the last `FRESHNESS_DAYS` days and
  how many came from fresh pages (`hygiene.freshness`), as this scan saw them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select

from hygiene.freshness import FRESHNESS_DAYS, is_fresh, served
from hygiene.tables import hygiene_conflicts, hygiene_documents, hygiene_source_history
from steward.access import Principal
from steward.catalog import documents
from steward.database import Database
from steward.domain import as_utc

# Scans kept: a month of daily scans, enough for a trend, small enough to read on every page.
KEEP_SCANS = 30

Acl = tuple[str, ...]
Key = tuple[str, Acl, Acl | None]  # source, access list, the other document's access list


@dataclass(slots=True)
class ScanPoint:
    """One scan's counts for one source, as one reader may see them."""

    scan_id: int
    at: datetime
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def open_findings(self) -> int:
        """Pages that need an owner: expired, superseded, copies, open conflicts."""
        c = self.counts
        return c["state_expired"] + c["superseded"] + c["duplicates"] + c["conflicts"]

    @property
    def freshness(self) -> float | None:
        return (
            self.counts["served_fresh"] / self.counts["served"] if self.counts["served"] else None
        )


def record(conn: Any, scan_id: int, now: datetime) -> None:
    """Store this scan's counts (read from the tables it just wrote) and drop the oldest scans."""
    acl_of: dict[str, Acl] = {}
    source_of: dict[str, str] = {}
    for doc_id, source, acl in conn.execute(
        select(documents.c.doc_id, documents.c.source, documents.c.acl)
    ):
        acl_of[doc_id] = tuple(sorted(acl or ()))
        source_of[doc_id] = source
    buckets: dict[Key, Counter[str]] = defaultdict(Counter)
    fresh: set[str] = set()
    states = select(
        hygiene_documents.c.doc_id,
        hygiene_documents.c.state,
        hygiene_documents.c.expires_at,
        hygiene_documents.c.duplicate_of,
        hygiene_documents.c.superseded_by,
        hygiene_documents.c.conflicts,
    )
    for doc_id, state, expires_at, copy_of, successor, conflicts in conn.execute(states):
        if doc_id not in source_of:
            continue
        own = (source_of[doc_id], acl_of[doc_id], None)
        buckets[own]["documents"] += 1
        buckets[own][f"state_{state}"] += 1
        if is_fresh(state, expires_at, conflicts, now):
            fresh.add(doc_id)
        if copy_of in acl_of:
            buckets[(source_of[doc_id], acl_of[doc_id], acl_of[copy_of])]["duplicates"] += 1
        if successor in acl_of:
            buckets[(source_of[doc_id], acl_of[doc_id], acl_of[successor])]["superseded"] += 1
    open_conflicts = select(hygiene_conflicts.c.a_doc, hygiene_conflicts.c.b_doc).where(
        hygiene_conflicts.c.resolution.is_(None)
    )
    for a, b in conn.execute(open_conflicts):
        if a in source_of and b in source_of:
            for source in {source_of[a], source_of[b]}:
                buckets[(source, acl_of[a], acl_of[b])]["conflicts"] += 1
    for doc_id in served(conn, now - timedelta(days=FRESHNESS_DAYS)):
        if doc_id in source_of:
            own = (source_of[doc_id], acl_of[doc_id], None)
            buckets[own]["served"] += 1
            buckets[own]["served_fresh"] += doc_id in fresh
    rows = [
        {
            "scan_id": scan_id,
            "at": now,
            "source": source,
            "acl": list(acl),
            "other_acl": None if other is None else list(other),
            "counts": dict(counts),
        }
        for (source, acl, other), counts in sorted(buckets.items(), key=lambda kv: str(kv[0]))
    ]
    if rows:
        conn.execute(insert(hygiene_source_history), rows)
    kept = (
        select(hygiene_source_history.c.scan_id)
        .group_by(hygiene_source_history.c.scan_id)
        .order_by(hygiene_source_history.c.scan_id.desc())
        .limit(KEEP_SCANS)
    )
    oldest = conn.execute(select(func.min(kept.subquery().c.scan_id))).scalar_one()
    if oldest is not None:
        conn.execute(
            delete(hygiene_source_history).where(hygiene_source_history.c.scan_id < oldest)
        )


def trend(
    database: Database, reader: Principal | None = None, limit: int = KEEP_SCANS
) -> dict[str, list[ScanPoint]]:
    """Per source, the last `limit` scans' counts the reader may read, oldest first."""

    def readable(acl: list[str] | None) -> bool:
        return acl is None or reader is None or reader.can_read(acl)

    with database.connect() as conn:
        newest = conn.execute(
            select(hygiene_source_history.c.scan_id)
            .group_by(hygiene_source_history.c.scan_id)
            .order_by(hygiene_source_history.c.scan_id.desc())
            .limit(limit)
        ).all()
        if not newest:
            return {}
        query = select(hygiene_source_history).where(
            hygiene_source_history.c.scan_id >= min(s for (s,) in newest)
        )
        points: dict[str, dict[int, ScanPoint]] = defaultdict(dict)
        for row in conn.execute(query.order_by(hygiene_source_history.c.scan_id)):
            if not (readable(row.acl) and readable(row.other_acl)):
                continue
            point = points[row.source].setdefault(
                row.scan_id, ScanPoint(row.scan_id, as_utc(row.at))
            )
            point.counts.update(row.counts)
    return {source: list(by_scan.values()) for source, by_scan in sorted(points.items())}
