"""Shared fixtures: settings in tmp dirs, the real model once per session, a live HTTP server,
a deterministic embedder for pipeline logic, and writers for every supported file format."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uvicorn
import yaml
from fastapi import FastAPI, Request, Response
from pydantic_settings import BaseSettings

from app.runtime import Runtime, open_runtime
from retrieval.embed import SentenceTransformerEmbedder
from steward.settings import (
    ApiSettings,
    CatalogSettings,
    EmbeddingSettings,
    EvaluationSettings,
    HomeSettings,
    HygieneSettings,
    IndexSettings,
    IngestSettings,
    JobsSettings,
    OutboundSettings,
    RetrievalSettings,
    Settings,
    WebhookSettings,
)

MODEL = "bundled:all-MiniLM-L6-v2"


# -- environment ---------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _no_steward_env() -> Iterator[None]:
    """A developer's STEWARD_* variables must not leak into settings built by the tests."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("STEWARD_"):
                patch.delenv(name)
        yield


# -- settings and runtimes -----------------------------------------------------------------

_CONCERNS: dict[str, type[BaseSettings]] = {
    "catalog": CatalogSettings,
    "embedding": EmbeddingSettings,
    "ingest": IngestSettings,
    "index": IndexSettings,
    "retrieval": RetrievalSettings,
    "hygiene": HygieneSettings,
    "evaluation": EvaluationSettings,
    "jobs": JobsSettings,
    "api": ApiSettings,
    "outbound": OutboundSettings,
    "webhook": WebhookSettings,
}


def build_settings(root: Path, **overrides: Any) -> Settings:
    """Settings with their home in `root/"home"`; an override is a settings object or a dict."""
    parts: dict[str, Any] = {
        "home": HomeSettings(home=root / "home", sources_file=root / "steward.yaml")
    }
    for concern, value in overrides.items():
        if concern == "home":
            parts["home"] = value if isinstance(value, HomeSettings) else HomeSettings(home=value)
        elif isinstance(value, dict):
            parts[concern] = _CONCERNS[concern](**value)
        else:
            parts[concern] = value
    return Settings(**parts)


@pytest.fixture(scope="session")
def make_settings() -> Callable[..., Settings]:
    """`make_settings(tmp_path, ingest={"batch_documents": 5})` and the like."""
    return build_settings


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The real model, loaded once for the whole session."""
    return SentenceTransformerEmbedder(MODEL)


class HashEmbedder:
    """A deterministic bag-of-words embedder: hashed words into 64 dims, whitespace tokens.

    A real implementation of the `Embedder` protocol for tests where the model is irrelevant
    (change detection, pruning, crash safety); it loads nothing and never varies between runs.
    """

    name = "test:hash-bow-64"
    dimension = 64
    max_tokens = 254

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dimension, dtype=np.float32)
        for word in re.findall(r"\w+", text.casefold()):
            slot = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
            vector[slot % self.dimension] += 1.0
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        rows = [self._vector(text) for text in texts]
        return np.asarray(rows, dtype=np.float32).reshape(len(rows), self.dimension)

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(text.split()) for text in texts]

    def encode_tokens(self, text: str) -> list[int]:
        return [len(word) for word in text.split()]


@pytest.fixture(scope="session")
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def open_home(tmp_path: Path) -> Iterator[Callable[..., Runtime]]:
    """Open runtimes on named homes below tmp_path; every one is closed at teardown.

    `open_home("a", embedder, ingest={...})` opens `tmp_path/"a"/"home"`.
    """
    opened: list[Runtime] = []

    def open_(name: str, model: Any, **overrides: Any) -> Runtime:
        live = open_runtime(build_settings(tmp_path / name, **overrides), embedder=model)
        opened.append(live)
        return live

    yield open_
    for live in reversed(opened):
        live.close()


@pytest.fixture
def runtime(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[Runtime]:
    """A runtime on the embedded (edge) backend with the real model, in a fresh home."""
    live = open_runtime(build_settings(tmp_path), embedder=embedder)
    yield live
    live.close()


# -- a real HTTP server --------------------------------------------------------------------


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run `app` under uvicorn in a thread on a free 127.0.0.1 port; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        assert not thread.is_alive(), "the test server did not shut down"


@pytest.fixture(scope="session")
def serve_app() -> Callable[[Any], Any]:
    """The `serve` context manager, for module-scoped servers."""
    return serve


@pytest.fixture(scope="module")
def base_url(kb: Runtime) -> Iterator[str]:
    """The module's own `kb` runtime served over real HTTP (a module may define its own)."""
    from api.app import create_app

    with serve(create_app(kb.settings, kb)) as url:
        yield url


@pytest.fixture
def live_server(runtime: Runtime) -> Iterator[str]:
    """The API over the function-scoped `runtime`, served over real HTTP."""
    from api.app import create_app

    with serve(create_app(runtime.settings, runtime)) as url:
        yield url


