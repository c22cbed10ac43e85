"""The listings' view of the knowledge base: every input of `hygiene.report` read once, reused
until the catalog changes.

An owners' page (the overview, the queue, duplicates, conflicts) reads the whole catalog and
the hygiene records; read afresh by every request and several times per page, that was 0.5 to
6.6 s per page (p50) on the messy msmarco KB (about 6,200 pages, a loaded 2-core machine).
`ViewCache` keeps one `HygieneView`, **unfiltered**, and reads it again only when its
generation moved: a scan, an ingest or a deletion, an owner's decision (each writes an audit
entry in its own transaction), a feedback judgement. What a reader may see is filtered from it
per request (`hygiene.report.Filters`). Every process checks the generation on every read (five
aggregates, a few milliseconds on that KB), so a decision taken by another process, or a
worker's scan, shows on the next page load.

A listing computed from the view for one reader (a queue of 4,000 pages takes 0.3 s to build
and sort) may be kept too, by `ViewCache.listing`, under a key that names everything it depends
on, the reader's scope (`reader_key`: its groups, or admin) first. It is kept for one view and
one read of the traffic; an older view's listings go, and at most `MAX_LISTINGS` are kept.

The query log's traffic (`Traffic`) moves with every answer, so it has its own key: the count
and the oldest and newest times of the logged answers; as the counting windows slide, it is
also read again after `TRAFFIC_MAX_AGE_S`.
"""

from __future__ import annotations

import threading
import time as clock
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import func, select

from evaluation.feedback import FeedbackRecords
from evaluation.tables import feedback, query_log
from hygiene.freshness import FRESHNESS_DAYS, served
from hygiene.records import Conflict, HygieneRecords, Review
from steward.access import Principal, Role
from steward.catalog import Catalog, DocumentRow, documents
from steward.database import Database
from steward.domain import utc_now

# How far back the query log counts as "recently" for a document's traffic (the queue's impact).
RECENT_DAYS = 30
# The longest a traffic count is reused while nothing new is logged: its windows (7 and 30
# days) slide by minutes, which moves no ranking an owner would notice.
TRAFFIC_MAX_AGE_S = 600.0

# Listings kept at once (readers' scopes x filters); beyond it, all go and are built again.
MAX_LISTINGS = 64

Generation = tuple[Any, ...]
T = TypeVar("T")
_MISSING = object()


def reader_key(reader: Principal | None) -> Hashable:
    """What decides which documents a reader may read (`Principal.can_read`): admin or not,
    and its groups. Two readers with the same key see the same listings."""
    if reader is None:
        return None
    return reader.role >= Role.ADMIN, frozenset(reader.groups)


@dataclass(frozen=True, slots=True)
class HygieneView:
    """Everything the owners' listings read, for every document (nothing filtered)."""

    # Every catalog row (without line hashes), with the owner it was handed over to.
    rows: dict[str, DocumentRow]
    states: dict[str, dict[str, Any]]  # the last scan's row per document
    reviews: dict[str, Review]
    conflicts: tuple[Conflict, ...]  # every stored conflict, the most confident first
    # Canonical document -> its copies and their similarity, as the last scan folded them.
    copies: dict[str, tuple[tuple[str, float], ...]]
    disliked: tuple[dict[str, Any], ...]  # FeedbackRecords.disliked_documents
    generation: Generation = ()
    # The catalog's rows as read (owners as ingested), for the next view when only hygiene
    # records changed.
    catalog: dict[str, DocumentRow] = field(default_factory=dict)

    def conflicts_of(self, doc_id: str | None, include_resolved: bool) -> list[Conflict]:
        return [
            c
            for c in self.conflicts
            if (doc_id is None or doc_id in (c.a_doc, c.b_doc))
            and (include_resolved or c.resolution is None)
        ]


def read_view(
    database: Database,
    generation: Generation = (),
    catalog: dict[str, DocumentRow] | None = None,
) -> HygieneView:
    """Read the view from the catalog (what every listing read, once); `catalog`: the catalog's
    rows as an earlier view read them, when no ingest or deletion happened since (a decision or
    feedback changes only the hygiene records: reading 6,200 rows again was 360 ms of 440)."""
    records = HygieneRecords(database)
    if catalog is None:
        catalog = Catalog(database).all_documents(line_hashes=False)
    rows = dict(catalog)
    for doc_id, owner in records.handed_over().items():
        if doc_id in rows:
            rows[doc_id] = replace(rows[doc_id], owner=owner)
    states = records.states()
    copies: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for doc_id, state in states.items():
        if state["duplicate_of"]:
            copies[state["duplicate_of"]].append((doc_id, state["similarity"] or 0.0))
    return HygieneView(
        rows=rows,
        states=states,
        reviews=records.reviews(),
        conflicts=tuple(records.conflicts(include_resolved=True)),
        copies={canonical: tuple(found) for canonical, found in copies.items()},
        disliked=tuple(FeedbackRecords(database).disliked_documents()),
        generation=generation,
        catalog=catalog,
    )


