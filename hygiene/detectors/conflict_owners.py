"""A conflict seen through a copy belongs to the copy's canonical document, which the owner
maintains and retrieval shows, when that document states the same sentence."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from hygiene.corpus import Corpus
from hygiene.detectors.value_conflicts import resolution_of
from hygiene.findings import Findings
from hygiene.records import Conflict, conflict_id
from steward.catalog import DocumentRow


class ConflictOwners:
    """Rewrites `conflicts`: each side on its canonical copy when that copy states its span."""

    phase = "classify"

    def run(self, corpus: Corpus, found: Findings) -> None:
        found.conflicts = _onto_canonical(
            found.conflicts, found.duplicate_of, corpus.texts, corpus.rows, corpus.resolutions
        )


def _onto_canonical(
    found: dict[str, Conflict],
    duplicate_of: Mapping[str, tuple[str, float]],
    texts: Mapping[str, str],
    rows: Mapping[str, DocumentRow],
    resolutions: Mapping[str, Conflict],
) -> dict[str, Conflict]:
    flat: dict[str, str] = {}

    def owner(doc_id: str, span: str) -> str:
        if doc_id not in duplicate_of:
            return doc_id
        canonical = duplicate_of[doc_id][0]
        if canonical not in flat:
            flat[canonical] = " ".join(texts[canonical].split())
        return canonical if " ".join(span.split()) in flat[canonical] else doc_id

    moved: dict[str, Conflict] = {}
    for conflict in found.values():
        a_doc = owner(conflict.a_doc, conflict.a_span)
        b_doc = owner(conflict.b_doc, conflict.b_span)
        if a_doc == b_doc:
            continue
        if (a_doc, b_doc) == (conflict.a_doc, conflict.b_doc):
            moved.setdefault(conflict.conflict_id, conflict)
            continue
        ident = conflict_id(a_doc, b_doc, conflict.kind, conflict.a_span, conflict.b_span)
        known = resolutions.get(ident)
        newer = conflict.newer
        if rows[a_doc].updated_at != rows[b_doc].updated_at:
            newer = "b" if rows[b_doc].updated_at > rows[a_doc].updated_at else "a"
        moved.setdefault(
            ident,
            replace(
                conflict,
                conflict_id=ident,
                a_doc=a_doc,
                b_doc=b_doc,
                newer=newer,
                **resolution_of(known),
            ),
        )
    return moved
