"""What hygiene uses of a process's runtime: its settings, the database, the catalog and the index.

A protocol, so hygiene never imports the composition root (`app.runtime`), whose `Runtime`
satisfies it.
"""

from __future__ import annotations

from typing import Protocol

from retrieval.store import VectorStore
from steward.catalog import Catalog
from steward.database import Database
from steward.settings import Settings


class Runtime(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def database(self) -> Database: ...

    @property
    def catalog(self) -> Catalog: ...

    @property
    def store(self) -> VectorStore: ...
