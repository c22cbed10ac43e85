"""The retriever: dense, sparse or hybrid search, then hygiene-aware ranking (retrieval.ranking)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from retrieval import fusion, ranking
from retrieval.embed import Embedder
from retrieval.query import (
    boost_terms,
    edition_names,
    exact_first,
    identifier_tokens,
    named_first,
    quoted_phrases,
)
from retrieval.sparse import Bm25Encoder
from retrieval.store import VectorStore
from steward.domain import (
    Candidate,
    ChunkPayload,
    HygieneSnapshot,
    ScoredChunk,
    SearchFilters,
    SparseVector,
    utc_now,
)
from steward.errors import QueryError
from steward.settings import HygieneSettings, RetrievalSettings
from steward.tracing import span

Mode = Literal["hybrid", "dense", "sparse"]
MODES: tuple[Mode, ...] = ("hybrid", "dense", "sparse")
EXACT_DEPTH = 20  # best BM25 hits read for identifiers (retrieval.query.exact_first)


@dataclass(frozen=True, slots=True)
class RetrievalResult:
    hits: list[ScoredChunk]
    took_ms: float
    # The best dense cosine among the candidates: how well the best text matches the question,
    # on one scale across queries (a hit's `score` is min-max normalised per query, so the top
    # one is always about 1). None in sparse mode (no embedding) or when nothing was found.
    top_cosine: float | None = None


class Retriever:
    """Answers queries against one store with one embedder."""

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        sparse: Bm25Encoder,
        settings: RetrievalSettings,
        hygiene: HygieneSettings | None = None,
        marks: Callable[[], HygieneSnapshot | None] | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.sparse = sparse
        self.settings = settings
        self.hygiene = hygiene or HygieneSettings()
        # The last hygiene scan's view of each document; None: rank by relevance alone.
        self.marks = marks

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
        with span("retrieve", mode=mode, top_k=top_k):
            hits, top_cosine = self._retrieve(text, top_k, mode, filters)
        return RetrievalResult(
            hits=hits, took_ms=(time.perf_counter() - started) * 1000, top_cosine=top_cosine
        )

    def _retrieve(
        self, text: str, top_k: int, mode: Mode, filters: SearchFilters | None
    ) -> tuple[list[ScoredChunk], float | None]:
        """Search, then rank: the spans of a traced retrieve are embed, search, fuse, rank.
        The hits and the best dense cosine among the candidates (None without a dense search)."""
        # Room for identical texts that collapse into one slot.
        depth = max(self.settings.candidates, top_k * 2)

        found_identifiers = identifier_tokens(text)
        lexical: list[Candidate] = []  # the BM25 list, where exact strings are found
        if mode == "dense":
            with span("embed"):
                vector = self.embedder.embed_query(text).tolist()
            with span("search"):
                ranked = self.store.search_dense(vector, depth, filters)
            top_cosine = ranked[0].score if ranked else None
        elif mode == "sparse":
            with span("search"):
                sparse_query = self._sparse_query(text, found_identifiers)
                ranked = lexical = self.store.search_sparse(sparse_query, depth, filters)
            top_cosine = None
        else:
            ranked, lexical, top_cosine = self._hybrid(text, found_identifiers, depth, filters)
        with span("rank", candidates=len(ranked)):
            return self._rank(text, top_k, ranked, lexical, found_identifiers), top_cosine

    def _rank(
        self,
        text: str,
        top_k: int,
        ranked: list[Candidate],
        lexical: list[Candidate],
        found_identifiers: list[str],
    ) -> list[ScoredChunk]:
        """Exact strings first, then hygiene-aware ranking; the winners with their payloads."""
        phrases = quoted_phrases(text) if self.settings.quoted_phrases else []
        identifiers = found_identifiers if self.settings.exact_identifiers else []
        payloads: dict[str, ChunkPayload] = {}
        names = edition_names(text)
        if names:
            # A year or version named in the query picks the page of that year or version.
            payloads = self.store.fetch([c.chunk_id for c in ranked[:EXACT_DEPTH]])
            ranked = named_first(ranked, payloads, names)
        if phrases or identifiers:
            # A quoted phrase is an explicit request: every candidate is read. An identifier,
            # weighted up in BM25, is held by the best BM25 hits: reading EXACT_DEPTH of them
            # costs 0.35 ms where all 200 candidates cost 2.6 ms (msmarco-5k, measured).
            pool = ranked if phrases else (lexical or ranked)[:EXACT_DEPTH]
            payloads.update(
                self.store.fetch([c.chunk_id for c in pool if c.chunk_id not in payloads])
            )
            read = {c.chunk_id: payloads[c.chunk_id] for c in pool if c.chunk_id in payloads}
            ranked = exact_first(ranked, read, phrases, identifiers)
        snapshot = self.marks() if self.marks is not None else None
        named = self._named_editions(names, ranked, snapshot, payloads)
        picked = ranking.select(ranked, top_k, snapshot, self.hygiene, utc_now(), named)
        # Payloads for the winners only (already there when the exact rules read them all).
        missing = [p.chunk_id for p in picked if p.chunk_id not in payloads]
        if missing:
            payloads.update(self.store.fetch(missing))
        return [
            ScoredChunk(
                chunk_id=p.chunk_id,
                score=p.score,
                payload=payloads[p.chunk_id],
                flags=p.flags,
                duplicate_of=p.duplicate_of,
                superseded_by=p.superseded_by,
                duplicates=p.duplicates,
            )
            for p in picked
            if p.chunk_id in payloads  # deleted between the search and the fetch
        ]

    def _named_editions(
        self,
        names: frozenset[str],
        ranked: list[Candidate],
        snapshot: HygieneSnapshot | None,
        payloads: dict[str, ChunkPayload],
    ) -> frozenset[str]:
        """Superseded candidates whose title names a year or version the query names, and
        whose successor's title does not.

        "travel policy 2024" asks for the 2024 edition, superseded by the 2025 one or not; an
        old edition of "Python 3.11 Release Schedule" is still the old one. Payloads are read
        only for superseded candidates and their successors, only when the query names one.
        """
        if not names or snapshot is None:
            return frozenset()
        marks = snapshot.documents
        stale = [c for c in ranked if (m := marks.get(c.doc_id)) is not None and m.superseded_by]
        if not stale:
            return frozenset()
        successors = {marks[c.doc_id].superseded_by for c in stale}
        wanted = [c for c in ranked if c in stale or c.doc_id in successors]
        missing = [c.chunk_id for c in wanted if c.chunk_id not in payloads]
        if missing:
            payloads.update(self.store.fetch(missing))
        named = {
            c.doc_id
            for c in wanted
            if c.chunk_id in payloads and names & edition_names(payloads[c.chunk_id].title)
        }
        return frozenset(
            c.doc_id
            for c in stale
            if c.doc_id in named and marks[c.doc_id].superseded_by not in named
        )

    def _sparse_query(self, text: str, identifiers: list[str]) -> SparseVector:
        """The BM25 query, its identifier-shaped words weighted up (retrieval.query)."""
        vector = self.sparse.encode_query(text)
        boost = self.settings.identifier_boost
        if not identifiers or boost == 1.0:
            return vector
        terms = [self.sparse.encode_query(word) for word in identifiers]
        return boost_terms(vector, terms, boost)

    def _hybrid(
        self, text: str, identifiers: list[str], depth: int, filters: SearchFilters | None
    ) -> tuple[list[Candidate], list[Candidate], float | None]:
        """The fused candidates, the BM25 list they came from, and the best dense cosine."""
        with span("embed"):
            vector = self.embedder.embed_query(text).tolist()
        with span("search"):
            dense = self.store.search_dense(vector, depth, filters)
            sparse = self.store.search_sparse(self._sparse_query(text, identifiers), depth, filters)
        with span("fuse", dense=len(dense), sparse=len(sparse)):
            return self._fuse(dense, sparse), sparse, (dense[0].score if dense else None)

    def _fuse(self, dense: list[Candidate], sparse: list[Candidate]) -> list[Candidate]:
        """Both lists fused into one, with the exact-match anchors and guarantees applied."""
        found = {c.chunk_id: c for c in (*dense, *sparse)}
        dense_ranked = [(c.chunk_id, c.score) for c in dense]
        sparse_ranked = [(c.chunk_id, c.score) for c in sparse]
        weight = self.settings.dense_weight
        if dense and dense[0].score < self.settings.confident_cosine:
            # The model's best match is weak (unknown names, terms, a corpus unlike its
            # training): the words themselves deserve more say.
            weight = self.settings.unsure_dense_weight
        if self.settings.fusion == "rrf":
            fused = fusion.rrf(dense_ranked, sparse_ranked, weight, self.settings.rrf_k)
        elif self.settings.fusion == "dbsf":
            fused = fusion.dbsf(dense_ranked, sparse_ranked, weight)
        else:
            fused = fusion.weighted(dense_ranked, sparse_ranked, weight)
        anchors = fusion.lexical_anchors(
            sparse_ranked, self.settings.anchor_gap, self.settings.anchor_depth
        )
        if anchors:
            fused = sorted(fusion.anchored(fused, anchors), key=lambda item: (-item[1], item[0]))
        if sparse_ranked and self.settings.sparse_place:
            fused = fusion.guarantee(fused, sparse_ranked[0][0], self.settings.sparse_place)
        return [
            Candidate(ident, score, found[ident].content_hash, found[ident].doc_id)
            for ident, score in fused
        ]
