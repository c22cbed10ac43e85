"""Concurrent queries share the model's passes; a lone query is embedded as before; searches
share the embedded index's lock and a write still holds it alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

from retrieval.embed import SentenceTransformerEmbedder
from retrieval.query_batch import BatchedQueries
from retrieval.read_write_lock import ReadWriteLock

QUERIES = [
    "how long is the refund window",
    "vpn setup on a new laptop",
    "who approves purchases over 10,000 euros",
    "printer on the second floor",
    "parental leave in Germany",
    "password rotation policy",
    "escalation matrix for priority 1 incidents",
    "corporate card limits",
]


def _concurrently(batched: BatchedQueries, texts: list[str]) -> list[np.ndarray]:
    start = threading.Barrier(len(texts))
    found: list[np.ndarray | None] = [None] * len(texts)

    def ask(n: int) -> None:
        start.wait()
        found[n] = batched.embed_query(texts[n])

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(vector is not None for vector in found)
    return [v for v in found if v is not None]


def test_a_lone_query_is_embedded_alone_and_exactly(embedder: SentenceTransformerEmbedder) -> None:
    batched = BatchedQueries(embedder)
    for query in QUERIES[:3]:
        assert np.array_equal(batched.embed_query(query), embedder.embed_query(query))
    assert batched.passes == 3


def test_concurrent_queries_share_passes_and_get_their_own_vectors(
    embedder: SentenceTransformerEmbedder,
) -> None:
    batched = BatchedQueries(embedder)
    texts = QUERIES * 3
    found = _concurrently(batched, texts)
    assert batched.passes < len(texts) // 2, batched.passes
    for text, vector in zip(texts, found, strict=True):
        # Batched with others (padding) the floats may differ in the last places only.
        assert np.allclose(vector, embedder.embed_query(text), atol=1e-5)


class _Failing:
    """An embedder whose model fails on one text: every query of that pass hears of it."""

    name, dimension, max_tokens = "test:failing", 4, 16

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        time.sleep(0.05)  # long enough for the other threads to queue behind the first pass
        if any("fail" in text for text in texts):
            raise RuntimeError("model failed")
        return np.ones((len(texts), self.dimension), dtype=np.float32)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) for t in texts]

    def encode_tokens(self, text: str) -> list[int]:
        return [len(w) for w in text.split()]


def test_a_failing_pass_fails_its_callers_and_the_next_pass_runs() -> None:
    batched = BatchedQueries(_Failing())
    with pytest.raises(RuntimeError, match="model failed"):
        batched.embed_query("fail now")
    assert batched.embed_query("fine").shape == (4,)
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def ask(text: str) -> None:
        start.wait()
        try:
            batched.embed_query(text)
        except RuntimeError as error:
            errors.append(error)

    threads = [threading.Thread(target=ask, args=(t,)) for t in ["a", "b", "fail", "c", "d", "e"]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors  # the callers in the pass that held "fail"
    assert batched.embed_query("after") is not None


class _ThreadNoting(_Failing):
    """An embedder that notes which thread ran each of its passes."""

    def __init__(self) -> None:
        self.threads: list[int] = []

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.threads.append(threading.get_ident())
        return super().embed_documents(texts)


def test_every_pass_runs_on_the_models_own_thread_whichever_thread_asks() -> None:
    # torch keeps a worker pool per calling thread: request threads taking turns made a query
    # cost 8.6 ms instead of 5.4 (retrieval/query_batch.py).
    inner = _ThreadNoting()
    batched = BatchedQueries(inner)
    callers: list[int] = []

    def ask(text: str) -> None:
        callers.append(threading.get_ident())
        batched.embed_query(text)

    for text in ("one", "two", "three"):  # one after another, each from a thread of its own
        thread = threading.Thread(target=ask, args=(text,))
        thread.start()
        thread.join(timeout=30)
    _concurrently(batched, QUERIES)  # and batches
    batched.close()
    assert len(set(inner.threads)) == 1
    assert not set(inner.threads) & set(callers)
    assert threading.main_thread().ident not in inner.threads


def test_readers_share_the_lock_and_a_writer_holds_it_alone() -> None:
    lock = ReadWriteLock()
    both_in = threading.Barrier(2, timeout=5)
    order: list[str] = []

    def reader(name: str) -> None:
        with lock.reading():
            both_in.wait()  # fails (BrokenBarrierError) unless two readers are in at once
            time.sleep(0.05)
            order.append(f"{name} out")

    def writer() -> None:
        time.sleep(0.01)
        with lock.writing():
            order.append("writer in")

    threads = [
        threading.Thread(target=reader, args=("r1",)),
        threading.Thread(target=reader, args=("r2",)),
        threading.Thread(target=writer),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert order[-1] == "writer in"  # it waited for both readers
    assert sorted(order[:2]) == ["r1 out", "r2 out"]
