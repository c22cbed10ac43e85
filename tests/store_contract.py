"""The `VectorStore` contract: every backend's test class subclasses `StoreContract`.

A backend passes by one fixture, `store`, that opens an empty store of its kind (and closes it
after the test), as `tests/test_store_contract.py` does for the embedded and the server backend.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from retrieval.sparse import Bm25Encoder
from retrieval.store import VectorStore, payload_to_dict
from steward.domain import Candidate, ChunkPayload, IndexedChunk, ScoredChunk, SearchFilters
from steward.errors import StoreError

DIM = 4
MODEL = "test-model"
BM25 = Bm25Encoder()


def cid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def chunk(
    name: str,
    dense: list[float],
    text: str,
    *,
    doc: str = "doc-a",
    source: str = "wiki",
    uri: str = "guides/a.md",
    updated: str = "2025-01-01T00:00:00Z",
    ordinal: int = 0,
) -> IndexedChunk:
    vector = np.asarray(dense, dtype=np.float32)
    return IndexedChunk(
        chunk_id=cid(name),
        dense=list(vector / np.linalg.norm(vector)),
        sparse=BM25.encode_document(text),
        payload=ChunkPayload(
            doc_id=doc,
            source=source,
            source_uri=uri,
            title=f"title of {doc}",
            section="",
            text=text,
            updated_at=updated,
            ingested_at="2025-07-01T00:00:00Z",
            content_hash=f"hash-{name}",
            owner="owner@example.com" if ordinal == 0 else None,
            acl=["staff"] if source == "wiki" else [],
            ordinal=ordinal,
        ),
    )


# Five chunks over three documents, two sources, two folders and three update times.
CORPUS = [
    chunk("a0", [1, 0, 0, 0], "Kubernetes deployment rollout with helm charts", ordinal=0),
    chunk("a1", [0.8, 0.6, 0, 0], "Rolling back a failed release safely", ordinal=1),
    chunk(
        "b0",
        [0, 1, 0, 0],
        "Vacation requests need manager approval",
        doc="doc-b",
        uri="hr/leave.md",
        updated="2025-06-01T12:00:00Z",
    ),
    chunk(
        "c0",
        [0, 0, 1, 0],
        "Invoices are paid within thirty days",
        doc="doc-c",
        source="finance",
        uri="guides/invoices.md",
        updated="2024-01-01T00:00:00Z",
    ),
    chunk(
        "c1",
        [0, 0, 0.6, 0.8],
        "Expense reports require receipts",
        doc="doc-c",
        source="finance",
        uri="guides/invoices.md",
        updated="2024-01-01T00:00:00Z",
        ordinal=1,
    ),
]
BY_ID = {c.chunk_id: c for c in CORPUS}


def ids(hits: Sequence[Candidate | ScoredChunk]) -> list[str]:
    return [h.chunk_id for h in hits]


FILTER_CASES = {
    "one source": (SearchFilters(sources=("finance",)), {"c0", "c1"}),
    "several sources": (SearchFilters(sources=("finance", "wiki")), {"a0", "a1", "b0", "c0", "c1"}),
    "unknown source": (SearchFilters(sources=("nope",)), set()),
    "uri prefix": (SearchFilters(source_uri_prefix="guides/"), {"a0", "a1", "c0", "c1"}),
    "uri prefix is a prefix, not a substring": (SearchFilters(source_uri_prefix="leave"), set()),
    "updated after": (
        SearchFilters(updated_after=datetime(2024, 6, 1, tzinfo=UTC)),
        {"a0", "a1", "b0"},
    ),
    "updated after is strict": (
        SearchFilters(updated_after=datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)),
        set(),
    ),
    "updated after in another zone": (
        # 13:30 at +02:00 is 11:30 UTC: before doc-b's 12:00 UTC.
        SearchFilters(
            updated_after=datetime(2025, 6, 1, 13, 30, tzinfo=timezone(timedelta(hours=2)))
        ),
        {"b0"},
    ),
    "doc ids": (SearchFilters(doc_ids=("doc-b", "doc-c")), {"b0", "c0", "c1"}),
    # wiki's chunks carry acl ["staff"]; finance's none (public).
    "groups: none held leaves the public chunks": (SearchFilters(groups=()), {"c0", "c1"}),
    "groups: another group leaves the public chunks": (
        SearchFilters(groups=("secret-team",)),
        {"c0", "c1"},
    ),
    "groups: a shared group adds its chunks": (
        SearchFilters(groups=("secret-team", "staff")),
        {"a0", "a1", "b0", "c0", "c1"},
    ),
    "groups with another filter": (
        SearchFilters(groups=(), source_uri_prefix="guides/"),
        {"c0", "c1"},
    ),
    "combined": (
        SearchFilters(sources=("wiki",), source_uri_prefix="guides/", doc_ids=("doc-a", "doc-c")),
        {"a0", "a1"},
    ),
}


class StoreContract:
    """Every test a `VectorStore` backend must pass; a subclass provides the `store` fixture."""

    @pytest.fixture
    def store(self) -> Iterator[VectorStore]:
        raise NotImplementedError("a backend's test class opens its store in this fixture")

    @pytest.fixture
    def ready(self, store: VectorStore) -> VectorStore:
        store.ensure_collection(DIM, MODEL)
        return store

    @pytest.fixture
    def filled(self, ready: VectorStore) -> VectorStore:
        ready.upsert(CORPUS)
        return ready

    # -- collection ----------------------------------------------------------------------------

    def test_empty_store_answers_empty_before_any_collection(self, store: VectorStore) -> None:
        assert store.count() == 0
        assert store.search_dense([1.0, 0, 0, 0], 5) == []
        assert store.search_sparse(BM25.encode_query("kubernetes"), 5) == []
        assert store.document_chunks("doc-a") == []
        assert store.document_ids("wiki") == set()
        store.delete_documents(["doc-a"])  # nothing to delete is not an error
        assert store.count() == 0

    def test_a_closed_store_says_so_naming_itself(self, filled: VectorStore) -> None:
        assert filled.unavailable() is None
        filled.close()
        reason = filled.unavailable()
        assert reason is not None and "closed" in reason

    def test_empty_collection_answers_empty(self, ready: VectorStore) -> None:
        assert ready.count() == 0
        assert ready.count(SearchFilters(sources=("wiki",))) == 0
        assert ready.search_dense([1.0, 0, 0, 0], 5) == []
        assert ready.search_sparse(BM25.encode_query("kubernetes"), 5) == []
        assert ready.document_chunks("doc-a") == []
        assert ready.document_ids("wiki") == set()

    def test_ensure_collection_is_idempotent_and_keeps_points(self, filled: VectorStore) -> None:
        filled.ensure_collection(DIM, MODEL)
        assert filled.count() == len(CORPUS)

    @pytest.mark.parametrize(("dimension", "model"), [(DIM + 1, MODEL), (DIM, "another-model")])
    def test_ensure_collection_refuses_another_dimension_or_model(
        self, filled: VectorStore, dimension: int, model: str
    ) -> None:
        with pytest.raises(StoreError) as raised:
            filled.ensure_collection(dimension, model)
        assert MODEL in str(raised.value)
        assert filled.count() == len(CORPUS)  # the refusal touched nothing

    # -- writes and reads ----------------------------------------------------------------------

    def test_search_dense_orders_by_cosine_best_first(self, filled: VectorStore) -> None:
        query = np.asarray([0.9, 0.3, 0.1, 0.0], dtype=np.float32)
        query /= np.linalg.norm(query)
        hits = filled.search_dense(list(query), 10)
        expected = sorted(CORPUS, key=lambda c: -float(np.dot(query, c.dense)))
        assert ids(hits) == [c.chunk_id for c in expected]
        for hit in hits:
            assert math.isclose(
                hit.score, float(np.dot(query, BY_ID[hit.chunk_id].dense)), abs_tol=1e-4
            )
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert hits[0].content_hash == BY_ID[hits[0].chunk_id].payload.content_hash

    def test_search_dense_respects_limit(self, filled: VectorStore) -> None:
        hits = filled.search_dense([1.0, 0, 0, 0], 2)
        assert ids(hits) == [cid("a0"), cid("a1")]

    def test_search_sparse_ranks_the_term_matching_chunk_first(self, filled: VectorStore) -> None:
        hits = filled.search_sparse(
            BM25.encode_query("how do I roll out a kubernetes deployment?"), 10
        )
        assert ids(hits)[0] == cid("a0")
        # Chunks sharing no term with the query are not BM25 matches at all.
        assert cid("b0") not in ids(hits) and cid("c0") not in ids(hits)
        assert all(h.score > 0 for h in hits)

        receipts = filled.search_sparse(BM25.encode_query("receipts"), 10)
        assert ids(receipts) == [cid("c1")]

    def test_search_sparse_with_only_stopwords_finds_nothing(self, filled: VectorStore) -> None:
        assert filled.search_sparse(BM25.encode_query("the of and"), 10) == []

    def test_upsert_of_the_same_id_replaces_the_point(self, filled: VectorStore) -> None:
        replacement = chunk("b0", [0, 0, 0, 1], "Parental leave is sixteen weeks", doc="doc-b")
        filled.upsert([replacement])
        assert filled.count() == len(CORPUS)
        top = filled.search_dense([0, 0, 0, 1.0], 1)[0]
        assert top.chunk_id == cid("b0")
        assert filled.fetch([top.chunk_id])[top.chunk_id].text == "Parental leave is sixteen weeks"
        assert ids(filled.search_sparse(BM25.encode_query("parental leave"), 5)) == [cid("b0")]
        assert filled.search_sparse(BM25.encode_query("vacation approval"), 5) == []

    def test_delete_stale_chunks_keeps_only_the_given_ids(self, filled: VectorStore) -> None:
        filled.delete_stale_chunks("doc-a", [cid("a1")])
        assert ids(filled.document_chunks("doc-a")) == [cid("a1")]
        assert filled.count() == len(CORPUS) - 1
        assert ids(filled.document_chunks("doc-c")) == [cid("c0"), cid("c1")]  # others untouched

    def test_delete_stale_chunks_with_nothing_to_keep_empties_the_document(
        self, filled: VectorStore
    ) -> None:
        filled.delete_stale_chunks("doc-c", [])
        assert filled.document_chunks("doc-c") == []
        assert filled.document_ids("finance") == set()
        assert filled.count() == 3

    def test_delete_documents_removes_every_chunk_of_those_documents_only(
        self, filled: VectorStore
    ) -> None:
        filled.delete_documents(["doc-a", "doc-c", "no-such-doc"])
        assert filled.document_chunks("doc-a") == []
        assert filled.document_chunks("doc-c") == []
        assert ids(filled.search_dense([1.0, 1.0, 1.0, 1.0], 10)) == [cid("b0")]
        assert filled.count() == 1

    def test_document_chunks_come_in_ordinal_order(self, ready: VectorStore) -> None:
        parts = [
            chunk(f"p{n}", [1, n, 0, 0], f"part number {n}", doc="doc-p", ordinal=n)
            for n in range(6)
        ]
        ready.upsert([parts[n] for n in (3, 0, 5, 1, 4, 2)])
        found = ready.document_chunks("doc-p")
        assert [c.payload.ordinal for c in found] == list(range(6))
        assert ids(found) == [p.chunk_id for p in parts]
        assert all(c.score == 0 for c in found)
        assert [c.payload for c in found] == [p.payload for p in parts]

    def test_document_ids_lists_the_documents_of_one_source(self, filled: VectorStore) -> None:
        assert filled.document_ids("wiki") == {"doc-a", "doc-b"}
        assert filled.document_ids("finance") == {"doc-c"}
        assert filled.document_ids("nothing") == set()

    def test_source_chunks_are_every_chunk_of_one_source_with_its_payload(
        self, filled: VectorStore
    ) -> None:
        finance = {c.chunk_id: c.payload for c in CORPUS if c.payload.source == "finance"}
        assert filled.source_chunks("finance") == finance
        assert filled.source_chunks("nothing") == {}

    def test_payloads_are_the_stored_fields_or_only_those_named(self, filled: VectorStore) -> None:
        finance = SearchFilters(sources=("finance",))
        found = filled.payloads(finance)
        assert set(found) == {cid("c0"), cid("c1")}
        assert found[cid("c1")] == payload_to_dict(BY_ID[cid("c1")].payload)
        assert filled.payloads(finance, ["doc_id"]) == {
            cid("c0"): {"doc_id": "doc-c"},
            cid("c1"): {"doc_id": "doc-c"},
        }

    # -- filters -------------------------------------------------------------------------------

    @pytest.mark.parametrize("case", list(FILTER_CASES))
    def test_filters_restrict_count_and_both_searches(self, filled: VectorStore, case: str) -> None:
        filters, expected_names = FILTER_CASES[case]
        expected = {cid(name) for name in expected_names}
        assert filled.count(filters) == len(expected)
        assert set(ids(filled.search_dense([1.0, 1.0, 1.0, 1.0], 10, filters))) == expected
        words = "kubernetes release vacation invoices receipts"
        assert set(ids(filled.search_sparse(BM25.encode_query(words), 10, filters))) == expected
        assert set(filled.payloads(filters)) == expected

    # -- candidates and payloads ---------------------------------------------------------------

    def test_search_candidates_carry_the_content_hash(self, filled: VectorStore) -> None:
        by_id = {c.chunk_id: c.payload.content_hash for c in CORPUS}
        hits = filled.search_dense([1.0, 0, 0, 0], 10) + filled.search_sparse(
            BM25.encode_query("kubernetes rollout"), 10
        )
        assert hits
        assert all(hit.content_hash == by_id[hit.chunk_id] for hit in hits)

    def test_fetch_returns_full_payloads_and_skips_unknown_ids(self, filled: VectorStore) -> None:
        wanted = [cid("c0"), cid("a1"), cid("never-written")]
        found = filled.fetch(wanted)
        assert set(found) == {cid("c0"), cid("a1")}
        expected = {c.chunk_id: c.payload for c in CORPUS}
        assert found[cid("a1")] == expected[cid("a1")]
        assert found[cid("c0")] == expected[cid("c0")]
        assert filled.fetch([]) == {}

    def test_set_payload_changes_one_documents_chunks_only(self, filled: VectorStore) -> None:
        filled.set_payload("doc-a", {"owner": "new@example.com", "acl": ["crew"]})
        chunks = {c.chunk_id: c.payload for c in filled.document_chunks("doc-a")}
        assert set(chunks) == {cid("a0"), cid("a1")}
        assert all((p.owner, p.acl) == ("new@example.com", ["crew"]) for p in chunks.values())
        assert chunks[cid("a0")].text == BY_ID[cid("a0")].payload.text  # the rest is untouched
        others = filled.document_chunks("doc-c")
        assert [c.payload for c in others] == [BY_ID[c.chunk_id].payload for c in others]
        assert filled.search_dense([1.0, 0, 0, 0], 1)[0].chunk_id == cid("a0")  # vectors untouched

    def test_source_vectors_returns_each_chunks_dense_vector(self, filled: VectorStore) -> None:
        found = filled.source_vectors("finance")
        assert set(found) == {cid("c0"), cid("c1")}
        assert np.allclose(found[cid("c1")], BY_ID[cid("c1")].dense, atol=1e-6)
        assert filled.source_vectors("nothing") == {}

    def test_search_candidates_carry_their_document_id(self, filled: VectorStore) -> None:
        found = filled.search_dense([0, 1, 0, 0], 1)
        assert [(c.chunk_id, c.doc_id) for c in found] == [(cid("b0"), "doc-b")]
