"""The embedding-server backend against a real local server that serves the bundled MiniLM, in
both request shapes: same vectors as the model here, batches, retries, timeouts, refusals."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.runtime import open_runtime
from connectors.filesystem import FilesystemConnector
from retrieval.embed import SentenceTransformerEmbedder, read_model_card
from retrieval.server_embed import ServerEmbedder
from steward.errors import EmbeddingError, OutboundError
from steward.outbound import OutboundPolicy

MODEL = "bundled:all-MiniLM-L6-v2"
LOCAL = OutboundPolicy.of(allow_private=True)
TEXTS = [f"passage {n}: the pump on floor {n} is serviced every spring" for n in range(7)]


class _Server:
    """What the server does next: fail some requests, stall, or answer in another size."""

    def __init__(self, model: SentenceTransformerEmbedder) -> None:
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.fail_next: list[int] = []  # status codes to answer the next requests with
        self.stall_s = 0.0
        self.truncate_to: int | None = None

    def _vectors(self, texts: list[str]) -> list[list[float]]:
        vectors = self.model.embed_documents(texts)
        if self.truncate_to:
            vectors = vectors[:, : self.truncate_to]
        return vectors.tolist()

    async def _answer(self, request: Request, shape: str) -> JSONResponse:
        body = await request.json()
        self.requests.append({"path": request.url.path, **body})
        if self.stall_s:
            await asyncio.sleep(self.stall_s)
        if self.fail_next:
            code = self.fail_next.pop(0)
            return JSONResponse({"error": "busy"}, status_code=code, headers={"Retry-After": "0"})
        if shape == "openai":
            vectors = self._vectors(body["input"])
            data = [
                {"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)
            ]
            data.reverse()  # the index, not the order, says which text a vector is for
            return JSONResponse({"object": "list", "data": data, "model": body["model"]})
        return JSONResponse(self._vectors(body["inputs"]))

    def app(self) -> Starlette:
        async def openai(request: Request) -> JSONResponse:
            return await self._answer(request, "openai")

        async def tei(request: Request) -> JSONResponse:
            return await self._answer(request, "tei")

        return Starlette(
            routes=[
                Route("/v1/embeddings", openai, methods=["POST"]),
                Route("/embed", tei, methods=["POST"]),
            ]
        )


@pytest.fixture
def server(embedder: SentenceTransformerEmbedder, serve_app: Any) -> Iterator[tuple[_Server, str]]:
    state = _Server(embedder)
    with serve_app(state.app()) as url:
        yield state, url


_opened: list[ServerEmbedder] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().close()


def _client(url: str, api: str, **options: Any) -> ServerEmbedder:
    card = read_model_card(MODEL)
    assert card is not None
    options.setdefault("outbound", LOCAL)
    client = ServerEmbedder(url, api, MODEL, card, **options)  # type: ignore[arg-type]
    _opened.append(client)
    return client


@pytest.mark.parametrize("api", ["openai", "tei"])
def test_the_server_embeds_as_the_model_here_in_batches(
    server: tuple[_Server, str], embedder: SentenceTransformerEmbedder, api: str
) -> None:
    state, url = server
    remote = _client(url, api, batch_size=3)
    found = remote.embed_documents(TEXTS)
    assert found.shape == (7, 384)
    assert np.allclose(found, embedder.embed_documents(TEXTS), atol=1e-5)
    assert np.allclose(remote.embed_query("pump"), embedder.embed_query("pump"), atol=1e-5)
    assert [len(r.get("input") or r.get("inputs")) for r in state.requests] == [3, 3, 1, 1]
    assert remote.count_tokens(TEXTS) == embedder.count_tokens(TEXTS)
    assert (remote.name, remote.dimension, remote.max_tokens) == (
        embedder.name,
        embedder.dimension,
        embedder.max_tokens,
    )


def test_busy_answers_are_retried_and_then_given_up(server: tuple[_Server, str]) -> None:
    state, url = server
    remote = _client(url, "openai", retries=2)
    state.fail_next = [503, 429]
    assert remote.embed_query("pump").shape == (384,)
    assert len(state.requests) == 3
    state.fail_next = [502, 503, 500]
    with pytest.raises(EmbeddingError, match="answered 500 after 3 attempts"):
        remote.embed_query("pump")


def test_a_refusal_is_not_retried(server: tuple[_Server, str]) -> None:
    state, url = server
    remote = _client(url, "tei", retries=3)
    state.fail_next = [400]
    with pytest.raises(EmbeddingError, match="answered 400"):
        remote.embed_query("pump")
    assert len(state.requests) == 1


def test_a_stalled_server_times_out(server: tuple[_Server, str]) -> None:
    state, url = server
    state.stall_s = 1.0
    remote = _client(url, "openai", timeout_s=0.2, retries=1)
    with pytest.raises(EmbeddingError, match="no answer within the timeout"):
        remote.embed_query("pump")


def test_vectors_of_another_dimension_are_refused(server: tuple[_Server, str]) -> None:
    state, url = server
    state.truncate_to = 128
    with pytest.raises(EmbeddingError, match="384"):
        _client(url, "tei").embed_documents(TEXTS[:2])


def test_a_private_server_needs_the_operators_leave(server: tuple[_Server, str]) -> None:
    _, url = server
    with pytest.raises(OutboundError):
        _client(url, "openai", outbound=OutboundPolicy())


def test_a_home_ingests_and_answers_through_the_server(
    server: tuple[_Server, str],
    embedder: SentenceTransformerEmbedder,
    make_settings: Callable[..., Any],
    tmp_path: Path,
) -> None:
    state, url = server
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "pumps.md").write_text("# Pumps\n\nPumps are serviced every spring.\n")
    (folder / "vpn.md").write_text("# VPN\n\nInstall the client, then sign in with SSO.\n")
    # The index is built here with the local model; the server serves the same one.
    local = open_runtime(make_settings(tmp_path), embedder=embedder)
    local.pipeline.run(FilesystemConnector(folder, "kb"))
    local.close()
    settings = make_settings(
        tmp_path,
        embedding={"backend": "openai", "url": url},
        outbound={"allow_private": True},
    )
    remote = open_runtime(settings)
    try:
        hits = remote.retriever.retrieve("when are pumps serviced", 1, "dense").hits
        assert hits[0].payload.source_uri.endswith("pumps.md")
        assert state.requests and state.requests[-1]["model"] == MODEL
    finally:
        remote.close()
