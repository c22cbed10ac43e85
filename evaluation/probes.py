"""Label-free probes: known-item queries built from sampled chunks' own words.

Two kinds, half each: a chunk's longest sentence (what dense retrieval must find), and a
chunk's rarest words in the whole index, bare (what exact matching must find: codes, names,
unusual terms). A probe set is a golden set like any other (judged by document id), so probe
runs are stored, compared and checked for regressions the same way; its recall@10 is the
probe hit rate. A broken index, embedding, chunking or fusion shows as probes that no longer
find their own documents.
"""

from __future__ import annotations

import random
import re
from collections import Counter

from evaluation.golden import GoldenQuery, Judgement
from evaluation.runtime import Runtime

PROBE_SET = "probes"
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[^\W_][\w\-.]*[^\W_]")
MAX_WORDS = 20
RARE_WORDS = 3  # words in a rare-term probe
RARE_DOCUMENTS = 2  # a word is rare when at most this many documents hold it


def _probe_text(text: str) -> str | None:
    """The chunk's longest sentence, cut to MAX_WORDS words; None for a chunk without one."""
    sentences = [s.strip() for s in _SENTENCE.split(text) if len(s.split()) >= 5]
    if not sentences:
        return None
    words = max(sentences, key=lambda s: len(s.split())).split()
    return " ".join(words[:MAX_WORDS])


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) >= 4 and not w.isdigit()}


def _rare_text(words: set[str], frequency: Counter[str]) -> str | None:
    """The chunk's RARE_WORDS rarest words (held by few documents), or None without two."""
    rare = sorted(
        (w for w in words if frequency[w] <= RARE_DOCUMENTS), key=lambda w: (frequency[w], w)
    )
    return " ".join(rare[:RARE_WORDS]) if len(rare) >= 2 else None


def build_probes(runtime: Runtime, size: int = 50, seed: int = 0) -> list[GoldenQuery]:
    """`size` probes from chunks sampled over every document: sentences and rare words."""
    chunks = []
    for source in runtime.catalog.sources():
        chunks.extend(sorted(runtime.store.source_chunks(source).items()))
    words_of = {chunk_id: _words(payload.text) for chunk_id, payload in chunks}
    holders: dict[str, set[str]] = {}
    for chunk_id, payload in chunks:
        for word in words_of[chunk_id]:
            holders.setdefault(word, set()).add(payload.doc_id)
    frequency = Counter({word: len(docs) for word, docs in holders.items()})
    random.Random(seed).shuffle(chunks)
    rare_wanted = size // 2
    sentences: list[GoldenQuery] = []
    rare: list[GoldenQuery] = []
    used: set[str] = set()
    for chunk_id, payload in chunks:
        if len(rare) == rare_wanted:
            break
        words = _rare_text(words_of[chunk_id], frequency)
        if words is not None:
            judged = [Judgement(grade=1, doc_id=payload.doc_id)]
            rare.append(GoldenQuery(f"probe-rare-{chunk_id[:8]}", words, judged))
            used.add(chunk_id)
    # Sentences fill the rest, also what rare words could not (a corpus of common words).
    for chunk_id, payload in chunks:
        if len(sentences) + len(rare) == size:
            break
        text = _probe_text(payload.text) if chunk_id not in used else None
        if text is not None:
            judged = [Judgement(grade=1, doc_id=payload.doc_id)]
            sentences.append(GoldenQuery(f"probe-{chunk_id[:8]}", text, judged))
    return sentences + rare
