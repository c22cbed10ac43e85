"""Compare the catalog with the index: what should be there against what is."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from retrieval.store import VectorStore
from steward.catalog import Catalog, DocumentRow
from steward.domain import ChunkPayload, rfc3339


@dataclass(slots=True)
class CheckReport:
    """Disagreements between catalog and index; empty lists mean they agree."""

    sources: list[str] = field(default_factory=list)
    documents: int = 0
    chunks: int = 0
    orphan_points: list[str] = field(default_factory=list)  # in the index, not the catalog
    missing_points: list[str] = field(default_factory=list)  # in the catalog, not the index
    stale_payloads: list[str] = field(default_factory=list)  # payload disagrees with catalog

    @property
    def clean(self) -> bool:
        return not (self.orphan_points or self.missing_points or self.stale_payloads)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "clean": self.clean}


def _disagrees(payload: ChunkPayload, row: DocumentRow) -> bool:
    return (
        payload.doc_id != row.doc_id
        or payload.source_uri != row.source_uri
        or payload.title != row.title
        or payload.owner != row.owner
        or sorted(payload.acl) != sorted(row.acl)
        or payload.updated_at != rfc3339(row.updated_at)
    )


def check(catalog: Catalog, store: VectorStore, sources: list[str] | None = None) -> CheckReport:
    """Every chunk the catalog lists is indexed with a matching payload, and nothing else is."""
    report = CheckReport(sources=sorted(sources) if sources else catalog.sources())
    for source in report.sources:
        rows = catalog.documents_of(source)
        points = store.source_chunks(source)
        expected = {cid: row for row in rows.values() for cid in row.chunk_ids}
        report.documents += len(rows)
        report.chunks += len(points)
        report.orphan_points.extend(sorted(set(points) - set(expected)))
        report.missing_points.extend(sorted(set(expected) - set(points)))
        report.stale_payloads.extend(
            sorted(
                cid
                for cid, payload in points.items()
                if cid in expected and _disagrees(payload, expected[cid])
            )
        )
    return report
