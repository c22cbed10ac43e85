"""Hygiene-aware ranking: bounded factors on normalised scores, one slot per text.

Fused scores have no common scale (RRF ranks, cosines, BM25), so they are first min-max
normalised over the candidates to 0..1. Each candidate is then multiplied by factors in [0, 1]:
a freshness decay (at most `freshness_weight` of the score fades, halving every
`freshness_half_life_days`) and a demotion when its document is deprecated, expired (past its
review date) or superseded. A factor can move a result down the list; it never lifts one above
its relevance.

Slots: identical texts (same content hash) and chunk-level copies take one slot; a document
that is a non-canonical copy is folded into its canonical document's hit (which lists it) when
the canonical document is among the candidates, or hidden (`duplicates = "hide"`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from steward.domain import Candidate, DocumentMark, HygieneSnapshot, ReviewState
from steward.settings import HygieneSettings


@dataclass(frozen=True, slots=True)
class Picked:
    chunk_id: str
    score: float
    flags: tuple[str, ...]
    duplicate_of: str | None
    superseded_by: str | None
    duplicates: tuple[str, ...]


def factor(
    mark: DocumentMark | None, settings: HygieneSettings, now: datetime, named: bool = False
) -> float:
    """The product of the bounded hygiene factors of one document (1 without a mark).

    `named`: the query names the document's year or version ("travel policy 2024"), so being
    superseded by a later edition does not count against it.
    """
    value = 1.0
    for number, part in enumerate(factors(mark, settings, now, named).values()):
        value = part if number == 0 else value * part
    return value


def factors(
    mark: DocumentMark | None, settings: HygieneSettings, now: datetime, named: bool = False
) -> dict[str, float]:
    """Each factor of `factor` by name, in the order they multiply: `freshness`, then
    `deprecated` or `expired`, then `superseded` (those that apply); {} without a mark."""
    if mark is None:
        return {}
    age_days = max(0.0, (now - mark.updated_at).total_seconds() / 86400)
    decay = 1.0 - float(0.5 ** (age_days / settings.freshness_half_life_days))
    found = {"freshness": 1.0 - settings.freshness_weight * decay}
    if mark.state is ReviewState.DEPRECATED:
        found["deprecated"] = settings.deprecated_factor
    elif mark.state is ReviewState.EXPIRED:
        found["expired"] = settings.expired_factor
    if mark.superseded_by and not named:
        found["superseded"] = settings.superseded_factor
    return found


def flags(mark: DocumentMark | None) -> tuple[str, ...]:
    if mark is None:
        return ()
    found = []
    if mark.state is ReviewState.EXPIRED:
        found.append("stale")
    if mark.state is ReviewState.DEPRECATED:
        found.append("deprecated")
    if mark.superseded_by:
        found.append("superseded")
    if mark.conflicts:
        found.append("conflict")
    if mark.duplicate_of:
        found.append("duplicate_of")
    return tuple(found)


Scored = tuple[float, float, Candidate, DocumentMark | None]  # score, order, candidate, mark


def below_successors(scored: list[Scored], named: frozenset[str]) -> list[Scored]:
    """Each superseded candidate moved just below its successor's best candidate, when that
    successor is among the candidates (and the query does not name the old edition).

    The factor alone leaves an old edition that matches the query's words far better above
    the page that replaced it. A candidate only moves down (to the successor's score, an order
    a hair behind it), so nothing rises; a chain (2023 -> 2024 -> 2025) keeps its order.
    """

    def earlier(a: tuple[float, float], b: tuple[float, float]) -> bool:
        return (-a[0], a[1]) < (-b[0], b[1])

    best: dict[str, tuple[float, float]] = {}
    successor: dict[str, str] = {}
    for score, order, candidate, mark in scored:
        doc = candidate.doc_id
        if doc not in best or earlier((score, order), best[doc]):
            best[doc] = (score, order)
        if mark is not None and mark.superseded_by and doc not in named:
            successor[doc] = mark.superseded_by
    floor: dict[str, tuple[float, float] | None] = {}

    def after_successor(doc: str, seen: frozenset[str]) -> tuple[float, float] | None:
        """The highest place a document's candidates may take; None: anywhere."""
        if doc not in floor:
            after = successor.get(doc)
            if after is None or after not in best or after in seen:
                floor[doc] = None
            else:
                place = best[after]
                above = after_successor(after, seen | {doc})
                if above is not None and earlier(place, above):
                    place = above
                floor[doc] = (place[0], place[1] + 1e-3)
        return floor[doc]

    moved: list[Scored] = []
    for score, order, candidate, mark in scored:
        place = after_successor(candidate.doc_id, frozenset())
        if place is not None and earlier((score, order), place):
            score, order = place
        moved.append((score, order, candidate, mark))
    return moved


