"""The `VectorStore` contract run against every backend, plus a congruence check between them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from store_contract import BM25, CORPUS, DIM, MODEL, StoreContract, chunk, cid, ids

from retrieval.edge_store import EdgeStore
from retrieval.qdrant_store import QdrantStore
from retrieval.store import VectorStore
from steward.domain import IndexedChunk, SearchFilters
from steward.errors import StoreError

# qdrant-client's local mode warns that payload indexes do nothing; QdrantStore creates them
# anyway because a server needs them (it could skip them for ":memory:").
QDRANT_LOCAL_WARNING = pytest.mark.filterwarnings(
    "ignore:Payload indexes have no effect in the local Qdrant:UserWarning"
)


class TestEdgeStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[VectorStore]:
        opened = EdgeStore(tmp_path / "index")
        yield opened
        opened.close()


@QDRANT_LOCAL_WARNING
class TestQdrantStore(StoreContract):
    @pytest.fixture
    def store(self) -> Iterator[VectorStore]:
        opened = QdrantStore(":memory:", "test")
        yield opened
        opened.close()


# -- persistence of the embedded backend ---------------------------------------------------


def test_edge_store_keeps_points_and_collection_across_reopen(tmp_path: Path) -> None:
    first = EdgeStore(tmp_path / "index")
    first.ensure_collection(DIM, MODEL)
    first.upsert(CORPUS)
    first.close()

    second = EdgeStore(tmp_path / "index")
    try:
        assert second.count() == len(CORPUS)
        assert ids(second.search_dense([1.0, 0, 0, 0], 1)) == [cid("a0")]
        with pytest.raises(StoreError):
            second.ensure_collection(DIM, "another-model")
    finally:
        second.close()


# -- congruence ----------------------------------------------------------------------------

CONGRUENCE_WORDS = "alpha beta gamma delta epsilon kappa lambda sigma omega theta".split()
CONGRUENCE_FILTERS = [
    None,
    SearchFilters(sources=("wiki",)),
    SearchFilters(source_uri_prefix="guides/", updated_after=datetime(2025, 4, 1, tzinfo=UTC)),
]


def congruence_corpus() -> list[IndexedChunk]:
    rng = np.random.default_rng(7)
    return [
        chunk(
            f"r{n}",
            list(rng.normal(size=DIM)),
            # Distinct lengths keep BM25 scores apart: tied scores have no defined order.
            " ".join(rng.choice(CONGRUENCE_WORDS, size=3 + n)),
            doc=f"doc-{n % 4}",
            source="wiki" if n % 3 else "finance",
            uri=f"{'guides' if n % 2 else 'hr'}/{n}.md",
            updated=f"2025-0{1 + n % 9}-01T00:00:00Z",
            ordinal=n,
        )
        for n in range(24)
    ]


def congruence_writes(store: VectorStore) -> None:
    store.ensure_collection(DIM, MODEL)
    store.upsert(congruence_corpus())
    store.delete_stale_chunks("doc-1", [cid("r1"), cid("r5")])
    store.delete_documents(["doc-3"])


def congruence_reads(store: VectorStore) -> dict[str, object]:
    queries = [list(np.random.default_rng(n).normal(size=DIM)) for n in range(3)]
    return {
        "dense": [ids(store.search_dense(q, 8, f)) for q in queries for f in CONGRUENCE_FILTERS],
        "sparse": [
            [
                (h.chunk_id, round(h.score, 3))
                for h in store.search_sparse(BM25.encode_query(t), 8, f)
            ]
            for t in ("alpha omega", "gamma", "theta sigma kappa")
            for f in CONGRUENCE_FILTERS
        ],
        "chunks": [ids(store.document_chunks(f"doc-{n}")) for n in range(4)],
        "doc_ids": [store.document_ids(s) for s in ("wiki", "finance")],
        "counts": [store.count(f) for f in CONGRUENCE_FILTERS],
    }


@QDRANT_LOCAL_WARNING
def test_backends_return_the_same_results(tmp_path: Path) -> None:
    """The same calls against both backends give the same ids in the same order.

    The embedded index is reopened before reading, as the API server opens it after an ingest.
    """
    edge = EdgeStore(tmp_path / "index")
    congruence_writes(edge)
    edge.close()
    edge = EdgeStore(tmp_path / "index")
    qdrant = QdrantStore(":memory:", "test")
    try:
        congruence_writes(qdrant)
        from_edge, from_qdrant = congruence_reads(edge), congruence_reads(qdrant)
    finally:
        edge.close()
        qdrant.close()
    assert from_edge["counts"][0] == 24 - 4 - 6  # doc-1 kept 2 of 6, doc-3 lost all 6
    assert all(from_edge["dense"]) and sum(map(len, from_edge["sparse"])) > 20
    assert from_edge == from_qdrant


@QDRANT_LOCAL_WARNING
def test_sparse_scores_agree_right_after_deletions_without_reopen(tmp_path: Path) -> None:
    edge = EdgeStore(tmp_path / "index")
    qdrant = QdrantStore(":memory:", "test")
    try:
        congruence_writes(edge)
        congruence_writes(qdrant)
        assert congruence_reads(edge)["sparse"] == congruence_reads(qdrant)["sparse"]
    finally:
        edge.close()
        qdrant.close()
