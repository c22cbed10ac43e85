"""The health of the knowledge base per source, as one reader may see it.

Counts come from the same listings as `hygiene.report` with the same reader filter, so no
count includes a document the reader may not read: documents by review state, duplicate
clusters (counted in their canonical page's source), superseded editions and open conflicts
(counted in the source of each side).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from hygiene import report
from hygiene.freshness import Freshness, is_fresh
from hygiene.view import HygieneView, Traffic, read_traffic, read_view
from steward.access import Principal
from steward.catalog import DocumentRow
from steward.database import Database
from steward.domain import ReviewState, utc_now

STATES = tuple(state.value for state in ReviewState)


@dataclass(slots=True)
class SourceHealth:
    source: str
    documents: int = 0
    states: Counter[str] = field(default_factory=Counter)  # review state -> documents
    duplicate_clusters: int = 0
    superseded: int = 0
    open_conflicts: int = 0


def by_source(
    database: Database,
    reader: Principal | None = None,
    view: HygieneView | None = None,
) -> list[SourceHealth]:
    """One line per source holding a document the reader may read, by source name (`view`:
    the catalog and records as `hygiene.view` holds them; read afresh without one)."""
    filters = report.Filters(reader=reader)
    view = read_view(database) if view is None else view
    rows = view.rows
    states = view.states
    deprecated = {d for d, r in view.reviews.items() if r.deprecated_at is not None}
    health: dict[str, SourceHealth] = {}

    def line(source: str) -> SourceHealth:
        return health.setdefault(source, SourceHealth(source))

    for doc_id, row in rows.items():
        if not filters.readable(row):
            continue
        found = line(row.source)
        found.documents += 1
        state = states.get(doc_id)
        # A deprecation takes effect before the next scan, as in retrieval's view.
        if doc_id in deprecated:
            found.states[ReviewState.DEPRECATED.value] += 1
        else:
            found.states[state["state"] if state else ReviewState.UNVERIFIED.value] += 1
    for cluster in report.duplicates(database, filters, view):
        canonical = rows.get(cluster["canonical"]["doc_id"])
        if canonical is not None:
            line(canonical.source).duplicate_clusters += 1
    for item in report.stale(database, filters, view):
        if item["reason"] == "superseded":
            line(rows[item["doc_id"]].source).superseded += 1
    for conflict in report.conflicts(database, filters, view=view):
        sides = [rows.get(side["doc_id"]) for side in (conflict["a"], conflict["b"])]
        for source in {side.source for side in sides if side is not None}:
            line(source).open_conflicts += 1
    return [health[name] for name in sorted(health)]


def freshness(
    database: Database,
    reader: Principal | None = None,
    now: datetime | None = None,
    view: HygieneView | None = None,
    traffic: Traffic | None = None,
) -> dict[str, Freshness]:
    """Answer freshness per source now, over the results the reader may read (`view` and
    `traffic` as `hygiene.view` holds them; read afresh without them).

    An owner's decision since the last scan counts at once: a deprecation makes a page stale,
    a verification of the text as it reads now makes it verified (until the next scan dates it).
    """
    now = now or utc_now()
    view = read_view(database) if view is None else view
    traffic = read_traffic(database, now) if traffic is None else traffic
    rows = view.rows
    see = report.Filters(reader=reader)
    states = view.states
    reviews = view.reviews
    fresh_of: dict[str, bool] = {}

    def fresh(doc_id: str, row: DocumentRow) -> bool:
        if doc_id not in fresh_of:
            state = states.get(doc_id)
            review = reviews.get(doc_id)
            value = state is not None and is_fresh(
                state["state"], state["expires_at"], state["conflicts"], now
            )
            if review is not None and review.deprecated_at is not None:
                value = False
            elif (
                not value
                and review is not None
                and review.verified_at is not None
                and review.verified_hash in (row.body_hash, row.content_hash)
                and (state is None or review.verified_at >= state["scanned_at"])
            ):
                value = state is None or not state["conflicts"]
            fresh_of[doc_id] = value
        return fresh_of[doc_id]

    found: dict[str, Freshness] = {}
    for doc_id in traffic.served:
        row = rows.get(doc_id)
        if row is None or not see.readable(row):
            continue  # gone since, or not the reader's to count
        line = found.setdefault(row.source, Freshness())
        line.served += 1
        line.fresh += fresh(doc_id, row)
    return dict(sorted(found.items()))


def overall_freshness(lines: dict[str, Freshness]) -> Freshness:
    """Every source's results together."""
    return Freshness(sum(f.served for f in lines.values()), sum(f.fresh for f in lines.values()))
