"""Whether a process can do its work: its catalog takes a write, its index answers."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from retrieval.store import VectorStore
from steward.database import Database

# A readiness probe must answer well inside a load balancer's timeout (often 1-5 s); SQLite
# would otherwise wait 5 s for another writer before saying it is locked.
CATALOG_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class Readiness:
    """ "ready" when both parts say "ok"; each part says "ok" or why not."""

    status: Literal["ready", "unavailable"]
    catalog: str
    index: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def readiness(database: Database, store: VectorStore) -> Readiness:
    """Try a write on the catalog (rolled back); ask the index whether it is open and whole,
    then for a count."""
    catalog = database.writable(CATALOG_TIMEOUT_S) or "ok"
    # A closed or broken store names itself; an open one must still answer a count.
    index = store.unavailable() or "ok"
    if index == "ok":
        try:
            store.count()
        except Exception as error:  # any failure of the store means not ready, whatever its kind
            index = f"{type(error).__name__}: {str(error)[:200]}"
    ready = catalog == "ok" and index == "ok"
    return Readiness("ready" if ready else "unavailable", catalog, index)
