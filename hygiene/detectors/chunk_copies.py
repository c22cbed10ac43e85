"""Chunk-level copies: one text in two documents that are not copies as a whole."""

from __future__ import annotations

from hygiene.corpus import Corpus
from hygiene.detectors.clusters import canonical_rank
from hygiene.findings import Findings, pair_key
from hygiene.review import numbers
from steward.settings import HygieneSettings


class ChunkCopies:
    """Writes `chunk_duplicates`: the chunk of the higher-ranked document is kept."""

    phase = "classify"

    def __init__(self, settings: HygieneSettings) -> None:
        self.settings = settings

    def run(self, corpus: Corpus, found: Findings) -> None:
        chunks, position = corpus.chunks, corpus.chunks.position
        for pair in found.chunk_pairs:
            if pair.cosine < self.settings.chunk_duplicate_cosine:
                continue
            first, second = chunks.payloads[position[pair.a]], chunks.payloads[position[pair.b]]
            docs = pair_key(first.doc_id, second.doc_id)
            if docs in found.contradicting or docs in corpus.distinct:
                continue
            if numbers(first.text) != numbers(second.text):
                # "The 2025 term election ..." and "The 2026 term ..." embed alike; one text
                # states the same numbers.
                continue
            keep, fold = (
                (pair.a, pair.b)
                if canonical_rank(corpus, found, first.doc_id)
                >= canonical_rank(corpus, found, second.doc_id)
                else (pair.b, pair.a)
            )
            if fold not in found.chunk_duplicates and keep not in found.chunk_duplicates:
                found.chunk_duplicates[fold] = (keep, pair.cosine)
