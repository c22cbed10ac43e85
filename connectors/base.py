"""The `Connector` protocol every source implements, and a connector that lists once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol

from steward.domain import DocumentRef, RawDocument


class Connector(Protocol):
    """A source of documents.

    `list` must either yield the complete listing or raise `SourceError`: pruning trusts a
    listing that finished, and nothing else.
    """

    source: str

    def list(self) -> Iterator[DocumentRef]:
        """Every document of the source, with a cheap change fingerprint."""

    def fetch(self, ref: DocumentRef) -> RawDocument:
        """The document's content; `DocumentError` when this one cannot be read."""


class IncrementalConnector(Connector, Protocol):
    """A source that can also say what changed since a time (not what was deleted)."""

    def list_changed(self, since: datetime) -> Iterator[DocumentRef]:
        """Documents created or modified after `since`."""


class PositionedConnector(Connector, Protocol):
    """A source that remembers where its last listing ended (a changes-feed page token, a
    delta link), so the next incremental listing starts from there.

    A listing only holds the position it reached; `keep_position` stores it, and the pipeline
    calls it once the run that used the listing succeeded. A run that fails (a listing that
    breaks off, a document that cannot be fetched or indexed) leaves the stored position where
    it was, so the next run is shown the same changes again.
    """

    def keep_position(self) -> None:
        """Store the position the last listing reached (nothing when none is pending)."""


class ListedOnce:
    """A connector whose listing is read once and then repeated: each bucket of a partitioned
    sync lists the source, and a crawl or an API listing should not run once per bucket."""

    def __init__(self, inner: Connector) -> None:
        self._inner = inner
        self.source = inner.source
        self._refs: list[DocumentRef] | None = None

    def list(self) -> Iterator[DocumentRef]:
        if self._refs is None:
            self._refs = list(self._inner.list())
        return iter(self._refs)

    def fetch(self, ref: DocumentRef) -> RawDocument:
        return self._inner.fetch(ref)

    def __getattr__(self, name: str) -> Any:  # keep_position, list_changed, close
        return getattr(self._inner, name)
