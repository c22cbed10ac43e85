"""Embeddings from an embedding server, so the model can run where the hardware is.

Two request shapes: the OpenAI-compatible `POST {url}/v1/embeddings` (vLLM, Infinity, Ollama,
LocalAI, OpenAI itself) and Hugging Face text-embeddings-inference's `POST {url}/embed`. Texts
go in batches; a timeout, a connection failure, a 429 or a 5xx is retried with backoff (a
Retry-After is honoured up to `MAX_RETRY_AFTER_S`); anything else fails at once.

The model's name, dimension and word pieces still come from its local files (the chunker
counts word pieces, and the index is checked against the model on open without asking the
server); a server answering in another dimension is refused.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Literal

import httpx
import numpy as np

from retrieval.embed import ModelCard, WordPieces, read_model_card
from steward.errors import ConfigError, EmbeddingError
from steward.outbound import OutboundPolicy
from steward.redact import redact_url
from steward.settings import EmbeddingSettings

Api = Literal["openai", "tei"]

# A server asking for a longer pause than this is treated as down for this attempt.
MAX_RETRY_AFTER_S = 10.0
_PATHS: dict[str, str] = {"openai": "/v1/embeddings", "tei": "/embed"}


class ServerEmbedder:
    """`Embedder` over an embedding server; see the module docstring."""

    def __init__(
        self,
        url: str,
        api: Api,
        name: str,
        card: ModelCard,
        *,
        server_model: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        retries: int = 3,
        batch_size: int = 64,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        (outbound or OutboundPolicy()).check(url)
        self.name = name
        self.dimension = card.dimension
        self.max_tokens = card.max_tokens
        self._url = url.rstrip("/")
        self._shown = redact_url(self._url)
        self._api = api
        self._server_model = server_model or name
        self._retries = retries
        self._batch_size = batch_size
        self._pieces = WordPieces(card.path / "tokenizer.json")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # No redirects: a redirect would be a request the outbound policy never checked.
        self._client = httpx.Client(
            base_url=self._url, headers=headers, timeout=timeout_s, follow_redirects=False
        )

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        rows = [
            self._embed_batch(list(texts[start : start + self._batch_size]))
            for start in range(0, len(texts), self._batch_size)
        ]
        vectors = np.concatenate(rows).astype(np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        normalised: np.ndarray = vectors / np.where(norms == 0, 1, norms)  # as the local model
        return normalised

    def embed_query(self, text: str) -> np.ndarray:
        vector: np.ndarray = self.embed_documents([text])[0]
        return vector

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self._pieces.count_tokens(texts)

    def encode_tokens(self, text: str) -> list[int]:
        return self._pieces.encode_tokens(text)

    def close(self) -> None:
        self._client.close()

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        if self._api == "openai":
            body: dict[str, Any] = {"model": self._server_model, "input": texts}
        else:
            body = {"inputs": texts, "normalize": True, "truncate": True}
        answer = self._post(body)
        try:
            if self._api == "openai":
                items = sorted(answer["data"], key=lambda item: int(item["index"]))
                vectors = np.asarray([item["embedding"] for item in items], dtype=np.float32)
            else:
                vectors = np.asarray(answer, dtype=np.float32)
        except (KeyError, TypeError, ValueError) as error:
            raise EmbeddingError(self._shown, f"an answer out of shape ({error})") from None
        if vectors.shape != (len(texts), self.dimension):
            raise EmbeddingError(
                self._shown,
                f"{vectors.shape[0] if vectors.ndim else 0} vectors of "
                f"{vectors.shape[-1] if vectors.ndim > 1 else 0} dimensions for {len(texts)} "
                f"texts; {self.name!r} has {self.dimension}",
            )
        return vectors

    def _post(self, body: dict[str, Any]) -> Any:
        path = _PATHS[self._api]
        reason = ""
        for attempt in range(self._retries + 1):
            pause = min(MAX_RETRY_AFTER_S, 0.25 * 2**attempt)
            try:
                response = self._client.post(path, json=body)
            except httpx.TimeoutException:
                reason = "no answer within the timeout"
            except httpx.TransportError as error:
                reason = f"unreachable ({type(error).__name__})"
            else:
                if response.status_code == 200:
                    try:
                        return response.json()
                    except ValueError:
                        raise EmbeddingError(self._shown, "an answer that is not JSON") from None
                reason = f"answered {response.status_code}"
                if response.status_code != 429 and response.status_code < 500:
                    raise EmbeddingError(self._shown, f"{reason}: {response.text[:200]}")
                asked = response.headers.get("retry-after", "")
                if asked.replace(".", "", 1).isdigit():
                    pause = min(MAX_RETRY_AFTER_S, float(asked))
            if attempt < self._retries:
                time.sleep(pause)
        raise EmbeddingError(self._shown, f"{reason} after {self._retries + 1} attempts")


def open_server_embedder(
    settings: EmbeddingSettings, outbound: OutboundPolicy | None = None
) -> ServerEmbedder:
    """The embedder of `STEWARD_EMBED_BACKEND=openai|tei`."""
    card = read_model_card(settings.model)
    if card is None:
        raise ConfigError(
            f"STEWARD_EMBED_MODEL: {settings.model!r} must be a local model folder (or bundled:) "
            "with a tokenizer.json: its word pieces bound the chunks an embedding server reads"
        )
    if settings.backend == "local" or not settings.url:
        raise ConfigError("STEWARD_EMBED_URL: required when STEWARD_EMBED_BACKEND is a server")
    return ServerEmbedder(
        settings.url,
        settings.backend,
        settings.model,
        card,
        server_model=settings.server_model,
        api_key=settings.api_key.get_secret_value() if settings.api_key else None,
        timeout_s=settings.timeout_s,
        retries=settings.retries,
        batch_size=settings.server_batch_size,
        outbound=outbound,
    )
