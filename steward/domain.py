"""Domain types that travel between connectors, the pipeline, the stores and the API.

Vendor types (Qdrant points, unstructured elements, LlamaIndex nodes, FastAPI models) never
appear here: each adapter converts at its edge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from steward.errors import ConfigError


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A datetime read back from the catalog, zone restored: SQLite drops it, all stored is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def rfc3339(moment: datetime) -> str:
    """RFC 3339 in UTC with a Z, second precision: the one timestamp format we store."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class DocumentRef:
    """One document as a connector lists it, before its content is read."""

    source: str
    key: str  # stable within the source (a relative path, a row id)
    source_uri: str
    updated_at: datetime
    size: int
    # Cheap change fingerprint from the listing (size and mtime for files).
    fingerprint: str = ""


@dataclass(frozen=True, slots=True)
class RawDocument:
    """A listed document with its bytes, or with its text when the source is already text."""

    ref: DocumentRef
    content: bytes
    media_type: str  # "text/markdown", "application/pdf", ...; "text/plain" for records
    title: str | None = None
    metadata: dict[str, object] = field(default_factory=dict)


class ElementKind(StrEnum):
    TITLE = "title"
    TEXT = "text"
    LIST_ITEM = "list_item"
    TABLE = "table"


@dataclass(frozen=True, slots=True)
class Element:
    """A structural piece of a parsed document."""

    kind: ElementKind
    text: str
    depth: int = 0  # heading depth for titles, 0 = top
    page: int | None = None


@dataclass(slots=True)
class DocumentMeta:
    """Metadata of a document, from the connector and from front matter."""

    title: str
    owner: str | None = None
    review_by: str | None = None  # YYYY-MM-DD
    review_interval_days: int | None = None  # overrides the source's interval
    tags: list[str] = field(default_factory=list)
    acl: list[str] = field(default_factory=list)  # empty means public


@dataclass(slots=True)
class ParsedDocument:
    """A document turned into normalized elements, ready for chunking."""

    doc_id: str
    ref: DocumentRef
    meta: DocumentMeta
    elements: list[Element]
    content_hash: str  # of the raw bytes


@dataclass(frozen=True, slots=True)
class Chunk:
    """A bounded piece of one document, the unit that is embedded and retrieved."""

    chunk_id: str
    doc_id: str
    ordinal: int
    section: str  # "Heading > Subheading", "" at the top
    text: str
    embed_text: str  # the text plus its title and section context
    content_hash: str  # of `text`; identical chunk text has one hash
    token_count: int


@dataclass(frozen=True, slots=True)
class SparseVector:
    indices: Sequence[int]
    values: Sequence[float]


@dataclass(frozen=True, slots=True)
class ChunkPayload:
    """What the index stores beside each chunk's vectors."""

    doc_id: str
    source: str
    source_uri: str
    title: str
    section: str
    text: str
    updated_at: str  # RFC 3339
    ingested_at: str  # RFC 3339
    content_hash: str
    owner: str | None
    acl: list[str]
    ordinal: int = 0


@dataclass(frozen=True, slots=True)
class IndexedChunk:
    """A chunk with its vectors, as written to the store."""

    chunk_id: str
    dense: Sequence[float]
    sparse: SparseVector
    payload: ChunkPayload


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Restrictions a search applies in the store."""

    sources: tuple[str, ...] = ()
    source_uri_prefix: str | None = None
    updated_after: datetime | None = None
    doc_ids: tuple[str, ...] = ()
    # Documents readable with these groups: public ones (no acl) and those sharing a group.
    # None does not restrict (an admin, or access control off); () leaves public ones only.
    groups: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Partition:
    """Bucket `index` of `of`: the documents of a source whose id falls in it.

    A document id is a hash of its source and key (ingest.pipeline.document_id), so the buckets
    are even and a document stays in its bucket for life, on any machine. A partitioned sync
    reads, writes and prunes its own bucket only; `of` is the source's `partitions`.
    """

    index: int
    of: int

    def __post_init__(self) -> None:
        if self.of < 1 or not 0 <= self.index < self.of:
            raise ConfigError(f"partition {self.index}/{self.of}: want 0 <= index < of")

    def holds(self, doc_id: str) -> bool:
        return self.of == 1 or int(doc_id[:8], 16) % self.of == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.of}"

    @classmethod
    def parse(cls, text: str) -> Partition:
        """`2/8` as bucket 2 of 8 (buckets count from 0)."""
        index, slash, of = text.partition("/")
        if not slash or not index.strip().isdigit() or not of.strip().isdigit():
            raise ConfigError(f"partition {text!r}: want INDEX/OF, e.g. 0/4 (buckets count from 0)")
        return cls(int(index), int(of))


@dataclass(frozen=True, slots=True)
class Candidate:
    """A search hit before its payload is fetched: enough to fuse and de-duplicate."""

    chunk_id: str
    score: float
    content_hash: str
    doc_id: str = ""


@dataclass(frozen=True, slots=True)
class ScoredChunk:
    """A chunk found by a search, with its score and what hygiene knows about its document."""

    chunk_id: str
    score: float
    payload: ChunkPayload
    flags: tuple[str, ...] = ()  # stale, deprecated, superseded, conflict, duplicate_of
    duplicate_of: str | None = None  # a copy shown because its canonical document was not
    superseded_by: str | None = None
    duplicates: tuple[str, ...] = ()  # copies folded into this hit (their doc ids)


class ReviewState(StrEnum):
    VERIFIED = "verified"
    UNVERIFIED = "unverified"
    EXPIRED = "expired"
    DEPRECATED = "deprecated"


@dataclass(frozen=True, slots=True)
class DocumentMark:
    """What retrieval needs to know about one document's hygiene."""

    updated_at: datetime
    state: ReviewState = ReviewState.UNVERIFIED
    duplicate_of: str | None = None
    superseded_by: str | None = None
    conflicts: int = 0


@dataclass(frozen=True, slots=True)
class HygieneSnapshot:
    """Every document's mark and the chunk-level duplicates, as of one scan."""

    documents: Mapping[str, DocumentMark]
    chunk_canonical: Mapping[str, str]  # chunk id -> the chunk it duplicates
    scan_id: int | None = None
