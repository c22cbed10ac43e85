"""The listings' cached view (hygiene.view): read once, reused while nothing changed, read again
on the next call after any write that changes a listing, even one made without this cache (another
process); listings kept per reader scope, never shared between readers who see different pages."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.hygiene import scan_hygiene
from app.runtime import Runtime
from connectors.filesystem import FilesystemConnector
from evaluation.feedback import FeedbackRecords
from hygiene import queue as work
from hygiene import report
from hygiene.records import HygieneRecords
from hygiene.view import ViewCache, reader_key
from ingest.pipeline import document_id
from steward.access import Principal, Role
from steward.domain import ScoredChunk

KB = Path(__file__).resolve().parents[1] / "examples" / "sample-kb"
TRAVEL = document_id("handbook", "finance/travel-policy-2023.md")
PURCHASING = document_id("handbook", "finance/purchasing-approvals.md")  # finance, managers
LAPTOP = document_id("handbook", "it/laptop-policy.md")


@pytest.fixture
def kb(open_home: Any, hash_embedder: Any) -> Iterator[Runtime]:
    live = open_home("a", hash_embedder)
    assert live.pipeline.run(FilesystemConnector(KB, "handbook")).status == "ok"
    scan_hygiene(live)
    yield live


def queued(cache: ViewCache, kb: Runtime, reader: Principal | None = None) -> list[str]:
    view, traffic = cache.view(), cache.traffic()
    items = cache.listing(
        view,
        traffic,
        ("queue", reader_key(reader)),
        lambda: work.queue(kb.database, None, reader, view=view, traffic=traffic),
    )
    return [item.doc_id for item in items]


def test_the_view_is_reused_until_a_write_moves_its_generation(kb: Runtime) -> None:
    cache = ViewCache(kb.database)
    first = cache.view()
    assert cache.view() is first  # nothing changed: not read again
    assert TRAVEL in queued(cache, kb)

    # A decision by another process (its own records, not this cache): gone at once.
    HygieneRecords(kb.database).verify(TRAVEL, "someone@example.com")
    assert cache.view() is not first
    assert TRAVEL not in queued(cache, kb)

    # A hand-over: the new owner at once, from the catalog's rows as already read (a decision
    # changes no catalog row; only an ingest or a deletion reads them again).
    seen = cache.view()
    HygieneRecords(kb.database).hand_over(LAPTOP, "lena@example.com", "someone@example.com")
    assert cache.view().rows[LAPTOP].owner == "lena@example.com"
    assert cache.view().catalog is seen.catalog
    assert cache.view().catalog[LAPTOP].owner != "lena@example.com"  # as ingested

    # Feedback: a page judged not relevant enough times joins the queue at once.
    seen = cache.view()
    records = FeedbackRecords(kb.database)
    chunk = kb.store.document_chunks(TRAVEL)[0]
    for _ in range(3):
        query_id = str(uuid.uuid4())
        hit = ScoredChunk(chunk.chunk_id, 0.9, chunk.payload)
        records.log_query(query_id, "travel", "hybrid", 10, 1.0, [hit], top_cosine=None)
        records.add(query_id, chunk.chunk_id, False, None)
    assert cache.view() is not seen
    assert cache.traffic().retrievals[TRAVEL] == 3  # the new answers counted too
    assert TRAVEL in {
        i["doc_id"] for i in report.stale(kb.database, report.Filters(), cache.view())
    }

    # A deletion (no ingest time moves): the page leaves every listing.
    seen = cache.view()
    kb.catalog.delete_documents([TRAVEL])
    assert cache.view() is not seen and TRAVEL not in cache.view().rows
    assert cache.view().catalog is not seen.catalog
    assert TRAVEL not in queued(cache, kb)


def test_a_listing_is_kept_per_reader_scope_never_shared(kb: Runtime) -> None:
    cache = ViewCache(kb.database)
    admin = Principal("admin", Role.ADMIN, frozenset())
    staff = Principal("reader", Role.OWNER, frozenset({"staff"}))
    other_staff = Principal("other", Role.READER, frozenset({"staff"}))
    assert PURCHASING in queued(cache, kb, admin)
    assert PURCHASING not in queued(cache, kb, staff)
    # The same scope reads the same kept listing; the admin's is untouched by it.
    assert queued(cache, kb, other_staff) == queued(cache, kb, staff)
    assert PURCHASING in queued(cache, kb, admin)
    assert reader_key(staff) == reader_key(other_staff) != reader_key(admin)
