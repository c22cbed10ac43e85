"""Steward as a LangChain retriever: `StewardRetriever` (pip install 'steward[langchain]').

    from integrations.langchain import StewardRetriever

    retriever = StewardRetriever(url="http://localhost:8000", api_key=KEY, top_k=4)
    docs = retriever.invoke("how long is the refund window?", source="handbook")
    retriever.feedback(docs[0], relevant=False, note="outdated: the window is 30 days now")

Each result is a `Document` whose `page_content` is the chunk's text and whose metadata holds
Steward's fields (integrations/results.py): source, source_uri, title, section, score, flags,
superseded_by, duplicate_of, duplicates, updated_at, the ids that name it for feedback, and
`caveats`, the flags in words.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

try:
    from langchain_core.callbacks import (
        AsyncCallbackManagerForRetrieverRun,
        CallbackManagerForRetrieverRun,
    )
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
except ImportError as missing:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "Steward's LangChain retriever needs langchain-core: pip install 'steward[langchain]'"
    ) from missing

import httpx
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr

from client.http import DEFAULT_TIMEOUT, DEFAULT_URL, AsyncHttpClient, HttpClient
from client.models import Mode, RetrieveResponse
from client.retry import Retry
from integrations.connection import RETRIEVE_OPTIONS, Connection, retrieve_options
from integrations.results import feedback_key, metadata


def documents(answer: RetrieveResponse) -> list[Document]:
    """A retrieve answer as LangChain documents, best first."""
    return [
        Document(id=hit.chunk_id, page_content=hit.text, metadata=metadata(hit, answer.query_id))
        for hit in answer.results
    ]


class StewardRetriever(BaseRetriever):
    """Steward's `/retrieve` as a LangChain `BaseRetriever`, over the HTTP client.

    The filters set here apply to every call; `invoke(query, top_k=..., source=...,
    source_uri_prefix=..., updated_after=..., mode=...)` overrides them for one call.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    url: str = DEFAULT_URL
    api_key: SecretStr | None = None
    timeout: float | httpx.Timeout = DEFAULT_TIMEOUT
    retry: Retry | None = None
    top_k: int = Field(5, ge=1, le=100)
    mode: Mode | None = None
    source: str | list[str] | None = None
    source_uri_prefix: str | None = None
    updated_after: datetime | None = None
    # Clients to use as they are (shared with the application; left open by `close`).
    client: HttpClient | None = Field(None, exclude=True)
    async_client: AsyncHttpClient | None = Field(None, exclude=True)

    _connection: Connection = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        super().model_post_init(context)
        self._connection = Connection(
            url=self.url,
            api_key=self.api_key.get_secret_value() if self.api_key else None,
            timeout=self.timeout,
            retry=self.retry,
            client=self.client,
            async_client=self.async_client,
        )

    def _options(self, given: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(given) - set(RETRIEVE_OPTIONS))
        if unknown:
            raise TypeError(
                f"StewardRetriever does not take {', '.join(unknown)}; "
                f"a call may set {', '.join(RETRIEVE_OPTIONS)}"
            )
        return retrieve_options(self, given)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **options: Any
    ) -> list[Document]:
        answer = self._connection.sync().retrieve(query, **self._options(options))
        return documents(answer)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **options: Any
    ) -> list[Document]:
        answer = await self._connection.async_().retrieve(query, **self._options(options))
        return documents(answer)

    # -- feedback

    def feedback(self, document: Document, relevant: bool, *, note: str | None = None) -> int:
        """Judge a result this retriever returned (relevant or not, and why); the feedback's id.

        Results judged not relevant often enough reach their owners' stale list.
        """
        query_id, chunk_id = feedback_key(document.metadata)
        return self._connection.sync().feedback(query_id, chunk_id, relevant, note=note)

    async def afeedback(
        self, document: Document, relevant: bool, *, note: str | None = None
    ) -> int:
        """`feedback`, awaited."""
        query_id, chunk_id = feedback_key(document.metadata)
        return await self._connection.async_().feedback(query_id, chunk_id, relevant, note=note)

    # -- lifetime

    def close(self) -> None:
        """Close the clients this retriever built (not ones handed in)."""
        self._connection.close()

    async def aclose(self) -> None:
        """Close the clients this retriever built for the running loop, and the sync one."""
        await self._connection.aclose()


__all__ = ["StewardRetriever", "documents"]
