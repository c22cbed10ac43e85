"""The LlamaIndex retriever inside LlamaIndex, against a real Steward: a server on a free port
over the sample knowledge base on the embedded index (tests/steward_kb.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import MetadataMode, NodeWithScore, TextNode
from steward_kb import OLD_REFUND, REFUND, doc_id

from app.runtime import Runtime
from client import HttpClient
from integrations.llamaindex import StewardRetriever

REFUND_QUESTION = "how long is the refund window?"
T = TypeVar("T")


def run(retriever: StewardRetriever, call: Callable[[], Awaitable[T]]) -> T:
    """`call()` on a new event loop, closing the retriever's client for that loop before it
    ends (an application with one long-lived loop closes it once, at shutdown)."""

    async def closing() -> T:
        try:
            return await call()
        finally:
            await retriever.aclose()

    return asyncio.run(closing())


@pytest.fixture
def retriever(sample_url: str) -> Iterator[StewardRetriever]:
    found = StewardRetriever(sample_url, top_k=5)
    yield found
    found.close()


def test_a_retriever_call_gives_scored_nodes_with_stewards_metadata(
    retriever: StewardRetriever, sample_kb: Runtime
) -> None:
    found = retriever.retrieve(REFUND_QUESTION)
    assert 0 < len(found) <= 5 and all(isinstance(n, NodeWithScore) for n in found)
    best = found[0]
    assert best.node.metadata["source_uri"] == REFUND and best.node.metadata["source"] == "handbook"
    assert best.node.node_id == best.node.metadata["chunk_id"]
    assert best.node.ref_doc_id == doc_id(sample_kb, REFUND)  # the SOURCE relationship
    assert best.score == best.node.metadata["score"]
    assert [n.score for n in found] == sorted((n.score or 0 for n in found), reverse=True)
    # The model reads where the text comes from, not the ids and scores.
    shown = best.node.get_content(MetadataMode.LLM)
    assert "refund-policy.md" in shown and "chunk_id" not in shown and "query_id" not in shown


def test_a_superseded_result_says_so_to_the_llm(sample_url: str, sample_kb: Runtime) -> None:
    sparse = StewardRetriever(sample_url, top_k=10, mode="sparse")
    found = sparse.retrieve("refund window restocking fee")
    old = next(n for n in found if n.node.metadata["source_uri"] == OLD_REFUND)
    assert "superseded" in old.node.metadata["flags"]
    assert old.node.metadata["superseded_by"] == doc_id(sample_kb, REFUND)
    assert "newer edition" in old.node.get_content(MetadataMode.LLM)
    sparse.close()


def test_filters_pass_through(retriever: StewardRetriever) -> None:
    it_only = retriever.with_filters(source_uri_prefix="it/", top_k=20)
    found = it_only.retrieve("policy")
    assert found and all(n.node.metadata["source_uri"].startswith("it/") for n in found)
    assert retriever.with_filters(source="elsewhere").retrieve("policy") == []
    assert len(retriever.retrieve("policy")) == 5  # the original keeps its options
    with pytest.raises(ValueError, match="top_k must be between 1 and 100"):
        StewardRetriever("http://127.0.0.1:9", top_k=0)


def test_the_async_path_answers_like_the_sync_one(retriever: StewardRetriever) -> None:
    async def twice() -> tuple[list[NodeWithScore], list[NodeWithScore]]:
        first = await retriever.aretrieve(REFUND_QUESTION)
        second = await retriever.aretrieve(REFUND_QUESTION)
        await retriever.aclose()
        return first, second

    first, second = asyncio.run(twice())
    plain = retriever.retrieve(REFUND_QUESTION)
    ids = [n.node.node_id for n in first]
    assert ids and ids == [n.node.node_id for n in second] == [n.node.node_id for n in plain]


def test_feedback_on_a_node_reaches_the_feedback_summary(
    retriever: StewardRetriever, sample_url: str
) -> None:
    with HttpClient(sample_url) as steward:
        before = steward.feedback_summary().precision_by_source
    judged = before["handbook"].judged if "handbook" in before else 0
    found = retriever.retrieve(REFUND_QUESTION)
    assert retriever.feedback(found[0], relevant=True) > 0
    assert run(retriever, lambda: retriever.afeedback(found[1], relevant=False, note="x")) > 0
    with HttpClient(sample_url) as steward:
        assert steward.feedback_summary().precision_by_source["handbook"].judged == judged + 2
    with pytest.raises(ValueError, match="not a Steward result"):
        retriever.feedback(NodeWithScore(node=TextNode(text="elsewhere")), relevant=True)


def test_a_query_engine_answers_from_the_retrieved_nodes(retriever: StewardRetriever) -> None:
    # MockLLM answers with (the end of) its prompt: what the engine put there is what it read.
    engine = RetrieverQueryEngine.from_args(retriever, llm=MockLLM())
    answer = engine.query(REFUND_QUESTION)
    assert answer.source_nodes[0].node.metadata["source_uri"] == REFUND
    assert "Refund window" in str(answer) or "refund" in str(answer).lower()
    assert REFUND_QUESTION in str(answer)
    again = run(retriever, lambda: engine.aquery(REFUND_QUESTION))
    assert [n.node.node_id for n in again.source_nodes] == [
        n.node.node_id for n in answer.source_nodes
    ]
