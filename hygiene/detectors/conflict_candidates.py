"""The chunk pairs compared for conflicts: chunks alike, chunks of similar documents, and chunks
that name another document's title though worded apart from it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

import numpy as np

from hygiene.corpus import Chunks, Corpus
from hygiene.dedup import words
from hygiene.findings import Findings
from steward.catalog import DocumentRow
from steward.settings import HygieneSettings

# Chunk pairs compared for conflicts per pair of versions, at most.
_VERSION_CHUNK_PAIRS = 400


class ConflictCandidates:
    """Writes `candidates` (pairs of chunk positions) and `topical`, the title-named ones."""

    phase = "chunks"

    def __init__(self, settings: HygieneSettings) -> None:
        self.settings = settings

    def run(self, corpus: Corpus, found: Findings) -> None:
        settings = self.settings
        chunks = corpus.chunks
        position = chunks.position
        of_doc = chunks.of_doc
        # Similar chunks of different documents, and the chunks of similar documents.
        candidates: set[tuple[int, int]] = set()
        for pair in found.chunk_pairs:
            if pair.cosine >= settings.conflict_cosine:
                candidates.add((position[pair.a], position[pair.b]))
        topical = _topic_pairs(corpus.rows, chunks, settings)
        candidates.update(topical)
        for doc_pair in found.document_pairs:
            if doc_pair.jaccard >= 1.0:
                continue
            combos = [(i, j) for i in of_doc[doc_pair.a] for j in of_doc[doc_pair.b]]
            if len(combos) > _VERSION_CHUNK_PAIRS:
                scores = [float(chunks.vectors[i] @ chunks.vectors[j]) for i, j in combos]
                best = np.argsort(scores)[::-1][:_VERSION_CHUNK_PAIRS]
                combos = [combos[int(k)] for k in best]
            candidates.update(combos)
        found.candidates = candidates
        found.topical = topical


# Title words that name a kind of document, or no subject at all.
_GENERIC = frozenset(
    "policy policies guide guidelines process procedure overview handbook notes note page "
    "document information general about manual faq readme index update updates "
    # function words of four letters or more
    "also been before being both could does each from have having here into just many more "
    "most much must only other over same should some such than that their them then there "
    "these they this those through under very were what when where which while will with "
    "within without would your yours after again against because below between during "
    "further once until upon used using".split()
)
# Chunks of other documents that mention a document's title, compared per document, at most.
_TOPIC_PAIRS_PER_DOCUMENT = 30
# A title word found in more chunks than this is the knowledge base's common vocabulary, not a
# name: a chunk counts as a mention only through at least one rarer word of the title. Without
# the bound, two common title words ("average", "water") made every document compare thousands
# of chunks, and the pass grew with the square of the corpus (benchmarks/scale.py).
COMMON_WORD_CHUNKS = 500


def _topic_pairs(
    rows: Mapping[str, DocumentRow], chunks: Chunks, settings: HygieneSettings
) -> set[tuple[int, int]]:
    """Chunk pairs about one subject though worded apart: one names the other's title.

    "The on-call tool is PagerDuty" and "Tier 2 pages the engineering on-call through Opsgenie"
    embed far apart; the second names the first's title ("Engineering On-Call Policy").
    """
    postings: dict[str, set[int]] = defaultdict(set)
    for n, payload in enumerate(chunks.payloads):
        for word in set(words(payload.text)):
            postings[word].add(n)
    of_doc = chunks.of_doc
    found: set[tuple[int, int]] = set()
    for doc_id, row in rows.items():
        terms = sorted({t for t in words(row.title) if len(t) >= 4 and t not in _GENERIC})
        if len(terms) < 2 or not of_doc.get(doc_id):
            continue
        rare = [t for t in terms if len(postings.get(t, ())) <= COMMON_WORD_CHUNKS]
        common = [postings[t] for t in terms if t not in rare]
        hits: dict[int, int] = defaultdict(int)
        for term in rare:
            for n in postings.get(term, ()):
                hits[n] += 1
        needed = min(len(terms), 2)
        mentions = [
            n
            for n, count in hits.items()
            if count + sum(n in posting for posting in common) >= needed
            and chunks.owners[n] != doc_id
        ]
        if not mentions:
            continue
        own = of_doc[doc_id]
        scores = chunks.vectors[own] @ chunks.vectors[mentions].T
        best = [
            (float(scores[r, c]), own[r], mentions[c])
            for r, c in zip(*np.nonzero(scores >= settings.topic_cosine), strict=True)
        ]
        best.sort(reverse=True)
        for _, mine, other in best[:_TOPIC_PAIRS_PER_DOCUMENT]:
            found.add((min(mine, other), max(mine, other)))
    return found
