"""Embedding ahead: the chunks of each document embedded in a thread while the next ones parse.

An ingest can only chunk for good once every document is parsed (the boilerplate lines are
counted over the whole source), so without this the model would wait for the parser and the
parser for nothing. The thread chunks each parsed document with the boilerplate set the source
had before the run (its best guess), embeds what the cache lacks, and writes the vectors to the
embedding cache. The real pass then finds them there; a document whose boilerplate guess was
wrong is embedded again for its changed chunks only. Nothing but the cache is written, and the
cache is keyed by content, so a run killed at any point resumes as before (with the vectors it
got to already cached).
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from hashlib import sha256

from retrieval.embed import Embedder
from steward.catalog import Catalog

log = logging.getLogger("steward.ingest")

# Texts per call of the model: enough for length-sorted batches to pad little, few enough that
# the last call after parsing ends is short.
GROUP_TEXTS = 128

_DONE = object()

# How often the GIL changes hands while the parser runs beside the model. torch lets go of the
# GIL around each operation of a forward pass and must take it back after it; while the parser
# thread runs Python, each take-back waits up to the interpreter's switch interval (5 ms by
# default). The messy msmarco KB (6,200 pages, MiniLM, one process, two runs): 1.28 x embedding
# its texts alone at 5 ms, 1.16 and 1.21 at 0.5 ms, 1.12 at 0.1 ms (README "Speed").
SWITCH_INTERVAL_S = 0.0001

_switching = threading.Lock()
_switch_users = 0
_switch_before = 0.0


@contextmanager
def short_switch_interval(seconds: float = SWITCH_INTERVAL_S) -> Iterator[None]:
    """The GIL changes hands at most every `seconds` inside the block (process-wide: blocks
    running at once share it; the interval from before comes back when the last one ends)."""
    global _switch_users, _switch_before
    with _switching:
        if _switch_users == 0:
            _switch_before = sys.getswitchinterval()
        _switch_users += 1
        sys.setswitchinterval(min(seconds, sys.getswitchinterval()))
    try:
        yield
    finally:
        with _switching:
            _switch_users -= 1
            if _switch_users == 0:
                sys.setswitchinterval(_switch_before)


class EmbedAhead:
    """Chunk texts submitted per document are embedded into the cache by a background thread.

    `hashes` are the texts this run embedded (the real pass counts them as embedded, not cached).
    """

    def __init__(self, catalog: Catalog, embedder: Embedder) -> None:
        self._catalog = catalog
        self._embedder = embedder
        self._queue: queue.Queue[object] = queue.Queue(maxsize=64)
        self.hashes: set[str] = set()
        self._seen: set[str] = set()
        self._failed = False
        self._thread = threading.Thread(target=self._work, name="steward-embed-ahead", daemon=True)
        self._thread.start()

    def submit(self, chunk: Callable[[], Sequence[str]]) -> None:
        """Embed the texts `chunk()` returns (it runs in the thread: chunking overlaps too)."""
        if not self._failed:
            self._queue.put(chunk)

    def close(self) -> set[str]:
        """Wait for everything submitted; the hashes of the texts embedded."""
        self._queue.put(_DONE)
        self._thread.join()
        return self.hashes

    def _work(self) -> None:
        texts: dict[str, str] = {}
        while (job := self._queue.get()) is not _DONE:
            if self._failed:
                continue  # drained, so the parser never blocks on a full queue
            try:
                for text in job():  # type: ignore[operator]
                    digest = sha256(text.encode()).hexdigest()
                    if digest not in self._seen:
                        self._seen.add(digest)
                        texts[digest] = text
            except Exception:  # the real pass chunks it again and reports what fails
                log.debug("chunking ahead failed", exc_info=True)
            if len(texts) >= GROUP_TEXTS:
                self._embed(texts)
                texts = {}
        if texts:
            self._embed(texts)

    def _embed(self, texts: dict[str, str]) -> None:
        if self._failed:
            return
        try:
            cached = self._catalog.cached_embeddings(self._embedder.name, list(texts))
            missing = [h for h in texts if h not in cached]
            vectors = self._embedder.embed_documents([texts[h] for h in missing])
            self._catalog.cache_embeddings(
                self._embedder.name, dict(zip(missing, vectors, strict=True))
            )
        except Exception:  # the real pass embeds it and fails the run if the model does
            log.warning("embedding ahead failed; the ingest embeds as it goes", exc_info=True)
            self._failed = True
            return
        self.hashes.update(missing)
