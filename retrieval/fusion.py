"""Fusion of dense and sparse candidate lists into one ranking.

Plain RRF lost to dense-only on msmarco-5k; RRF with the dense list weighted 0.95 is the
default because benchmarks/retrieval.py measured it best (the grid is in the JSON it writes).
Each function takes ranked lists of (id, score) and returns (id, fused score) best first.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

Ranked = Sequence[tuple[str, float]]
LIFT = 0.2  # anchors' margin over the best other hit, in units of the fused score range


def _minmax(ranked: Ranked) -> dict[str, float]:
    if not ranked:
        return {}
    scores = [s for _, s in ranked]
    low, high = min(scores), max(scores)
    if high == low:
        return {i: 1.0 for i, _ in ranked}
    return {i: (s - low) / (high - low) for i, s in ranked}


def _dbsf(ranked: Ranked) -> dict[str, float]:
    """Distribution-based score fusion: scale by mean ± 3 standard deviations, clip to [0, 1]."""
    if not ranked:
        return {}
    scores = [s for _, s in ranked]
    mean = statistics.fmean(scores)
    spread = 3 * (statistics.pstdev(scores) if len(scores) > 1 else 0.0)
    if spread == 0:
        return {i: 1.0 for i, _ in ranked}
    low, high = mean - spread, mean + spread
    return {i: min(1.0, max(0.0, (s - low) / (high - low))) for i, s in ranked}


def _combine(parts: Sequence[tuple[dict[str, float], float]]) -> list[tuple[str, float]]:
    fused: dict[str, float] = {}
    for scores, weight in parts:
        for ident, value in scores.items():
            fused[ident] = fused.get(ident, 0.0) + weight * value
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def weighted(dense: Ranked, sparse: Ranked, dense_weight: float) -> list[tuple[str, float]]:
    return _combine([(_minmax(dense), dense_weight), (_minmax(sparse), 1.0 - dense_weight)])


def dbsf(dense: Ranked, sparse: Ranked, dense_weight: float) -> list[tuple[str, float]]:
    return _combine([(_dbsf(dense), dense_weight), (_dbsf(sparse), 1.0 - dense_weight)])


def rrf(dense: Ranked, sparse: Ranked, dense_weight: float, k: int = 60) -> list[tuple[str, float]]:
    def ranks(ranked: Ranked) -> dict[str, float]:
        return {ident: 1.0 / (k + rank) for rank, (ident, _) in enumerate(ranked, start=1)}

    return _combine([(ranks(dense), 2 * dense_weight), (ranks(sparse), 2 * (1.0 - dense_weight))])


def lexical_anchors(sparse: Ranked, gap: float, depth: int) -> list[str]:
    """The sparse hits that stand clearly above the rest of the BM25 list, best first.

    BM25 scores carry the index's own IDF, so a query term that few chunks contain (an error
    code, a ticket number, an unfamiliar name) lifts the chunks that have it far above every
    other match. The anchors are the hits before the largest score drop among the first
    `depth`, when that drop is a factor of at least `gap`. A list that ends within `depth`
    (nothing else matched) ends with a drop of just `gap`: a larger drop before it still
    decides ("Tobiah Teduku": the one page naming both at 13.3, three naming a Tobiah at 6.3
    and less, then nothing — the anchor is the first page, not all four). Empty when no drop
    is large enough.
    """
    if gap <= 0 or not sparse or sparse[0][1] <= 0:
        return []
    best, cut = 0.0, 0
    for at in range(min(depth, len(sparse))):
        following = sparse[at + 1][1] if at + 1 < len(sparse) else 0.0
        ratio = sparse[at][1] / following if following > 0 else gap
        if ratio > best:
            best, cut = ratio, at + 1
    return [ident for ident, _ in sparse[:cut]] if best >= gap else []


def anchored(fused: Ranked, anchors: Sequence[str]) -> list[tuple[str, float]]:
    """`fused` with the anchors lifted above every other hit, keeping the list's order.

    Every anchor lands in a narrow band LIFT above the best other hit (in units of the list's
    score range), so once retrieval.ranking min-max normalises the scores the best other hit
    sits near 0.83: an expired anchor (x0.97) or a freshness fade (at most 2 %) stays above
    it, a superseded (x0.5) or deprecated (x0.3) anchor falls below it.
    """
    wanted = set(anchors)
    lifted = [i for i, _ in fused if i in wanted]
    if not lifted:
        return list(fused)
    rest = [(i, s) for i, s in fused if i not in wanted]
    scores = [s for _, s in fused]
    span = (max(scores) - min(scores)) or abs(max(scores)) or 1.0
    base = (max(s for _, s in rest) if rest else max(scores)) + LIFT * span
    step = 0.01 * span / len(lifted)
    return [(i, base + step * (len(lifted) - k)) for k, i in enumerate(lifted)] + rest


def guarantee(fused: Ranked, ident: str, place: int) -> list[tuple[str, float]]:
    """`fused` with `ident` moved up to position `place` (1-based) when it ranks below it.

    Its score becomes the mean of its new neighbours', so the order survives a re-sort.
    """
    order = [i for i, _ in fused]
    if place < 1 or ident not in order or order.index(ident) < place:
        return list(fused)
    moved = [(i, s) for i, s in fused if i != ident]
    at = place - 1
    above = moved[at - 1][1] if at > 0 else moved[0][1]
    below = moved[at][1]
    moved.insert(at, (ident, (above + below) / 2))
    return moved
