"""Steward as a LlamaIndex retriever: `StewardRetriever` (pip install 'steward[llamaindex]').

    from llama_index.core.query_engine import RetrieverQueryEngine
    from integrations.llamaindex import StewardRetriever

    retriever = StewardRetriever(url="http://localhost:8000", api_key=KEY, source="handbook")
    engine = RetrieverQueryEngine.from_args(retriever, llm=llm)
    answer = engine.query("how long is the refund window?")
    retriever.feedback(answer.source_nodes[0], relevant=True)

Each result is a `NodeWithScore` over a `TextNode` (id: the chunk's, text: the chunk's, its
SOURCE relationship: the document) whose metadata holds Steward's fields
(integrations/results.py). The LLM sees the title, section, URI, update time and the caveats
(the flags in words); ids and scores stay out of its prompt and of embeddings.
"""

from __future__ import annotations

from datetime import datetime

try:
    from llama_index.core.base.base_retriever import BaseRetriever
    from llama_index.core.callbacks import CallbackManager
    from llama_index.core.schema import (
        NodeRelationship,
        NodeWithScore,
        QueryBundle,
        RelatedNodeInfo,
        TextNode,
    )
except ImportError as missing:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "Steward's LlamaIndex retriever needs llama-index-core: pip install 'steward[llamaindex]'"
    ) from missing

import httpx

from client.http import DEFAULT_TIMEOUT, DEFAULT_URL, AsyncHttpClient, HttpClient
from client.models import Mode, RetrieveResponse
from client.retry import Retry
from integrations.connection import Connection, retrieve_options
from integrations.results import feedback_key, metadata

# Metadata a model gains nothing from reading (ids, scores, lists of ids).
_NOT_FOR_THE_LLM = [
    "query_id",
    "chunk_id",
    "doc_id",
    "score",
    "flags",
    "superseded_by",
    "duplicate_of",
    "duplicates",
]


def nodes(answer: RetrieveResponse) -> list[NodeWithScore]:
    """A retrieve answer as LlamaIndex nodes with their scores, best first."""
    found = []
    for hit in answer.results:
        node = TextNode(
            id_=hit.chunk_id,
            text=hit.text,
            metadata=metadata(hit, answer.query_id),
            excluded_llm_metadata_keys=list(_NOT_FOR_THE_LLM),
            excluded_embed_metadata_keys=[*_NOT_FOR_THE_LLM, "caveats"],
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=hit.doc_id)},
        )
        found.append(NodeWithScore(node=node, score=hit.score))
    return found


class StewardRetriever(BaseRetriever):
    """Steward's `/retrieve` as a LlamaIndex `BaseRetriever`, over the HTTP client.

    The filters (`source`, `source_uri_prefix`, `updated_after`), `top_k` and `mode` apply to
    every query; `with_filters(...)` gives a retriever with some of them changed.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        api_key: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: Retry | None = None,
        top_k: int = 5,
        mode: Mode | None = None,
        source: str | list[str] | None = None,
        source_uri_prefix: str | None = None,
        updated_after: datetime | None = None,
        client: HttpClient | None = None,
        async_client: AsyncHttpClient | None = None,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        if not 1 <= top_k <= 100:
            raise ValueError(f"top_k must be between 1 and 100, not {top_k}")
        self.top_k = top_k
        self.mode = mode
        self.source = source
        self.source_uri_prefix = source_uri_prefix
        self.updated_after = updated_after
        self._connection = Connection(
            url=url,
            api_key=api_key,
            timeout=timeout,
            retry=retry,
            client=client,
            async_client=async_client,
        )
        super().__init__(callback_manager=callback_manager, verbose=verbose)

    def with_filters(
        self,
        *,
        top_k: int | None = None,
        mode: Mode | None = None,
        source: str | list[str] | None = None,
        source_uri_prefix: str | None = None,
        updated_after: datetime | None = None,
    ) -> StewardRetriever:
        """A retriever over the same connection with the given options changed."""
        other = StewardRetriever.__new__(StewardRetriever)
        other.__dict__.update(self.__dict__)
        for name, value in {
            "top_k": top_k,
            "mode": mode,
            "source": source,
            "source_uri_prefix": source_uri_prefix,
            "updated_after": updated_after,
        }.items():
            if value is not None:
                setattr(other, name, value)
        return other

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        answer = self._connection.sync().retrieve(query_bundle.query_str, **retrieve_options(self))
        return nodes(answer)

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        answer = await self._connection.async_().retrieve(
            query_bundle.query_str, **retrieve_options(self)
        )
        return nodes(answer)

    # -- feedback

    def feedback(self, result: NodeWithScore, relevant: bool, *, note: str | None = None) -> int:
        """Judge a result this retriever returned (relevant or not, and why); the feedback's id.

        Results judged not relevant often enough reach their owners' stale list.
        """
        query_id, chunk_id = feedback_key(result.node.metadata)
        return self._connection.sync().feedback(query_id, chunk_id, relevant, note=note)

    async def afeedback(
        self, result: NodeWithScore, relevant: bool, *, note: str | None = None
    ) -> int:
        """`feedback`, awaited."""
        query_id, chunk_id = feedback_key(result.node.metadata)
        return await self._connection.async_().feedback(query_id, chunk_id, relevant, note=note)

    # -- lifetime

    def close(self) -> None:
        """Close the clients this retriever built (not ones handed in)."""
        self._connection.close()

    async def aclose(self) -> None:
        """Close the clients this retriever built for the running loop, and the sync one."""
        await self._connection.aclose()


__all__ = ["StewardRetriever", "nodes"]
