"""Clusters of copies with one canonical member each; superseded editions pointed at the
canonical copy of their successor.

The canonical member is chosen by `canonical_rank`: not deprecated, then verified, then the
source's `priority` in steward.yaml, then not superseded, then not expired, then not filed as a
copy (a path through archive/, exports/, "copy", "print"...), then the most recently updated,
then the shortest path.
"""

from __future__ import annotations

from typing import Any

from hygiene.corpus import Corpus
from hygiene.dedup import jaccard
from hygiene.findings import DuplicateCluster, Findings, pair_key
from hygiene.review import copy_marked
from steward.domain import ReviewState


def canonical_rank(corpus: Corpus, found: Findings, doc_id: str) -> tuple[Any, ...]:
    """The order among copies, highest first; reads `found.superseded` as it stands."""
    row = corpus.rows[doc_id]
    state = found.states[doc_id]
    return (
        state is not ReviewState.DEPRECATED,
        state is ReviewState.VERIFIED,
        int(corpus.configs[row.source].get("priority") or 0),
        doc_id not in found.superseded,
        state is not ReviewState.EXPIRED,
        not copy_marked(row.key),
        row.updated_at,
        -len(row.key),
        row.key,
    )


class Clusters:
    """Writes `clusters`, `duplicate_of` and `canonical_of`; rewrites `superseded`."""

    phase = "classify"

    def run(self, corpus: Corpus, found: Findings) -> None:
        rows, sets = corpus.rows, found.shingles
        similarity = {pair_key(p.a, p.b): p.jaccard for p in found.document_pairs}
        clusters: list[DuplicateCluster] = []
        for members in found.copy_groups:
            canonical = max(members, key=lambda doc_id: canonical_rank(corpus, found, doc_id))
            listed = []
            for member in sorted(members):
                if member == canonical:
                    continue
                jac = similarity.get(pair_key(member, canonical))
                if jac is None:  # joined through a third copy
                    jac = jaccard(sets[member], sets[canonical])
                listed.append((member, round(jac, 4)))
                found.duplicate_of[member] = (canonical, jac)
            for member in members:
                found.canonical_of[member] = canonical
            clusters.append(DuplicateCluster(canonical, listed))
        clusters.sort(key=lambda c: (-len(c.members), rows[c.canonical].key))
        found.clusters = clusters
        # A version is superseded by the canonical copy of its successor.
        # (never by one older than itself, which could make two editions supersede each other).
        canonical_of = found.canonical_of
        found.superseded = {
            old: canonical_of.get(new, new)
            for old, new in found.superseded.items()
            if canonical_of.get(new, new) != canonical_of.get(old, old)
            and rows[canonical_of.get(new, new)].updated_at > rows[old].updated_at
        }
