"""Query embeddings batched across concurrent requests.

One forward pass of the model for 8 queries costs far less than 8 passes of one, and the API
answers each request in a thread of its own. `BatchedQueries` lets the queries that arrive while
the model is busy wait for it and then go through it together: the wait of a query is bounded
by the one pass in flight (never a timer), and a query that finds the model idle is embedded at
once, alone, exactly as without batching.

Every pass runs on one thread of its own. torch keeps a pool of worker threads for each thread
that calls it, and the API's request threads take turns: a query embedded by whichever request
thread came first took 8.6 ms where the same model on one thread took 5.4 ms (MiniLM, this
2-core machine; 2 to 4 threads taking turns alike).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from retrieval.embed import Embedder

# Queries per pass: past this, a batch pads more than it saves on 2 CPU cores.
MAX_BATCH = 32


@dataclass(slots=True)
class _Waiting:
    text: str
    vector: np.ndarray | None = None
    error: BaseException | None = None


class BatchedQueries:
    """`Embedder` over another whose `embed_query` calls from concurrent threads share passes;
    everything else goes straight through."""

    def __init__(self, embedder: Embedder, max_batch: int = MAX_BATCH) -> None:
        self.inner = embedder
        self.name = embedder.name
        self.dimension = embedder.dimension
        self.max_tokens = embedder.max_tokens
        self._max_batch = max_batch
        self._changed = threading.Condition()
        self._queue: list[_Waiting] = []
        self._busy = False
        self.passes = 0  # model calls made for queries (batches), for tests and metrics
        self._model_thread = ThreadPoolExecutor(1, thread_name_prefix="steward-query-embed")

    def embed_query(self, text: str) -> np.ndarray:
        mine = _Waiting(text)
        with self._changed:
            self._queue.append(mine)
        while True:
            with self._changed:
                while mine.vector is None and mine.error is None and self._busy:
                    self._changed.wait()
                if mine.vector is not None:
                    return mine.vector
                if mine.error is not None:
                    raise mine.error
                # The model is idle: this thread embeds the oldest queries, its own among them
                # unless a full batch stands before it (then it goes round again).
                self._busy = True
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
            self._run(batch)

    def _run(self, batch: list[_Waiting]) -> None:
        vectors: list[np.ndarray] = []
        failed: BaseException | None = None
        try:
            vectors = self._model_thread.submit(self._pass, [w.text for w in batch]).result()
        except BaseException as error:  # every waiting caller hears of it, then it is gone
            failed = error
        with self._changed:
            for n, waiting in enumerate(batch):
                if failed is not None:
                    waiting.error = failed
                else:
                    waiting.vector = vectors[n]
            self.passes += 1
            self._busy = False
            self._changed.notify_all()

    def _pass(self, texts: list[str]) -> list[np.ndarray]:
        """One model call for a batch of queries (on the model's thread)."""
        if len(texts) == 1:
            return [self.inner.embed_query(texts[0])]  # alone: as unbatched
        # A query is embedded as a document is (the bundled MiniLM has no query prompt).
        return list(self.inner.embed_documents(texts))

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_documents(texts)

    def close(self) -> None:
        """Close the inner embedder when it holds something (a server embedder's connections)."""
        self._model_thread.shutdown(wait=False)
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def encode_tokens(self, text: str) -> list[int]:
        return self.inner.encode_tokens(text)
