"""What each pair of similar documents is: copies, editions of one another, or neither.

- they state different values for the same thing (a conflict): two editions of one text, never
  copies; the older is *superseded* by the newer when they share a subject (title or file stem
  without edition words) and their timestamps differ;
- otherwise, Jaccard at least `duplicate_jaccard`, or one text (nearly) contained in the other
  (a copy wrapped in boilerplate): *copies*, one group, unless an owner marked the pair
  "not a duplicate";
- otherwise, with a shared subject and different timestamps, and either Jaccard at least
  `version_jaccard` or a file name that marks one page as an edition of the other
  (`marked_edition`): the older is superseded;
- otherwise: related documents, left alone.
"""

from __future__ import annotations

from collections import defaultdict
from difflib import SequenceMatcher

from hygiene.corpus import Corpus
from hygiene.dedup import words
from hygiene.findings import Findings, pair_key
from hygiene.review import distinct_subjects, marked_edition, named_apart, same_subject
from steward.settings import HygieneSettings

# One text nearly inside the other: a copy wrapped in headers, footers or navigation...
CONTAINMENT = 0.9
# ...and at least this share of the other's size: a passage quoted inside a page twice its
# length is related to it, not a copy of it.
MIN_SIZE_RATIO = 0.6


class CopiesAndEditions:
    """Writes `copy_groups` (two or more copies each) and `superseded` (old -> newest edition)."""

    phase = "classify"

    def __init__(self, settings: HygieneSettings) -> None:
        self.settings = settings

    def run(self, corpus: Corpus, found: Findings) -> None:
        settings = self.settings
        rows, texts, sets, distinct = corpus.rows, corpus.texts, found.shingles, corpus.distinct
        parent = {doc_id: doc_id for doc_id in rows}
        group_of: dict[str, set[str]] = {doc_id: {doc_id} for doc_id in rows}

        def root(doc_id: str) -> str:
            while parent[doc_id] != doc_id:
                parent[doc_id] = parent[parent[doc_id]]
                doc_id = parent[doc_id]
            return doc_id

        newer_versions: dict[str, list[str]] = defaultdict(list)
        for doc_pair in found.document_pairs:
            a, b = rows[doc_pair.a], rows[doc_pair.b]
            key = pair_key(a.doc_id, b.doc_id)
            copies = False
            if key not in found.contradicting and key not in distinct:
                copies = doc_pair.jaccard >= settings.duplicate_jaccard
                if not copies:
                    small, large = sorted((sets[key[0]], sets[key[1]]), key=len)
                    shared = len(small & large) / max(1, len(small))
                    copies = shared >= CONTAINMENT and len(small) >= MIN_SIZE_RATIO * len(large)
            # Below version_jaccard only a stated difference, or a file name that marks one page
            # as an edition of the other, makes two pages editions of one another; otherwise they
            # are pages on one subject (a paraphrase, an FAQ and a policy).
            edition = (
                doc_pair.jaccard >= settings.version_jaccard
                or key in found.disagreeing
                or marked_edition(a, b)
            )
            versions = a.updated_at != b.updated_at and same_subject(a, b)
            if versions and named_apart(a, b):
                # Seasons, releases and yearly reports share a template, not their text.
                versions = doc_pair.jaccard >= settings.named_edition_jaccard and not (
                    distinct_subjects(a, b, texts[a.doc_id], texts[b.doc_id])
                )
            if copies and versions and rewords(texts[a.doc_id], texts[b.doc_id]):
                # Words replaced in place (not headers, footers or headings added or dropped) are
                # an edit: an older edition, not a copy.
                copies = False
            if copies:
                first_root, second_root = root(a.doc_id), root(b.doc_id)
                # An owner's "not a duplicate" holds through third copies too: two groups that
                # hold such a pair between them stay apart.
                apart = bool(distinct) and any(
                    pair_key(x, y) in distinct
                    for x in group_of[first_root]
                    for y in group_of[second_root]
                )
                if first_root != second_root and not apart:
                    parent[first_root] = second_root
                    group_of[second_root] |= group_of.pop(first_root)
            elif edition and versions:
                older, newer_row = (a, b) if a.updated_at < b.updated_at else (b, a)
                newer_versions[older.doc_id].append(newer_row.doc_id)

        for old, news in newer_versions.items():
            found.superseded[old] = max(news, key=lambda d: (rows[d].updated_at, d))
        groups: dict[str, list[str]] = defaultdict(list)
        for doc_id in rows:
            groups[root(doc_id)].append(doc_id)
        found.copy_groups = [members for members in groups.values() if len(members) >= 2]


# Beyond this many words a side, a word diff costs more than it tells; containment decides.
_DIFF_WORDS = 5000


_NEGATIONS = frozenset(("not", "no", "never", "cannot", "nor", "none", "without"))


def rewords(a: str, b: str) -> bool:
    """Whether one text edits the other: words replaced in place, or a negation added or
    dropped. Headers, footers, headings and numbering added around the text are no edit."""
    first, second = words(a), words(b)
    if max(len(first), len(second)) > _DIFF_WORDS:
        return False
    matcher = SequenceMatcher(None, first, second, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "replace":
            return True
        at_edge = (i1 == 0 and j1 == 0) or (i2 == len(first) and j2 == len(second))
        if tag != "equal" and not at_edge and _NEGATIONS.intersection(first[i1:i2] + second[j1:j2]):
            return True
    return False
