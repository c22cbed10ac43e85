"""The store protocols, the queries derived from them, and payload conversion.

A backend implements `StoreBackend` and inherits `StoreQueries`, which answers the derived
queries (a document's chunks, a source's chunks and document ids) from `payloads` once for every
backend; together they make the `VectorStore` the rest of Steward uses. Backends:
`retrieval.edge_store.EdgeStore` (embedded, the default) and `retrieval.qdrant_store.QdrantStore`
(a Qdrant server, or qdrant-client in-process). Each passes the contract suite
`tests/store_contract.py` by subclassing `StoreContract` with a fixture that opens it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from typing import Any, Protocol

from steward.domain import (
    Candidate,
    ChunkPayload,
    IndexedChunk,
    ScoredChunk,
    SearchFilters,
    SparseVector,
)

DENSE = "dense"
SPARSE = "bm25"

# The HNSW beam of a dense search, at least (Qdrant searches with the graph's ef_construct, 100,
# unless told). 1M clustered 384-d vectors, graph m 16 / ef_construct 100 (benchmarks/scale.py):
# recall@10 0.954 at the default, 0.994 at 256, p50 1.61 and 1.17 ms (256 measured second, on a
# warmer cache); 100k: 1.000 both. An index below Qdrant's indexing threshold has no graph and is
# searched exhaustively whatever this says.
DENSE_SEARCH_EF = 256

# Payload fields with an index, and the kind of index each needs.
KEYWORD_FIELDS = ("doc_id", "source", "source_uri", "content_hash", "acl")
DATETIME_FIELDS = ("updated_at",)


class StoreBackend(Protocol):
    """An index of chunks with a dense and a sparse (BM25, IDF-weighted) vector each."""

    def ensure_collection(self, dimension: int, model: str) -> None:
        """Create the collection if missing; refuse one built for another model or dimension."""

    def built_with(self) -> tuple[int, str] | None:
        """(dimension, model) the collection was created for; None when there is none yet."""

    def upsert(self, chunks: Sequence[IndexedChunk]) -> None:
        """Insert or replace chunks by id."""

    def set_payload(self, doc_id: str, fields: Mapping[str, Any]) -> None:
        """Overwrite these payload fields on every chunk of the document (no re-embedding)."""

    def delete_stale_chunks(self, doc_id: str, keep: Iterable[str]) -> None:
        """Delete the document's chunks whose ids are not in `keep`."""

    def delete_documents(self, doc_ids: Iterable[str]) -> None:
        """Delete every chunk of these documents."""

    def search_dense(
        self, vector: Sequence[float], limit: int, filters: SearchFilters | None = None
    ) -> list[Candidate]:
        """Nearest chunks by cosine similarity, best first."""

    def search_sparse(
        self, vector: SparseVector, limit: int, filters: SearchFilters | None = None
    ) -> list[Candidate]:
        """Best BM25 matches (IDF applied by the engine), best first."""

    def fetch(self, chunk_ids: Sequence[str]) -> dict[str, ChunkPayload]:
        """Payloads of these chunks; ids that do not exist are absent from the answer."""

    def payloads(
        self, filters: SearchFilters, fields: Sequence[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        """The stored payload of every chunk the filters let through, by chunk id.

        Only the named fields when `fields` is given: listing a large source's document ids
        reads a fourth of the time its whole payloads take.
        """

    def source_vectors(self, source: str) -> dict[str, list[float]]:
        """The dense vector of every chunk of a source, by chunk id (for hygiene scans)."""

    def count(self, filters: SearchFilters | None = None) -> int:
        """Number of chunks, optionally restricted."""

    def unavailable(self) -> str | None:
        """Why the store cannot serve now (closed, its files gone), naming it; None when it
        can. Cheap and local: whether a server answers is for a query to find out."""

    def optimize(self) -> None:
        """Build the search index over what was written (an ingest calls it after its writes);
        a backend whose engine does that on its own returns at once."""

    def close(self) -> None:
        """Flush and release the store."""


class VectorStore(StoreBackend, Protocol):
    """A backend with the derived queries (`StoreQueries`): what the rest of Steward uses."""

    def document_chunks(self, doc_id: str) -> list[ScoredChunk]:
        """All chunks of one document in reading order (score 0)."""

    def document_ids(self, source: str) -> set[str]:
        """The ids of every document of a source that has chunks in the index."""

    def source_chunks(self, source: str) -> dict[str, ChunkPayload]:
        """Every chunk of a source by id, with its payload (for consistency checks)."""


class StoreQueries(ABC):
    """The derived queries, answered from `payloads` the same way for every backend."""

    @abstractmethod
    def payloads(
        self, filters: SearchFilters, fields: Sequence[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        """See `StoreBackend.payloads`."""

    def document_chunks(self, doc_id: str) -> list[ScoredChunk]:
        found = self.payloads(SearchFilters(doc_ids=(doc_id,)))
        chunks = [
            ScoredChunk(chunk_id=chunk_id, score=0.0, payload=payload_from_dict(payload))
            for chunk_id, payload in found.items()
        ]
        return sorted(chunks, key=lambda c: c.payload.ordinal)

    def document_ids(self, source: str) -> set[str]:
        found = self.payloads(SearchFilters(sources=(source,)), ["doc_id"])
        return {str(payload["doc_id"]) for payload in found.values()}

    def source_chunks(self, source: str) -> dict[str, ChunkPayload]:
        found = self.payloads(SearchFilters(sources=(source,)))
        return {chunk_id: payload_from_dict(payload) for chunk_id, payload in found.items()}


def payload_to_dict(payload: ChunkPayload) -> dict[str, Any]:
    return asdict(payload)


def payload_from_dict(data: Mapping[str, Any]) -> ChunkPayload:
    return ChunkPayload(
        doc_id=str(data["doc_id"]),
        source=str(data["source"]),
        source_uri=str(data["source_uri"]),
        title=str(data.get("title") or ""),
        section=str(data.get("section") or ""),
        text=str(data.get("text") or ""),
        updated_at=str(data["updated_at"]),
        ingested_at=str(data["ingested_at"]),
        content_hash=str(data["content_hash"]),
        owner=data.get("owner"),
        acl=list(data.get("acl") or []),
        ordinal=int(data.get("ordinal") or 0),
    )
