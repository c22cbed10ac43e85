"""Index on a Qdrant server (or qdrant-client's in-process mode, used by the tests)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from retrieval.store import (
    DATETIME_FIELDS,
    DENSE,
    DENSE_SEARCH_EF,
    KEYWORD_FIELDS,
    SPARSE,
    StoreQueries,
    payload_from_dict,
    payload_to_dict,
)
from steward.domain import (
    Candidate,
    ChunkPayload,
    IndexedChunk,
    SearchFilters,
    SparseVector,
)
from steward.errors import StoreError

_SCROLL_PAGE = 1000
_UPSERT_BATCH = 256


def _filter(filters: SearchFilters | None) -> models.Filter | None:
    must: list[Any] = []
    if filters is not None:
        if filters.sources:
            must.append(
                models.FieldCondition(
                    key="source", match=models.MatchAny(any=list(filters.sources))
                )
            )
        if filters.source_uri_prefix:
            must.append(
                models.FieldCondition(
                    key="source_uri", match=models.MatchPrefix(prefix=filters.source_uri_prefix)
                )
            )
        if filters.updated_after is not None:
            must.append(
                models.FieldCondition(
                    key="updated_at", range=models.DatetimeRange(gt=filters.updated_after)
                )
            )
        if filters.doc_ids:
            must.append(
                models.FieldCondition(
                    key="doc_id", match=models.MatchAny(any=list(filters.doc_ids))
                )
            )
        if filters.groups is not None:
            readable: list[Any] = [models.IsEmptyCondition(is_empty=models.PayloadField(key="acl"))]
            if filters.groups:
                readable.append(
                    models.FieldCondition(
                        key="acl", match=models.MatchAny(any=list(filters.groups))
                    )
                )
            must.append(models.Filter(should=readable))
    return models.Filter(must=must) if must else None


def _doc_condition(doc_id: str) -> models.FieldCondition:
    return models.FieldCondition(key="doc_id", match=models.MatchValue(value=doc_id))


class QdrantStore(StoreQueries):
    """`VectorStore` over qdrant-client: a server URL, or ":memory:" in-process."""

    def __init__(self, url: str, collection: str, api_key: str | None = None) -> None:
        self._in_process = url == ":memory:"
        if self._in_process:
            self._client = QdrantClient(location=":memory:")
        else:
            self._client = QdrantClient(url=url, api_key=api_key, timeout=30)
        self._collection = collection
        self._closed = False
        self._ready = False
        try:
            self._ready = self._client.collection_exists(collection)
        except (ResponseHandlingException, UnexpectedResponse, OSError) as error:
            raise StoreError(f"cannot reach Qdrant at {url}: {error}") from error

    def ensure_collection(self, dimension: int, model: str) -> None:
        wanted = {"dimension": dimension, "model": model}
        if self._client.collection_exists(self._collection):
            found = self._read_meta()
            if found != wanted:
                raise StoreError(
                    f"collection {self._collection!r} was built with {found}, not {wanted}; "
                    "index into another collection to change models"
                )
            self._ready = True
            return
        self._client.create_collection(
            self._collection,
            vectors_config={
                DENSE: models.VectorParams(size=dimension, distance=models.Distance.COSINE)
            },
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            metadata=wanted,
        )
        self._ready = True
        if self._in_process:
            return  # qdrant-client's local mode has no payload indexes (and warns about each)
        for name in KEYWORD_FIELDS:
            self._client.create_payload_index(
                self._collection, name, field_schema=models.PayloadSchemaType.KEYWORD
            )
        for name in DATETIME_FIELDS:
            self._client.create_payload_index(
                self._collection, name, field_schema=models.PayloadSchemaType.DATETIME
            )

    def built_with(self) -> tuple[int, str] | None:
        if not self._client.collection_exists(self._collection):
            return None
        meta = self._read_meta() or {}
        return int(meta.get("dimension", 0)), str(meta.get("model", "?"))

    def _read_meta(self) -> dict[str, Any] | None:
        metadata = self._client.get_collection(self._collection).config.metadata
        return dict(metadata) if metadata else None

    def upsert(self, chunks: Sequence[IndexedChunk]) -> None:
        for start in range(0, len(chunks), _UPSERT_BATCH):
            points = [
                models.PointStruct(
                    id=chunk.chunk_id,
                    vector={
                        DENSE: list(chunk.dense),
                        SPARSE: models.SparseVector(
                            indices=list(chunk.sparse.indices), values=list(chunk.sparse.values)
                        ),
                    },
                    payload=payload_to_dict(chunk.payload),
                )
                for chunk in chunks[start : start + _UPSERT_BATCH]
            ]
            self._client.upsert(self._collection, points=points, wait=True)

    def set_payload(self, doc_id: str, fields: Mapping[str, Any]) -> None:
        condition = models.Filter(must=[_doc_condition(doc_id)])
        self._client.set_payload(
            self._collection,
            payload=dict(fields),
            points=models.FilterSelector(filter=condition),
            wait=True,
        )

    def delete_stale_chunks(self, doc_id: str, keep: Iterable[str]) -> None:
        keep_ids: list[Any] = list(keep)
        condition = models.Filter(
            must=[_doc_condition(doc_id)],
            must_not=[models.HasIdCondition(has_id=keep_ids)] if keep_ids else None,
        )
        self._client.delete(
            self._collection, points_selector=models.FilterSelector(filter=condition)
        )

    def delete_documents(self, doc_ids: Iterable[str]) -> None:
        ids = list(doc_ids)
        if not ids or not self._ready:
            return
        condition = models.Filter(
            must=[models.FieldCondition(key="doc_id", match=models.MatchAny(any=ids))]
        )
        self._client.delete(
            self._collection, points_selector=models.FilterSelector(filter=condition)
        )

    def _query(
        self, query: Any, using: str, limit: int, filters: SearchFilters | None
    ) -> list[Candidate]:
        if not self._ready:
            return []
        # In-process (the tests' stand-in for a server) every search is exhaustive, and
        # qdrant-client warns that search parameters do nothing there.
        dense = using == DENSE and not self._in_process
        response = self._client.query_points(
            self._collection,
            query=query,
            using=using,
            limit=limit,
            query_filter=_filter(filters),
            search_params=models.SearchParams(hnsw_ef=max(DENSE_SEARCH_EF, limit))
            if dense
            else None,
            with_payload=["content_hash", "doc_id"],
        )
        return [
            Candidate(
                str(p.id),
                p.score,
                str((p.payload or {}).get("content_hash", "")),
                str((p.payload or {}).get("doc_id", "")),
            )
            for p in response.points
        ]

    def fetch(self, chunk_ids: Sequence[str]) -> dict[str, ChunkPayload]:
        if not chunk_ids or not self._ready:
            return {}
        records = self._client.retrieve(self._collection, ids=list(chunk_ids), with_payload=True)
        return {str(r.id): payload_from_dict(r.payload or {}) for r in records}

    def search_dense(
        self, vector: Sequence[float], limit: int, filters: SearchFilters | None = None
    ) -> list[Candidate]:
        return self._query(list(vector), DENSE, limit, filters)

    def search_sparse(
        self, vector: SparseVector, limit: int, filters: SearchFilters | None = None
    ) -> list[Candidate]:
        if not vector.indices:
            return []
        sparse = models.SparseVector(indices=list(vector.indices), values=list(vector.values))
        return self._query(sparse, SPARSE, limit, filters)

    def _scroll(
        self,
        condition: models.Filter | None,
        with_payload: bool | list[str],
        with_vectors: bool | list[str] = False,
    ) -> list[Any]:
        records: list[Any] = []
        offset = None
        while True:
            page, offset = self._client.scroll(
                self._collection,
                scroll_filter=condition,
                limit=_SCROLL_PAGE,
                offset=offset,
                with_payload=with_payload,
                with_vectors=with_vectors,
            )
            records.extend(page)
            if offset is None:
                return records

    def payloads(
        self, filters: SearchFilters, fields: Sequence[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        if not self._ready:
            return {}
        records = self._scroll(_filter(filters), True if fields is None else list(fields))
        return {str(r.id): dict(r.payload or {}) for r in records}

    def source_vectors(self, source: str) -> dict[str, list[float]]:
        if not self._ready:
            return {}
        condition = models.Filter(
            must=[models.FieldCondition(key="source", match=models.MatchValue(value=source))]
        )
        found: dict[str, list[float]] = {}
        for record in self._scroll(condition, False, [DENSE]):
            vectors = record.vector if isinstance(record.vector, dict) else {}
            if DENSE in vectors:
                found[str(record.id)] = list(vectors[DENSE])
        return found

    def count(self, filters: SearchFilters | None = None) -> int:
        if not self._ready:
            return 0
        return int(
            self._client.count(self._collection, count_filter=_filter(filters), exact=True).count
        )

    def unavailable(self) -> str | None:
        if self._closed:
            return f"the client of the Qdrant collection {self._collection!r} is closed"
        return None

    def optimize(self) -> None:
        return None  # a Qdrant server's optimizers index new segments on their own

    def close(self) -> None:
        self._closed = True
        self._client.close()