def select(
    ranked: Sequence[Candidate],
    top_k: int,
    snapshot: HygieneSnapshot | None,
    settings: HygieneSettings,
    now: datetime,
    named: frozenset[str] = frozenset(),
) -> list[Picked]:
    """The top_k results of a candidate list (best first), re-ranked and de-duplicated.

    `named`: documents whose title names a year or version the query names; they keep their
    place (and stay shown) though superseded.
    """
    if not ranked:
        return []
    marks = snapshot.documents if snapshot is not None else {}
    chunk_canonical = snapshot.chunk_canonical if snapshot is not None else {}
    low = min(c.score for c in ranked)
    span = max(c.score for c in ranked) - low
    scored: list[Scored] = []
    for order, candidate in enumerate(ranked):
        mark = marks.get(candidate.doc_id)
        if mark is not None:
            if mark.duplicate_of and settings.duplicates == "hide":
                continue
            if mark.superseded_by and settings.hide_superseded and candidate.doc_id not in named:
                continue
        norm = (candidate.score - low) / span if span > 0 else 1.0
        weight = factor(mark, settings, now, candidate.doc_id in named)
        scored.append((norm * weight, order, candidate, mark))
    if settings.superseded_below_successor:
        scored = below_successors(scored, named)
    scored.sort(key=lambda item: (-item[0], item[1]))
    # Each document's best candidate: a copy ranked above its canonical document brings that
    # document up to its own place instead of waiting for it (or hiding the best hit).
    best_of: dict[str, tuple[Candidate, DocumentMark | None]] = {}
    for _, _, candidate, mark in scored:
        best_of.setdefault(candidate.doc_id, (candidate, mark))

    picked: list[Picked] = []
    picked_doc: list[str] = []
    folded: list[list[str]] = []
    slot_of_text: dict[str, int] = {}
    first_slot_of_doc: dict[str, int] = {}
    waiting: dict[str, list[str]] = {}  # canonical doc -> copies seen before its first hit

    def fold(slot: int, doc_id: str) -> None:
        if doc_id != picked_doc[slot] and doc_id not in folded[slot]:
            folded[slot].append(doc_id)

    for score, _, candidate, mark in scored:
        copy_of = mark.duplicate_of if mark is not None else None
        if copy_of and copy_of in best_of:
            if copy_of in first_slot_of_doc:
                fold(first_slot_of_doc[copy_of], candidate.doc_id)
                continue
            waiting.setdefault(copy_of, []).append(candidate.doc_id)
            candidate, mark = best_of[copy_of]
        doc_id = candidate.doc_id
        canonical = mark.duplicate_of if mark is not None else None
        text_key = chunk_canonical.get(candidate.chunk_id, candidate.chunk_id)
        slot = slot_of_text.get(candidate.content_hash, slot_of_text.get(text_key))
        if slot is not None:
            fold(slot, doc_id)
            continue
        slot = len(picked)
        picked.append(
            Picked(
                chunk_id=candidate.chunk_id,
                score=round(score, 6),
                flags=flags(mark),
                duplicate_of=canonical,
                superseded_by=mark.superseded_by if mark is not None else None,
                duplicates=(),
            )
        )
        picked_doc.append(doc_id)
        folded.append([d for d in waiting.pop(doc_id, []) if d != doc_id])
        slot_of_text[candidate.content_hash] = slot
        slot_of_text[text_key] = slot
        first_slot_of_doc.setdefault(doc_id, slot)
        if len(picked) == top_k:
            break
    return [
        replace(p, duplicates=tuple(dict.fromkeys(copies)))
        for p, copies in zip(picked, folded, strict=True)
    ]
