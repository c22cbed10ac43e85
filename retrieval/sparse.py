"""BM25 sparse vectors for chunks and queries.

Documents get saturated term frequencies; queries get one weight per unique term; the engine
multiplies by IDF (the collection's sparse vector has the IDF modifier). The token ids are
hashes computed by Qdrant Edge's tokenizer: they must stay stable for an index to stay valid,
so changing the tokenizer settings here means re-indexing.
"""

from __future__ import annotations

import qdrant_edge

from steward.domain import SparseVector


class Bm25Encoder:
    """English BM25 (stemmed, stopwords removed) computed in-process, for both backends."""

    def __init__(self, avg_len: float = 60.0) -> None:
        self._model = qdrant_edge.Bm25(qdrant_edge.Bm25Config(avg_len=avg_len, language="english"))

    def encode_document(self, text: str) -> SparseVector:
        vector = self._model.embed_document(text)
        return SparseVector(indices=vector.indices, values=vector.values)

    def encode_query(self, text: str) -> SparseVector:
        vector = self._model.embed_query(text)
        return SparseVector(indices=vector.indices, values=vector.values)