def generation(database: Database) -> Generation:
    """Moves whenever the view must be read again: a finished scan, an ingest or a deletion (the
    newest ingest and the count of documents), a decision (the newest audit entry), feedback.
    `same_catalog` tells whether two generations saw the same catalog rows."""
    scan, ingested, audited = HygieneRecords(database).generation()
    with database.connect() as conn:
        count = conn.execute(select(func.count()).select_from(documents)).scalar_one()
        judged = conn.execute(select(func.max(feedback.c.feedback_id))).scalar_one()
    return scan, ingested, audited, int(count), judged


@dataclass(frozen=True, slots=True)
class Traffic:
    """The query log's answers as the listings count them."""

    # Answers of the last RECENT_DAYS that returned each document (once per answer).
    retrievals: Counter[str] = field(default_factory=Counter)
    # The document of every result of the last FRESHNESS_DAYS (one per result).
    served: tuple[str, ...] = ()
    key: Hashable = None  # which read of the query log this is (ViewCache's key)


def read_traffic(database: Database, now: datetime | None = None, key: Hashable = None) -> Traffic:
    now = now or utc_now()
    with database.connect() as conn:
        found = tuple(served(conn, now - timedelta(days=FRESHNESS_DAYS)))
    since = now - timedelta(days=RECENT_DAYS)
    return Traffic(FeedbackRecords(database).retrievals(since), found, key)


ListingKey = tuple[Generation, Hashable, Hashable]


def _listing_key(view: HygieneView, traffic: Traffic | None, key: Hashable) -> ListingKey:
    return view.generation, traffic.key if traffic is not None else None, key


def same_catalog(one: Generation, other: Generation) -> bool:
    """No ingest and no deletion between two generations: the catalog's rows are the same."""
    return len(one) == len(other) == 5 and (one[1], one[3]) == (other[1], other[3])


class ViewCache:
    """One process's `HygieneView` and `Traffic`, each read again when its key moved."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._view: HygieneView | None = None
        self._traffic: tuple[Any, float, Traffic] | None = None
        self._listings: dict[ListingKey, Any] = {}
        self._lock = threading.Lock()

    def view(self) -> HygieneView:
        current = generation(self._database)
        found = self._view
        if found is not None and found.generation == current:
            return found
        with self._lock:  # one reader reads it; the others wait for its result
            found = self._view
            if found is None or found.generation != current:
                catalog = None
                if found is not None and same_catalog(found.generation, current):
                    catalog = found.catalog
                found = self._view = read_view(self._database, current, catalog)
        return found

    def traffic(self) -> Traffic:
        # Answers are only ever added or pruned (or, in tests, redated): their count and
        # oldest and newest times move with any of those.
        with self._database.connect() as conn:
            newest = tuple(
                conn.execute(
                    select(func.count(), func.min(query_log.c.at), func.max(query_log.c.at))
                ).one()
            )

        def stale(held: tuple[Any, float, Traffic] | None) -> bool:
            return (
                held is None
                or held[0] != newest
                or clock.monotonic() - held[1] >= TRAFFIC_MAX_AGE_S
            )

        held = self._traffic
        if stale(held):
            with self._lock:
                held = self._traffic
                if stale(held):
                    read_at = clock.monotonic()
                    traffic = read_traffic(self._database, key=(newest, read_at))
                    held = self._traffic = (newest, read_at, traffic)
        assert held is not None
        return held[2]

    def listing(
        self,
        view: HygieneView,
        traffic: Traffic | None,
        key: Hashable,
        build: Callable[[], T],
    ) -> T:
        """`build()`'s listing, kept for this view and traffic under `key`, which must name all
        else it depends on: `reader_key` of its reader, its filters. Treat it as read-only."""
        full = _listing_key(view, traffic, key)
        kept = self._listings.get(full, _MISSING)  # one read: the dict may be replaced meanwhile
        if kept is not _MISSING:
            return kept  # type: ignore[no-any-return]
        found = build()
        with self._lock:
            if len(self._listings) >= MAX_LISTINGS or any(
                k[0] != view.generation for k in self._listings
            ):
                # An older view's listings (or too many): none of them is asked for again.
                self._listings = {
                    k: v for k, v in self._listings.items() if k[0] == view.generation
                }
                if len(self._listings) >= MAX_LISTINGS:
                    self._listings = {}
            self._listings[full] = found
        return found

    def invalidate(self) -> None:
        """Read both again on the next call (a write this process made outside the catalog)."""
        with self._lock:
            self._view = None
            self._traffic = None
            self._listings = {}
