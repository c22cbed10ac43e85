"""Embedded index: a Qdrant Edge shard in a local directory, owned by one process.

qdrant-edge 0.9 keeps deleted points in the BM25 IDF statistics of an open shard until it is
loaded again, so a store that deleted points reloads its shard before the next read (about
0.1 s for 5,000 chunks). Reads share a lock that writes and reloads hold alone, so a reload
never races a query and concurrent queries do not wait for each other.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import qdrant_edge as qe

from retrieval.read_write_lock import ReadWriteLock
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
    rfc3339,
)
from steward.errors import IndexLockedError, StoreError

_META = "steward-index.json"
_SHARD = "shard"
_SCROLL_PAGE = 1000


def _filter(filters: SearchFilters | None) -> qe.Filter | None:
    must: list[Any] = []
    if filters is not None:
        if filters.sources:
            must.append(qe.FieldCondition(key="source", match=qe.MatchAny(list(filters.sources))))
        if filters.source_uri_prefix:
            must.append(
                qe.FieldCondition(key="source_uri", match=qe.MatchPrefix(filters.source_uri_prefix))
            )
        if filters.updated_after is not None:
            must.append(
                qe.FieldCondition(
                    key="updated_at", range=qe.RangeDateTime(gt=rfc3339(filters.updated_after))
                )
            )
        if filters.doc_ids:
            must.append(qe.FieldCondition(key="doc_id", match=qe.MatchAny(list(filters.doc_ids))))
        if filters.groups is not None:
            readable: list[Any] = [qe.IsEmptyCondition("acl")]
            if filters.groups:
                readable.append(
                    qe.FieldCondition(key="acl", match=qe.MatchAny(list(filters.groups)))
                )
            must.append(qe.Filter(should=readable))
    return qe.Filter(must=must) if must else None


def _doc_condition(doc_id: str) -> Any:
    return qe.FieldCondition(key="doc_id", match=qe.MatchValue(doc_id))


class EdgeStore(StoreQueries):
    """`VectorStore` over qdrant-edge; a lock file keeps a second process out."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = self._acquire_lock()
        self._shard: qe.EdgeShard | None = None
        self._lock = ReadWriteLock()
        self._stale = False  # points were deleted since the shard was loaded
        # Closed: every use refuses (StoreError) instead of answering as an empty index would.
        self._closed = False
        if (self._dir / _SHARD).is_dir() and any((self._dir / _SHARD).iterdir()):
            self._shard = qe.EdgeShard.load(str(self._dir / _SHARD))

    @contextmanager
    def _reading(self) -> Iterator[qe.EdgeShard | None]:
        """The shard for a read, reloaded first if deletions left its statistics stale."""
        self._check_open()
        if self._stale:
            with self._lock.writing():
                if self._stale and self._shard is not None:
                    self._shard.flush()
                    self._shard.close()
                    self._shard = qe.EdgeShard.load(str(self._dir / _SHARD))
                self._stale = False
        with self._lock.reading():
            yield self._shard

    def _acquire_lock(self) -> IO[str]:
        handle = open(self._dir / "lock", "a+")  # noqa: SIM115 - held for the store's lifetime
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise IndexLockedError(str(self._dir), holder) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        return handle

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the embedded index at {self._dir} is closed")

    @property
    def _live(self) -> qe.EdgeShard:
        self._check_open()
        if self._shard is None:
            raise StoreError("the index has no collection yet: ingest a source first")
        return self._shard

    def ensure_collection(self, dimension: int, model: str) -> None:
        meta_path = self._dir / _META
        if self._shard is not None:
            meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
            if meta.get("dimension") != dimension or meta.get("model") != model:
                raise StoreError(
                    f"the index at {self._dir} was built with model {meta.get('model')!r} "
                    f"({meta.get('dimension')} dimensions), not {model!r} ({dimension}); "
                    "re-index into a new STEWARD_HOME to change models"
                )
            return
        config = qe.EdgeConfig(
            vectors={DENSE: qe.EdgeVectorParams(size=dimension, distance=qe.Distance.Cosine)},
            sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        )
        shard = qe.EdgeShard.create(str(self._dir / _SHARD), config)
        for name in KEYWORD_FIELDS:
            shard.update(qe.UpdateOperation.create_field_index(name, qe.PayloadSchemaType.Keyword))
        for name in DATETIME_FIELDS:
            shard.update(qe.UpdateOperation.create_field_index(name, qe.PayloadSchemaType.Datetime))
        meta_path.write_text(json.dumps({"dimension": dimension, "model": model}))
        self._shard = shard

    def built_with(self) -> tuple[int, str] | None:
        meta_path = self._dir / _META
        if self._shard is None or not meta_path.exists():
            return None
        meta = json.loads(meta_path.read_text())
        return int(meta["dimension"]), str(meta["model"])

    def upsert(self, chunks: Sequence[IndexedChunk]) -> None:
        if not chunks:
            return
        points = [
            qe.Point(
                chunk.chunk_id,
                {
                    DENSE: list(chunk.dense),
                    SPARSE: qe.SparseVector(list(chunk.sparse.indices), list(chunk.sparse.values)),
                },
                payload_to_dict(chunk.payload),
            )
            for chunk in chunks
        ]
        with self._lock.writing():
            self._live.update(qe.UpdateOperation.upsert_points(points))

    def set_payload(self, doc_id: str, fields: Mapping[str, Any]) -> None:
        condition = qe.Filter(must=[_doc_condition(doc_id)])
        with self._lock.writing():
            self._live.update(qe.UpdateOperation.set_payload_by_filter(condition, dict(fields)))

    def delete_stale_chunks(self, doc_id: str, keep: Iterable[str]) -> None:
        keep_ids: set[Any] = set(keep)
        condition = qe.Filter(
            must=[_doc_condition(doc_id)],
            must_not=[qe.HasIdCondition(keep_ids)] if keep_ids else None,
        )
        with self._lock.writing():
            shard = self._live
            if shard.count(qe.CountRequest(filter=condition, exact=True)):
                shard.update(qe.UpdateOperation.delete_points_by_filter(condition))
                self._stale = True

    def delete_documents(self, doc_ids: Iterable[str]) -> None:
        self._check_open()
        ids = list(doc_ids)
        if not ids or self._shard is None:
            return
        condition = qe.Filter(must=[qe.FieldCondition(key="doc_id", match=qe.MatchAny(ids))])
        with self._lock.writing():
            self._shard.update(qe.UpdateOperation.delete_points_by_filter(condition))
            self._stale = True

    def _query(
        self, query: Any, limit: int, filters: SearchFilters | None, params: Any = None
    ) -> list[Candidate]:
        # Only the hash and the document id travel with candidates; payloads follow for the winners.
        request = qe.QueryRequest(
            limit=limit,
            query=query,
            filter=_filter(filters),
            params=params,
            with_payload=["content_hash", "doc_id"],
        )
        with self._reading() as shard:
            found = shard.query(request) if shard is not None else []
        return [
            Candidate(
                str(p.id),
                p.score,
                str((p.payload or {}).get("content_hash", "")),
                str((p.payload or {}).get("doc_id", "")),
            )
            for p in found
        ]

    def fetch(self, chunk_ids: Sequence[str]) -> dict[str, ChunkPayload]:
        if not chunk_ids:
            return {}
        with self._reading() as shard:
            records = shard.retrieve(list(chunk_ids), True, False) if shard else []
        return {str(r.id): payload_from_dict(r.payload or {}) for r in records}

    def search_dense(
        self, vector: Sequence[float], limit: int, filters: SearchFilters | None = None
    ) -> list[Candidate]:
        params = qe.SearchParams(hnsw_ef=max(DENSE_SEARCH_EF, limit))
        return self._query(qe.Query.Nearest(list(vector), using=DENSE), limit, filters, params)

    def search_sparse(
        self, vector: SparseVector, limit: int, filters: SearchFilters | None = None
    ) -> list[Candidate]:
        if not vector.indices:
            return []
        sparse = qe.SparseVector(list(vector.indices), list(vector.values))
        return self._query(qe.Query.Nearest(sparse, using=SPARSE), limit, filters)

    def _scroll(
        self,
        condition: qe.Filter | None,
        with_payload: bool | list[str],
        with_vector: bool | list[str] = False,
    ) -> list[Any]:
        records: list[Any] = []
        offset = None
        with self._reading() as shard:
            while shard is not None:
                page, offset = shard.scroll(
                    qe.ScrollRequest(
                        offset=offset,
                        limit=_SCROLL_PAGE,
                        filter=condition,
                        with_payload=with_payload,
                        with_vector=with_vector,
                    )
                )
                records.extend(page)
                if offset is None:
                    break
        return records

    def payloads(
        self, filters: SearchFilters, fields: Sequence[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        records = self._scroll(_filter(filters), True if fields is None else list(fields))
        return {str(r.id): dict(r.payload or {}) for r in records}

    def source_vectors(self, source: str) -> dict[str, list[float]]:
        self._check_open()
        if self._shard is None:
            return {}
        condition = qe.Filter(must=[qe.FieldCondition(key="source", match=qe.MatchValue(source))])
        return {
            str(r.id): list(r.vector[DENSE])
            for r in self._scroll(condition, False, [DENSE])
            if r.vector and DENSE in r.vector
        }

    def count(self, filters: SearchFilters | None = None) -> int:
        with self._reading() as shard:
            if shard is None:
                return 0
            return int(shard.count(qe.CountRequest(filter=_filter(filters), exact=True)))

    def unavailable(self) -> str | None:
        if self._closed:
            return f"the embedded index at {self._dir} is closed"
        if self._shard is not None and not (self._dir / _SHARD).is_dir():
            # The open shard still answers from memory, but nothing it writes can last.
            return f"the embedded index at {self._dir} is unusable: its shard directory is gone"
        return None

    def optimize(self) -> None:
        # Qdrant Edge runs its optimizers only when asked: a shard written and never optimized
        # is searched exhaustively, however large (benchmarks/scale.py, 1M chunks of 384-d:
        # p50 289 ms as written, against the HNSW graph's, README "Scale"). Segments below
        # Qdrant's indexing threshold (10 MB of vectors, about 6,500 of MiniLM's) stay plain,
        # so a small index pays nothing. Reads go on meanwhile; writes and reloads wait.
        if self._shard is None:
            return
        with self._lock.reading():
            self._shard.optimize()

    def close(self) -> None:
        """Flush and release the shard and the lock; the lock is released even when the flush
        fails (StoreError: the shard's files are gone), so the next process can open it."""
        self._closed = True
        try:
            if self._shard is not None:
                with self._lock.writing():
                    shard, self._shard = self._shard, None
                    try:
                        shard.flush()
                        shard.close()
                    except Exception as error:  # qdrant-edge raises a bare Exception
                        raise StoreError(
                            f"the embedded index at {self._dir} could not be flushed: "
                            f"{str(error)[:200]}"
                        ) from error
        finally:
            if not self._lock_file.closed:
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)
                self._lock_file.close()