@pytest.fixture(scope="module")
def sample_kb(
    tmp_path_factory: pytest.TempPathFactory, hash_embedder: Any, make_settings: Any
) -> Iterator[Runtime]:
    """The sample knowledge base ingested and scanned (tests/steward_kb.py), one per module."""
    from steward_kb import sample_runtime

    runtime = sample_runtime(tmp_path_factory.mktemp("sample-kb"), hash_embedder, make_settings)
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def sample_url(sample_kb: Runtime) -> Iterator[str]:
    """`sample_kb` served over real HTTP, access control off."""
    from api.app import create_app

    with serve(create_app(sample_kb.settings, sample_kb)) as url:
        yield url


# -- documents of every format -------------------------------------------------------------

Sections = Sequence[tuple[str, str]]  # (heading, paragraph text; blank lines split paragraphs)


class DocumentWriter:
    """Writes test documents in each supported format; every method returns the path."""

    def markdown(
        self,
        path: Path,
        body: str,
        *,
        title: str | None = None,
        owner: str | None = None,
        review_by: str | None = None,
        tags: list[str] | None = None,
        acl: list[str] | None = None,
        updated: str | None = None,
    ) -> Path:
        front = {
            key: value
            for key, value in {
                "title": title,
                "owner": owner,
                "review_by": review_by,
                "tags": tags,
                "acl": acl,
                "updated": updated,
            }.items()
            if value is not None
        }
        head = f"---\n{yaml.safe_dump(front, sort_keys=False)}---\n\n" if front else ""
        return self._write(path, (head + body).encode("utf-8"))

    def markdown_sections(self, path: Path, title: str, sections: Sections, **front: Any) -> Path:
        body = f"# {title}\n\n" + "".join(f"## {h}\n\n{text}\n\n" for h, text in sections)
        return self.markdown(path, body, **front)

    def text(self, path: Path, text: str, encoding: str = "utf-8") -> Path:
        return self._write(path, text.encode(encoding))

    def html(self, path: Path, title: str, sections: Sections) -> Path:
        parts = [f"<html><head><title>{title}</title></head><body><h1>{title}</h1>"]
        for heading, text in sections:
            parts.append(f"<h2>{heading}</h2>")
            parts.extend(f"<p>{para}</p>" for para in text.split("\n\n"))
        parts.append("</body></html>")
        return self._write(path, "\n".join(parts).encode("utf-8"))

    def docx(self, path: Path, title: str, sections: Sections) -> Path:
        import docx

        document = docx.Document()
        document.add_heading(title, 0)
        for heading, text in sections:
            document.add_heading(heading, 1)
            for para in text.split("\n\n"):
                document.add_paragraph(para)
        path.parent.mkdir(parents=True, exist_ok=True)
        document.save(str(path))
        return path

    def pdf(
        self, path: Path, title: str, sections: Sections, page_per_section: bool = True
    ) -> Path:
        """Helvetica, ASCII only; the title and headings in larger bold type."""
        from fpdf import FPDF
        from fpdf.enums import XPos, YPos

        pdf = FPDF()
        pdf.add_page()
        pdf.set_font("helvetica", "B", 20)
        pdf.cell(0, 12, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(8)
        for number, (heading, text) in enumerate(sections):
            if number and page_per_section:
                pdf.add_page()
            pdf.set_font("helvetica", "B", 15)
            pdf.cell(0, 10, heading, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(6)
            pdf.set_font("helvetica", "", 11)
            for para in text.split("\n\n"):
                pdf.multi_cell(0, 6, para, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
                pdf.ln(6)
        return self._write(path, bytes(pdf.output()))

    @staticmethod
    def _write(path: Path, data: bytes) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path


@pytest.fixture(scope="session")
def write() -> DocumentWriter:
    return DocumentWriter()


# -- PostgreSQL ----------------------------------------------------------------------------

POSTGRES_ADMIN = os.environ.get(
    "STEWARD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty database on the machine's PostgreSQL, dropped afterwards."""
    import uuid

    import psycopg

    name = f"steward_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- a webhook receiver ----------------------------------------------------------------------


class WebhookReceiver:
    """A real HTTP endpoint at `url` that records every POST (headers, raw body) and answers
    with the statuses queued in `statuses`, in order (200 once they run out)."""

    def __init__(self) -> None:
        self.url = ""
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        self.delay_s = 0.0
        self._arrived = threading.Condition()

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            body = await request.body()
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            with self._arrived:
                self.received.append(({k.lower(): v for k, v in request.headers.items()}, body))
                status = self.statuses.pop(0) if self.statuses else 200
                self._arrived.notify_all()
            return Response(status_code=status)

        return app

    def wait_for(self, count: int, timeout: float = 30.0) -> list[tuple[dict[str, str], bytes]]:
        """The first `count` requests, once they have arrived (an AssertionError after timeout)."""
        with self._arrived:
            arrived = self._arrived.wait_for(lambda: len(self.received) >= count, timeout)
        assert arrived, f"{len(self.received)} of {count} webhook requests arrived"
        return self.received[:count]

    def events(self) -> list[str]:
        return [headers["x-steward-event"] for headers, _ in self.received]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A webhook receiver served over real HTTP; POST to `receiver.url`."""
    found = WebhookReceiver()
    with serve(found.app()) as base:
        found.url = f"{base}/hook"
        yield found
