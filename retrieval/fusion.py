"""Fusion of dense and sparse candidate lists into one ranking.

Plain RRF lost to dense-only on msmarco-5k; RRF with the dense list weighted 0.95 is the
default because benchmarks/retrieval.py measured it best (the grid is in the JSON it writes).
Each function takes ranked lists of (id, score) and returns (id, fused score) best first.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

Ranked = Sequence[tuple[str, float]]


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
