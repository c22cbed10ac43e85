"""A hashing embedder for benchmarks whose figure is not about the model: each word hashed into
one of `dimension` slots, the counts normalised. Deterministic, no weights, thousands of pages a
second; retrieval quality with it means nothing, so a table that uses it says so."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

_WORD = re.compile(r"\w+")


class WordHashEmbedder:
    """Hashed bag of words (the `Embedder` protocol's methods, nothing loaded)."""

    max_tokens = 254

    def __init__(self, dimension: int = 64) -> None:
        self.dimension = dimension
        self.name = f"bench:word-hash-{dimension}"

    def _vector(self, text: str) -> Any:
        vector = np.zeros(self.dimension, dtype=np.float32)
        for word in _WORD.findall(text.casefold()):
            slot = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
            vector[slot % self.dimension] += 1.0
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def embed_documents(self, texts: Sequence[str]) -> Any:
        rows = [self._vector(text) for text in texts]
        return np.asarray(rows, dtype=np.float32).reshape(len(rows), self.dimension)

    def embed_query(self, text: str) -> Any:
        return self._vector(text)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(text.split()) for text in texts]

    def encode_tokens(self, text: str) -> list[int]:
        return [len(word) for word in text.split()]
