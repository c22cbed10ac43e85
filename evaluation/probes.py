"""Label-free probes: known-item queries built from sampled chunks' own words.

A probe set is a golden set like any other (judged by document id), so probe runs are stored,
compared and checked for regressions the same way; its recall@10 is the probe hit rate. A
broken index, embedding or chunking shows as probes that no longer find their own documents.
"""

from __future__ import annotations

import random
import re

from evaluation.golden import GoldenQuery, Judgement
from steward.runtime import Runtime

PROBE_SET = "probes"
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
MAX_WORDS = 20


def _probe_text(text: str) -> str | None:
    """The chunk's longest sentence, cut to MAX_WORDS words; None for a chunk without one."""
    sentences = [s.strip() for s in _SENTENCE.split(text) if len(s.split()) >= 5]
    if not sentences:
        return None
    words = max(sentences, key=lambda s: len(s.split())).split()
    return " ".join(words[:MAX_WORDS])


def build_probes(runtime: Runtime, size: int = 50, seed: int = 0) -> list[GoldenQuery]:
    """`size` probes from chunks sampled evenly over every document of the catalog."""
    chunks = []
    for source in runtime.catalog.sources():
        chunks.extend(sorted(runtime.store.source_chunks(source).items()))
    random.Random(seed).shuffle(chunks)
    probes: list[GoldenQuery] = []
    for chunk_id, payload in chunks:
        text = _probe_text(payload.text)
        if text is None:
            continue
        probes.append(
            GoldenQuery(f"probe-{chunk_id[:8]}", text, [Judgement(grade=1, doc_id=payload.doc_id)])
        )
        if len(probes) == size:
            break
    return probes
