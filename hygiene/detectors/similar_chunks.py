"""Pairs of chunks of different documents whose embeddings are close (the vectors the index
already holds: nothing is embedded here)."""

from __future__ import annotations

from hygiene.corpus import Corpus
from hygiene.dedup import similar_chunks
from hygiene.findings import Findings
from steward.settings import HygieneSettings


class SimilarChunks:
    """Writes `chunk_pairs`: cosine at least the lower of the conflict and chunk-copy floors."""

    phase = "chunks"

    def __init__(self, settings: HygieneSettings) -> None:
        self.settings = settings

    def run(self, corpus: Corpus, found: Findings) -> None:
        settings = self.settings
        chunks = corpus.chunks
        threshold = min(settings.conflict_cosine, settings.chunk_duplicate_cosine)
        found.chunk_pairs = list(
            similar_chunks(
                chunks.ids, chunks.owners, chunks.vectors, threshold, settings.conflict_neighbours
            )
        )
