"""The LangChain retriever inside LangChain, against a real Steward: a server on a free port over
the sample knowledge base on the embedded index (tests/steward_kb.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest
from langchain_core.documents import Document
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompt_values import PromptValue
from langchain_core.prompts import PromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough
from steward_kb import OLD_REFUND, REFUND, doc_id

from app.runtime import Runtime
from client import HttpClient, Retry, TransportError
from integrations.langchain import StewardRetriever

REFUND_QUESTION = "how long is the refund window?"
T = TypeVar("T")
METADATA = {
    "query_id",
    "chunk_id",
    "doc_id",
    "source",
    "source_uri",
    "title",
    "section",
    "score",
    "updated_at",
    "flags",
    "superseded_by",
    "duplicate_of",
    "duplicates",
    "caveats",
}


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
    found = StewardRetriever(url=sample_url, top_k=5)
    yield found
    found.close()


def test_a_retriever_call_gives_documents_with_stewards_metadata(
    retriever: StewardRetriever, sample_kb: Runtime
) -> None:
    docs = retriever.invoke(REFUND_QUESTION)
    assert 0 < len(docs) <= 5 and all(isinstance(d, Document) for d in docs)
    best = docs[0]
    assert best.metadata["source_uri"] == REFUND and best.metadata["source"] == "handbook"
    assert set(best.metadata) == METADATA
    assert best.id == best.metadata["chunk_id"] and "refund" in best.page_content.lower()
    assert best.metadata["doc_id"] == doc_id(sample_kb, REFUND)
    scores = [d.metadata["score"] for d in docs]
    assert scores == sorted(scores, reverse=True)
    assert len({d.metadata["query_id"] for d in docs}) == 1


def test_a_superseded_result_says_so_in_words(
    retriever: StewardRetriever, sample_kb: Runtime
) -> None:
    docs = retriever.invoke("refund window restocking fee", top_k=10, mode="sparse")
    old = next(d for d in docs if d.metadata["source_uri"] == OLD_REFUND)
    assert "superseded" in old.metadata["flags"]
    assert old.metadata["superseded_by"] == doc_id(sample_kb, REFUND)
    assert any("newer edition" in said for said in old.metadata["caveats"])


def test_filters_pass_through_from_the_retriever_and_from_the_call(sample_url: str) -> None:
    it_only = StewardRetriever(url=sample_url, top_k=20, source_uri_prefix="it/")
    docs = it_only.invoke("policy")
    assert docs and all(d.metadata["source_uri"].startswith("it/") for d in docs)
    assert it_only.invoke("policy", source="elsewhere") == []
    assert len(it_only.invoke("policy", top_k=2)) == 2
    with pytest.raises(TypeError, match="does not take colour"):
        it_only.invoke("policy", colour="blue")
    it_only.close()


def test_the_async_path_answers_like_the_sync_one(retriever: StewardRetriever) -> None:
    async def both() -> tuple[list[Document], list[Document]]:
        first = await retriever.ainvoke(REFUND_QUESTION, source="handbook")
        second = await retriever.ainvoke(REFUND_QUESTION, source="handbook")
        await retriever.aclose()
        return first, second

    first, second = asyncio.run(both())
    # A second loop gets its own connection pool (asyncio.run closes the first one's loop).
    third = run(retriever, lambda: retriever.ainvoke(REFUND_QUESTION, source="handbook"))
    plain = retriever.invoke(REFUND_QUESTION, source="handbook")
    assert [d.id for d in first] == [d.id for d in second] == [d.id for d in third]
    assert [d.id for d in first] == [d.id for d in plain] and first


def test_feedback_on_a_result_reaches_the_feedback_summary(
    retriever: StewardRetriever, sample_url: str
) -> None:
    with HttpClient(sample_url) as steward:
        before = steward.feedback_summary().precision_by_source
    judged = before["handbook"].judged if "handbook" in before else 0
    docs = retriever.invoke(REFUND_QUESTION)
    assert retriever.feedback(docs[0], relevant=True) > 0
    assert run(retriever, lambda: retriever.afeedback(docs[1], relevant=False, note="x")) > 0
    with HttpClient(sample_url) as steward:
        after = steward.feedback_summary().precision_by_source["handbook"]
    assert after.judged == judged + 2
    with pytest.raises(ValueError, match="not a Steward result"):
        retriever.feedback(Document(page_content="from elsewhere"), relevant=True)


def test_a_chain_answers_from_the_retrieved_documents(retriever: StewardRetriever) -> None:
    prompts: list[str] = []

    def seen(prompt: PromptValue) -> PromptValue:
        prompts.append(prompt.to_string())
        return prompt

    def context(docs: list[Document]) -> str:
        return "\n\n".join(
            f"[{d.metadata['source_uri']}] {' '.join(d.metadata['caveats'])}\n{d.page_content}"
            for d in docs
        )

    llm = FakeListLLM(responses=["14 days", "30 days"])
    prompt = PromptTemplate.from_template("Context:\n{context}\n\nQuestion: {question}\nAnswer:")
    chain = (
        {"context": retriever | context, "question": RunnablePassthrough()}
        | prompt
        | RunnableLambda(seen)
        | llm
        | StrOutputParser()
    )
    assert chain.invoke(REFUND_QUESTION) == "14 days"
    assert run(retriever, lambda: chain.ainvoke(REFUND_QUESTION)) == "30 days"
    assert len(prompts) == 2 and prompts[0] == prompts[1]
    assert f"[{REFUND}]" in prompts[0] and REFUND_QUESTION in prompts[0]


def test_no_server_is_a_clear_error() -> None:
    gone = StewardRetriever(url="http://127.0.0.1:9", retry=Retry(retries=0), timeout=2)
    with pytest.raises(TransportError, match=r"no answer from http://127\.0\.0\.1:9"):
        gone.invoke(REFUND_QUESTION)
    gone.close()
