"""Conflicts: statements of two documents about the same thing that give different values.

The rules are in `hygiene.conflicts`; this stage decides which chunk pairs they are applied to
and which of their findings stand between two documents.
"""

from __future__ import annotations

from typing import Any

from hygiene import conflicts as conflict_rules
from hygiene.corpus import Corpus
from hygiene.findings import Findings, pair_key
from hygiene.records import Conflict, conflict_id
from hygiene.review import name_themselves, named_apart, names_subject, same_subject
from steward.domain import ChunkPayload
from steward.settings import HygieneSettings

# A conflict this confident makes two similar documents editions rather than copies; weaker
# ones (a loose negation, a name in a similar slot) are reported but decide nothing.
VERSION_EVIDENCE = 0.8


class ValueConflicts:
    """Writes `conflicts` (by id), `disagreeing` and `contradicting` (pairs of documents)."""

    phase = "conflicts"

    def __init__(self, settings: HygieneSettings) -> None:
        self.settings = settings

    def run(self, corpus: Corpus, found: Findings) -> None:
        settings = self.settings
        rows, texts, chunks = corpus.rows, corpus.texts, corpus.chunks
        resolutions = corpus.resolutions
        similar = {(p.a, p.b) for p in found.document_pairs}
        analyses: dict[int, conflict_rules.Analysed] = {}

        def analysed(index: int, payload: ChunkPayload) -> conflict_rules.Analysed:
            # Each chunk is analysed once, however many pairs it takes part in.
            if index not in analyses:
                analyses[index] = conflict_rules.analyze(payload.text)
            return analyses[index]

        self_named: dict[tuple[str, str], bool] = {}  # texts that state their names' numbers
        for i, j in sorted(found.candidates):
            first, second = chunks.payloads[i], chunks.payloads[j]
            if first.content_hash == second.content_hash:
                continue
            row_i, row_j = rows[first.doc_id], rows[second.doc_id]
            # a is the older side, so "newer" reads the same way in every record.
            if (row_i.updated_at, row_i.key) > (row_j.updated_at, row_j.key):
                first, second, row_i, row_j, i, j = second, first, row_j, row_i, j, i
            newer = "b" if row_j.updated_at > row_i.updated_at else None
            docs = pair_key(row_i.doc_id, row_j.doc_id)
            if docs not in self_named:
                self_named[docs] = name_themselves(
                    row_i, row_j, texts[row_i.doc_id], texts[row_j.doc_id]
                )
            if self_named[docs]:
                # The 3.5 and the 3.11 release schedules each plan "the final release" of their
                # own release: templated statements about two named subjects do not disagree.
                continue
            related = docs in similar or (
                same_subject(row_i, row_j) and not named_apart(row_i, row_j)
            )
            topic = (min(i, j), max(i, j)) in found.topical
            for value in conflict_rules.compare(analysed(i, first), analysed(j, second)):
                if names_subject(value.a_value, row_i.title) and names_subject(
                    value.b_value, row_j.title
                ):
                    # "The 2010 ... team represented" against "The 2012 ...": the values that
                    # differ are the ones that name each page's subject.
                    continue
                if not related and value.confidence < settings.unrelated_conflict_confidence:
                    # Two pages on different subjects share a sentence pattern more often than
                    # they disagree; only a confident value, or a tool named where the other
                    # page's title is mentioned, is reported between them.
                    if not (topic and value.kind == "named_value"):
                        continue
                ident = conflict_id(
                    row_i.doc_id, row_j.doc_id, value.kind, value.a_span, value.b_span
                )
                if ident in found.conflicts:
                    continue
                known = resolutions.get(ident)
                found.conflicts[ident] = Conflict(
                    conflict_id=ident,
                    a_doc=row_i.doc_id,
                    b_doc=row_j.doc_id,
                    kind=value.kind,
                    a_span=value.a_span,
                    b_span=value.b_span,
                    a_value=value.a_value,
                    b_value=value.b_value,
                    confidence=round(value.confidence, 3),
                    newer=newer,
                    **resolution_of(known),
                )
                found.disagreeing.add(pair_key(row_i.doc_id, row_j.doc_id))
                if value.confidence >= VERSION_EVIDENCE:
                    found.contradicting.add(pair_key(row_i.doc_id, row_j.doc_id))


def resolution_of(known: Conflict | None) -> dict[str, Any]:
    """A conflict seen before keeps its owner's (or the judge's) resolution under the same id."""
    if known is None:
        return {"resolution": None, "resolved_by": None, "resolved_at": None}
    return {
        "resolution": known.resolution,
        "resolved_by": known.resolved_by,
        "resolved_at": known.resolved_at,
    }
