"""The embedded index builds its HNSW graph: Qdrant Edge optimizes only when asked, and an
ingest that wrote anything asks (benchmarks/scale.py measured 1M chunks left as one plain
segment: every search exhaustive)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from connectors.filesystem import FilesystemConnector
from ingest.pipeline import IngestPipeline
from retrieval.edge_store import EdgeStore
from steward.domain import ChunkPayload, IndexedChunk, SparseVector

# Wide vectors pass Qdrant's indexing threshold (10 MB of vectors) with few points.
WIDE = 1536
POINTS = 2000


def _chunks(count: int) -> list[IndexedChunk]:
    rng = np.random.default_rng(3)
    rows = rng.standard_normal((count, WIDE)).astype(np.float32)
    return [
        IndexedChunk(
            chunk_id=f"00000000-0000-0000-0000-{n:012d}",
            dense=row.tolist(),
            sparse=SparseVector((n % 97,), (1.0,)),
            payload=ChunkPayload(
                doc_id=f"doc-{n // 2}",
                source="kb",
                source_uri=f"kb/{n // 2}.md",
                title="",
                section="",
                text=f"chunk {n}",
                updated_at="2025-01-01T00:00:00Z",
                ingested_at="2025-01-02T00:00:00Z",
                content_hash=f"{n:064x}",
                owner=None,
                acl=[],
                ordinal=n % 2,
            ),
        )
        for n, row in enumerate(rows)
    ]


def test_optimize_builds_the_graph_and_keeps_every_point_searchable(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path / "index")
    try:
        store.ensure_collection(WIDE, "test-model")
        chunks = _chunks(POINTS)
        store.upsert(chunks)
        # Indexed vectors count the sparse ones (always indexed) and the dense ones in a graph.
        assert store._live.info().indexed_vectors_count == POINTS  # the dense: no graph yet
        store.optimize()
        assert store._live.info().indexed_vectors_count == 2 * POINTS
        assert store.count() == POINTS
        for probe in (chunks[0], chunks[POINTS // 2], chunks[-1]):
            (best, *_) = store.search_dense(probe.dense, 3)
            assert best.chunk_id == probe.chunk_id
    finally:
        store.close()
    reopened = EdgeStore(tmp_path / "index")  # the graph is kept on disk
    try:
        assert reopened._live.info().indexed_vectors_count == 2 * POINTS
    finally:
        reopened.close()


class CountingEdgeStore(EdgeStore):
    """The embedded store, counting the optimizations asked of it."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.optimized = 0

    def optimize(self) -> None:
        self.optimized += 1
        super().optimize()


def test_an_ingest_that_wrote_optimizes_and_an_unchanged_one_does_not(
    tmp_path: Path, open_home: Any, hash_embedder: Any
) -> None:
    runtime = open_home("a", hash_embedder)
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "leave.md").write_text("# Leave\n\nRequests need a manager's approval.\n")
    (folder / "sla.md").write_text("# SLA\n\nTickets are answered within four hours.\n")
    store = CountingEdgeStore(tmp_path / "counted-index")
    try:
        pipeline = IngestPipeline(
            runtime.catalog, store, hash_embedder, runtime.sparse, runtime.settings.ingest
        )
        assert pipeline.run(FilesystemConnector(folder, "kb")).new == 2
        assert store.optimized == 1
        assert pipeline.run(FilesystemConnector(folder, "kb")).unchanged == 2
        assert store.optimized == 1  # nothing written, nothing to index
        (folder / "sla.md").write_text("# SLA\n\nTickets are answered within two hours.\n")
        assert pipeline.run(FilesystemConnector(folder, "kb")).changed == 1
        assert store.optimized == 2
    finally:
        store.close()
