"""The hygiene tables: what the last scan found, owners' decisions, conflicts and the scans.

`hygiene.records` reads and writes them; `steward/migrations` creates them (0004, 0006, 0007).
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Float, Integer, String, Table, Text

from steward.database import metadata

# What the last scan found, per document; replaced by each scan. Retrieval reads it.
hygiene_documents = Table(
    "hygiene_documents",
    metadata,
    Column("doc_id", String(64), primary_key=True),
    Column("state", String(20), nullable=False),  # verified, unverified, expired, deprecated
    Column("expires_at", DateTime(timezone=True)),
    Column("duplicate_of", String(64)),  # the canonical document of its cluster
    Column("similarity", Float),
    Column("superseded_by", String(64)),
    Column("superseded_since", DateTime(timezone=True)),
    Column("conflicts", Integer, nullable=False),  # unresolved conflicts it takes part in
    Column("scanned_at", DateTime(timezone=True), nullable=False),
)

# Owners' decisions about one document; they survive syncs and scans.
hygiene_reviews = Table(
    "hygiene_reviews",
    metadata,
    Column("doc_id", String(64), primary_key=True),
    Column("verified_at", DateTime(timezone=True)),
    Column("verified_by", Text),
    Column("verified_hash", String(64)),  # a verification holds for this content only
    Column("deprecated_at", DateTime(timezone=True)),
    Column("deprecated_by", Text),
    Column("note", Text),
    # The next review an owner set (0006): the document expires then, unless verified since.
    Column("review_by", DateTime(timezone=True)),
    Column("review_set_at", DateTime(timezone=True)),
    Column("review_set_by", Text),
    # The owner it was handed over to (0006): wins over the source's and the front matter's.
    Column("owner", Text),
)

# Pairs an owner marked "not a duplicate" (doc_a < doc_b).
hygiene_distinct = Table(
    "hygiene_distinct",
    metadata,
    Column("doc_a", String(64), primary_key=True),
    Column("doc_b", String(64), primary_key=True),
    Column("decided_by", Text, nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
)

hygiene_conflicts = Table(
    "hygiene_conflicts",
    metadata,
    # Stable across scans: a hash of both documents, the kind and both spans.
    Column("conflict_id", String(32), primary_key=True),
    Column("a_doc", String(64), nullable=False, index=True),
    Column("b_doc", String(64), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("a_span", Text, nullable=False),
    Column("b_span", Text, nullable=False),
    Column("a_value", Text, nullable=False),
    Column("b_value", Text, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("newer", String(1)),  # "a" or "b": the side that is newer or more authoritative
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("resolution", String(20)),  # keep_a, keep_b, both_valid
    Column("resolved_by", Text),
    Column("resolved_at", DateTime(timezone=True)),
)

# Chunks whose embedding is all but identical to a chunk of another (canonical) document.
hygiene_chunk_duplicates = Table(
    "hygiene_chunk_duplicates",
    metadata,
    Column("chunk_id", String(36), primary_key=True),
    Column("canonical_chunk", String(36), nullable=False),
    Column("cosine", Float, nullable=False),
)

hygiene_scans = Table(
    "hygiene_scans",
    metadata,
    Column("scan_id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("duration_s", Float),
    Column("summary", JSON),
)

# Each scan's counts per source (0007), kept for the last `hygiene.history.KEEP_SCANS` scans.
# A row counts the documents of one source sharing one access list (`acl`), and for a finding
# that involves a second document (a copy's canonical page, a successor, the other side of a
# conflict) that document's access list too (`other_acl`): a reader sums only the rows it may
# read both of, so no trend counts a page it may not read.
hygiene_source_history = Table(
    "hygiene_source_history",
    metadata,
    Column("entry_id", Integer, primary_key=True, autoincrement=True),
    Column("scan_id", Integer, nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("source", String(200), nullable=False),
    Column("acl", JSON, nullable=False),
    Column("other_acl", JSON),
    Column("counts", JSON, nullable=False),
)
