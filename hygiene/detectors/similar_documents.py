"""Pairs of documents worth reading as copies or editions: shingle Jaccard by MinHash LSH, and
documents that share a title or file stem though most of their sentences changed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from hygiene.corpus import Corpus
from hygiene.dedup import (
    SimilarPair,
    boilerplate_lines,
    jaccard,
    shingles,
    similar_sets,
    without_lines,
)
from hygiene.findings import Findings
from hygiene.review import distinct_subjects, named_apart, stem, subject
from steward.catalog import DocumentRow
from steward.settings import HygieneSettings

# Above this many documents, a title or stem is generic ("README", "index"), not a subject.
_MAX_SUBJECT_GROUP = 20


class SimilarDocuments:
    """Writes `shingles` (each document's, made once) and `document_pairs`."""

    phase = "documents"

    def __init__(self, settings: HygieneSettings) -> None:
        self.settings = settings

    def run(self, corpus: Corpus, found: Findings) -> None:
        settings = self.settings
        # Each document's shingles, made once: LSH, same-subject pairs, containment, clusters.
        # Headers and footers repeated across pages are set aside first, or a one-sentence page
        # and its copy wrapped in an export's boilerplate would share too little to be copies.
        common = boilerplate_lines(corpus.texts)
        sets = {
            doc_id: shingles(without_lines(text, common), settings.shingle_words)
            for doc_id, text in corpus.texts.items()
        }
        pairs = similar_sets(sets, settings.permutations, settings.version_jaccard)
        pairs += _same_subject_pairs(
            corpus.rows, corpus.texts, sets, {(p.a, p.b) for p in pairs}, settings
        )
        found.shingles = sets
        found.document_pairs = pairs


def _same_subject_pairs(
    rows: Mapping[str, DocumentRow],
    texts: Mapping[str, str],
    sets: Mapping[str, set[str]],
    known: set[tuple[str, str]],
    settings: HygieneSettings,
) -> list[SimilarPair]:
    """Documents sharing a title or file stem that overlap less than `version_jaccard`.

    A rewrite of a page keeps its name long after most of its sentences changed; such pairs
    are editions when they still share `subject_jaccard` of their shingles.
    """
    groups: dict[str, set[str]] = defaultdict(set)
    for doc_id, row in rows.items():
        for name in (subject(row.title), subject(stem(row.key))):
            if name:
                groups[name].add(doc_id)
    found: list[SimilarPair] = []
    for members in groups.values():
        if len(members) < 2 or len(members) > _MAX_SUBJECT_GROUP:
            continue
        ordered = sorted(members)
        for n, a in enumerate(ordered):
            for b in ordered[n + 1 :]:
                if (a, b) in known or rows[a].updated_at == rows[b].updated_at:
                    continue
                known.add((a, b))
                value = jaccard(sets[a], sets[b])
                floor = settings.subject_jaccard
                if named_apart(rows[a], rows[b]):
                    if distinct_subjects(rows[a], rows[b], texts[a], texts[b]):
                        continue
                    floor = settings.named_edition_jaccard
                if value >= floor:
                    found.append(SimilarPair(a, b, value))
    return found
