"""The retriever: dense, sparse or hybrid search with filters and one slot per distinct text."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from ingest.embed import Embedder
from retrieval import fusion
from retrieval.sparse import Bm25Encoder
from retrieval.store import VectorStore
from steward.domain import ScoredChunk, SearchFilters
from steward.errors import QueryError
from steward.settings import RetrievalSettings

Mode = Literal["hybrid", "dense", "sparse"]
MODES: tuple[Mode, ...] = ("hybrid", "dense", "sparse")


@dataclass(frozen=True, slots=True)
class RetrievalResult:
    hits: list[ScoredChunk]
    took_ms: float


class Retriever:
    """Answers queries against one store with one embedder."""

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        sparse: Bm25Encoder,
        settings: RetrievalSettings,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.sparse = sparse
        self.settings = settings

    def retrieve(
        self,
        query: str,
        top_k: int = 10,
        mode: Mode | None = None,
        filters: SearchFilters | None = None,
    ) -> RetrievalResult:
        started = time.perf_counter()
        text = query.strip()
        if not text:
            raise QueryError("query", "must not be empty")
        if top_k < 1:
            raise QueryError("top_k", "must be at least 1")
        mode = mode or self.settings.mode
        if mode not in MODES:
            raise QueryError("mode", f"must be one of {', '.join(MODES)}")
        # Room for identical texts that collapse into one slot.
        depth = max(self.settings.candidates, top_k * 2)

        if mode == "dense":
            vector = self.embedder.embed_query(text).tolist()
            ranked = [
                (c.chunk_id, c.score, c.content_hash)
                for c in self.store.search_dense(vector, depth, filters)
            ]
        elif mode == "sparse":
            sparse = self.sparse.encode_query(text)
            ranked = [
                (c.chunk_id, c.score, c.content_hash)
                for c in self.store.search_sparse(sparse, depth, filters)
            ]
        else:
            ranked = self._hybrid(text, depth, filters)

        # One slot per distinct text, then payloads for the winners only.
        winners: list[tuple[str, float]] = []
        seen: set[str] = set()
        for chunk_id, score, content_hash in ranked:
            if content_hash in seen:
                continue
            seen.add(content_hash)
            winners.append((chunk_id, score))
            if len(winners) == top_k:
                break
        payloads = self.store.fetch([chunk_id for chunk_id, _ in winners])
        hits = [
            ScoredChunk(chunk_id=chunk_id, score=score, payload=payloads[chunk_id])
            for chunk_id, score in winners
            if chunk_id in payloads  # deleted between the search and the fetch
        ]
        return RetrievalResult(hits=hits, took_ms=(time.perf_counter() - started) * 1000)

    def _hybrid(
        self, text: str, depth: int, filters: SearchFilters | None
    ) -> list[tuple[str, float, str]]:
        dense = self.store.search_dense(self.embedder.embed_query(text).tolist(), depth, filters)
        sparse = self.store.search_sparse(self.sparse.encode_query(text), depth, filters)
        hashes = {c.chunk_id: c.content_hash for c in (*dense, *sparse)}
        dense_ranked = [(c.chunk_id, c.score) for c in dense]
        sparse_ranked = [(c.chunk_id, c.score) for c in sparse]
        weight = self.settings.dense_weight
        if self.settings.fusion == "rrf":
            fused = fusion.rrf(dense_ranked, sparse_ranked, weight, self.settings.rrf_k)
        elif self.settings.fusion == "dbsf":
            fused = fusion.dbsf(dense_ranked, sparse_ranked, weight)
        else:
            fused = fusion.weighted(dense_ranked, sparse_ranked, weight)
        return [(ident, score, hashes[ident]) for ident, score in fused]
