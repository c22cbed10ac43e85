"""The health of the knowledge base per source, as one reader may see it.

Counts come from the same listings as `hygiene.report` with the same reader filter, so no
count includes a document the reader may not read: documents by review state, duplicate
clusters (counted in their canonical page's source), superseded editions and open conflicts
(counted in the source of each side).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from hygiene import report
from hygiene.records import HygieneRecords
from steward.access import Principal
from steward.database import Database
from steward.domain import ReviewState

STATES = tuple(state.value for state in ReviewState)


@dataclass(slots=True)
class SourceHealth:
    source: str
    documents: int = 0
    states: Counter[str] = field(default_factory=Counter)  # review state -> documents
    duplicate_clusters: int = 0
    superseded: int = 0
    open_conflicts: int = 0


def by_source(database: Database, reader: Principal | None = None) -> list[SourceHealth]:
    """One line per source holding a document the reader may read, by source name."""
    filters = report.Filters(reader=reader)
    rows = report.documents(database)
    records = HygieneRecords(database)
    states = records.states()
    deprecated = {d for d, r in records.reviews().items() if r.deprecated_at is not None}
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
    for cluster in report.duplicates(database, filters):
        canonical = rows.get(cluster["canonical"]["doc_id"])
        if canonical is not None:
            line(canonical.source).duplicate_clusters += 1
    for item in report.stale(database, filters):
        if item["reason"] == "superseded":
            line(rows[item["doc_id"]].source).superseded += 1
    for conflict in report.conflicts(database, filters):
        sides = [rows.get(side["doc_id"]) for side in (conflict["a"], conflict["b"])]
        for source in {side.source for side in sides if side is not None}:
            line(source).open_conflicts += 1
    return [health[name] for name in sorted(health)]
