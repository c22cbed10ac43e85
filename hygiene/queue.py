"""An owner's work queue: the documents whose findings need them, the most read first.

A document is queued for each finding of the last scan (`hygiene.report`): an expired review,
a newer edition, an open conflict, a copy of another page, repeated "not relevant" feedback.
Its impact is how many logged answers returned it in the last `RECENT_DAYS` times the severity
of its worst finding, so the page that answers a hundred questions a day comes first. An
owner's decision since the last scan answers it at once: a deprecation, a new review date, or
a verification of the text as it reads now. The next scan finds again what a decision did not
change (a newer edition, a conflict).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from hygiene import report
from hygiene.records import Review
from hygiene.view import RECENT_DAYS as RECENT_DAYS
from hygiene.view import HygieneView, Traffic, read_traffic, read_view
from steward.access import Principal
from steward.catalog import DocumentRow
from steward.database import Database

# How much a finding matters when the page answers a question: an older edition or a
# contradiction gives a wrong answer; an expired review or disliked results may; a copy only
# crowds the results (retrieval folds it into its canonical page).
SEVERITY = {
    "superseded": 3,
    "conflict": 3,
    "expired": 2,
    "negative_feedback": 2,
    "duplicate": 1,
}


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One document that needs its owner, with what was found and how much it is read."""

    doc_id: str
    title: str
    source: str
    source_uri: str
    owner: str | None
    findings: tuple[str, ...]  # keys of SEVERITY, worst first
    retrievals: int

    @property
    def severity(self) -> int:
        return max(SEVERITY[f] for f in self.findings)

    @property
    def impact(self) -> int:
        return self.retrievals * self.severity


def _answered(row: DocumentRow, review: Review | None, scanned_at: datetime | None) -> bool:
    """An owner decided about the document after the scan that found it (or deprecated it)."""
    if review is None:
        return False
    if review.deprecated_at is not None:
        return True
    if review.review_set_at is not None and (
        scanned_at is None or review.review_set_at >= scanned_at
    ):
        return True
    return (
        review.verified_at is not None
        and review.verified_hash in (row.body_hash, row.content_hash)
        and (scanned_at is None or review.verified_at >= scanned_at)
    )


def owners(
    database: Database,
    reader: Principal | None = None,
    rows: dict[str, DocumentRow] | None = None,
) -> list[str]:
    """Every owner named by a document the reader may read."""
    see = report.Filters(reader=reader)
    found = (report.documents(database) if rows is None else rows).values()
    return sorted({row.owner for row in found if row.owner and see.readable(row)})


def queue(
    database: Database,
    owner: str | None,
    reader: Principal | None = None,
    now: datetime | None = None,
    view: HygieneView | None = None,
    traffic: Traffic | None = None,
) -> list[QueueItem]:
    """The documents of `owner` (every owner with None) that need a decision, highest impact
    first; with a `reader`, only documents it may read (the same filter as the listings).
    `view` and `traffic` as `hygiene.view` holds them; read afresh without them."""
    filters = report.Filters(owner=owner, reader=reader)
    view = read_view(database) if view is None else view
    traffic = read_traffic(database, now) if traffic is None else traffic
    rows = view.rows
    states = view.states
    reviews = view.reviews
    found: dict[str, set[str]] = defaultdict(set)
    for item in report.stale(database, filters, view):
        if item["reason"] != "deprecated":
            found[item["doc_id"]].add(item["reason"])
    for conflict in report.conflicts(database, filters, view=view):
        for side in (conflict["a"], conflict["b"]):
            if filters.admits(rows.get(side["doc_id"])):
                found[side["doc_id"]].add("conflict")
    for cluster in report.duplicates(database, filters, view):
        for member in cluster["members"]:
            if filters.admits(rows.get(member["doc_id"])):
                found[member["doc_id"]].add("duplicate")
    items = []
    for doc_id, findings in found.items():
        row = rows.get(doc_id)
        if row is None:
            continue
        state = states.get(doc_id)
        if _answered(row, reviews.get(doc_id), state["scanned_at"] if state else None):
            continue
        items.append(
            QueueItem(
                doc_id=doc_id,
                title=row.title,
                source=row.source,
                source_uri=row.source_uri,
                owner=row.owner,
                findings=tuple(sorted(findings, key=lambda f: (-SEVERITY[f], f))),
                retrievals=traffic.retrievals.get(doc_id, 0),
            )
        )
    items.sort(key=lambda i: (-i.impact, -i.severity, -i.retrievals, i.title, i.doc_id))
    return items
