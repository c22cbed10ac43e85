"""What evaluation uses of a process's runtime: settings, database, index, model, retriever,
webhooks.

A protocol, so evaluation never imports the composition root (`app.runtime`), whose `Runtime`
satisfies it.
"""

from __future__ import annotations

from typing import Protocol

from retrieval.embed import Embedder
from retrieval.search import Retriever
from retrieval.store import VectorStore
from steward.catalog import Catalog
from steward.database import Database
from steward.settings import Settings
from steward.webhooks import Webhooks


class Runtime(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def database(self) -> Database: ...

    @property
    def catalog(self) -> Catalog: ...

    @property
    def store(self) -> VectorStore: ...

    @property
    def embedder(self) -> Embedder: ...

    @property
    def retriever(self) -> Retriever: ...

    @property
    def webhooks(self) -> Webhooks: ...
