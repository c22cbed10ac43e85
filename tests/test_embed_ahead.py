"""Embedding ahead while parsing: the model works beside the parser, the summary counts as
before, and the index is the one the boilerplate of the whole source decides."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from connectors.filesystem import FilesystemConnector
from steward.domain import SearchFilters

FOOTER = "Facilities handbook, internal edition."
ALL = SearchFilters(sources=("kb",))


class _Watched:
    """The hash embedder, noting which thread embedded how many texts."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name, self.dimension, self.max_tokens = inner.name, inner.dimension, inner.max_tokens
        self.calls: list[tuple[str, int]] = []

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append((threading.current_thread().name, len(texts)))
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def encode_tokens(self, text: str) -> list[int]:
        return self.inner.encode_tokens(text)


def _corpus(folder: Path, count: int) -> None:
    folder.mkdir(parents=True)
    for n in range(count):
        body = " ".join(f"Step {k} of page {n} checks the valve {n * 7 + k}." for k in range(6))
        (folder / f"page-{n:03d}.md").write_text(f"# Page {n}\n\n{body}\n\n{FOOTER}\n")


def test_chunks_are_embedded_beside_the_parser_and_counted_once(
    open_home, hash_embedder, tmp_path: Path
) -> None:
    _corpus(tmp_path / "kb", 40)
    watched = _Watched(hash_embedder)
    live = open_home("a", watched)
    summary = live.pipeline.run(FilesystemConnector(tmp_path / "kb", "kb"))
    assert summary.status == "ok", summary.error
    ahead = sum(n for thread, n in watched.calls if thread == "steward-embed-ahead")
    assert ahead >= summary.chunks_embedded // 2  # most of the work went beside the parser
    assert (summary.new, summary.chunks_cached) == (40, 0)
    assert summary.chunks_embedded == summary.chunks == 40
    # The footer repeats in every page: boilerplate, stripped from every chunk, even from the
    # pages embedded ahead before it had been seen three times.
    assert summary.boilerplate_lines_removed == 40
    texts = [p["text"] for p in live.store.payloads(ALL).values()]
    assert len(texts) == 40 and not any(FOOTER in text for text in texts)


def test_the_index_equals_one_built_without_embedding_ahead(
    open_home, hash_embedder, tmp_path: Path
) -> None:
    """A second home ingests the same pages one at a time (nothing to overlap): same points."""
    _corpus(tmp_path / "kb", 12)
    together = open_home("a", hash_embedder, ingest={"batch_documents": 512})
    together.pipeline.run(FilesystemConnector(tmp_path / "kb", "kb"))
    apart = open_home("b", hash_embedder, ingest={"batch_documents": 1})
    apart.pipeline.run(FilesystemConnector(tmp_path / "kb", "kb"))
    assert together.store.payloads(ALL).keys() == apart.store.payloads(ALL).keys()


def test_the_gil_changes_hands_often_while_the_parser_runs_beside_the_model(
    open_home, hash_embedder, tmp_path: Path
) -> None:
    import sys

    from ingest.ahead import SWITCH_INTERVAL_S

    seen: list[float] = []

    class Noting(_Watched):
        def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
            if threading.current_thread().name == "steward-embed-ahead":
                seen.append(sys.getswitchinterval())
            return super().embed_documents(texts)

    _corpus(tmp_path / "kb", 10)
    before = sys.getswitchinterval()
    live = open_home("a", Noting(hash_embedder))
    assert live.pipeline.run(FilesystemConnector(tmp_path / "kb", "kb")).status == "ok"
    assert seen and all(s == pytest.approx(SWITCH_INTERVAL_S) for s in seen)
    assert sys.getswitchinterval() == before  # given back after the run


def test_the_short_switch_interval_is_shared_and_given_back_by_the_last_block() -> None:
    import sys

    from ingest.ahead import short_switch_interval

    before = sys.getswitchinterval()
    outer = short_switch_interval(0.001)
    outer.__enter__()
    with short_switch_interval(0.002):
        assert sys.getswitchinterval() == pytest.approx(0.001)  # never longer than the outer one
    assert sys.getswitchinterval() == pytest.approx(0.001)  # the outer block still runs
    outer.__exit__(None, None, None)
    assert sys.getswitchinterval() == before
