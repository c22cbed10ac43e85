"""Near-duplicate documents (MinHash LSH, confirmed by exact Jaccard) and near-duplicate chunks.

Documents are compared as sets of normalized word shingles. MinHash LSH (datasketch) proposes
candidate pairs in roughly linear time; each candidate's exact Jaccard is then computed, so the
sketch's estimation error never decides a pair. Chunks are compared by the cosine of their
embeddings, in blocks, so the whole matrix never has to be held at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

_WORD = re.compile(r"[0-9a-z]+(?:[.,'][0-9a-z]+)*")


def words(text: str) -> list[str]:
    """Lower-cased word tokens; numbers keep their separators, so 5,000 and 5.000 differ."""
    return _WORD.findall(text.lower())


def shingles(text: str, size: int) -> set[str]:
    """The set of `size`-word shingles of a text; a text shorter than that is one shingle."""
    tokens = words(text)
    if len(tokens) <= size:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


# A paragraph this short, standing in this many different texts, is a header, a footer or a
# template line ("Confidential - internal use only", "Exported from Confluence on ..."), not
# what a page says; identical copies count as one text, so a page and its copies never reach it.
BOILERPLATE_CHARS = 200
BOILERPLATE_TEXTS = 3


def _line_key(line: str) -> str:
    return re.sub(r"\d+", "0", " ".join(line.casefold().split()))


def boilerplate_lines(texts: Mapping[str, str]) -> set[str]:
    """Keys of the short paragraphs found in at least BOILERPLATE_TEXTS different texts."""
    seen: dict[str, int] = {}
    for text in set(texts.values()):
        for key in {_line_key(line) for line in text.splitlines()}:
            if key and len(key) <= BOILERPLATE_CHARS:
                seen[key] = seen.get(key, 0) + 1
    return {key for key, count in seen.items() if count >= BOILERPLATE_TEXTS}


def without_lines(text: str, lines: set[str]) -> str:
    """The text without the given paragraphs; the whole text when nothing else would be left."""
    if not lines:
        return text
    kept = [line for line in text.splitlines() if _line_key(line) not in lines]
    return "\n".join(kept) if any(line.strip() for line in kept) else text


def jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


@dataclass(frozen=True, slots=True)
class SimilarPair:
    """Two documents (a < b) and the exact Jaccard of their shingle sets."""

    a: str
    b: str
    jaccard: float


def similar_documents(
    texts: Mapping[str, str], shingle_words: int, permutations: int, threshold: float
) -> list[SimilarPair]:
    """Pairs of documents whose shingle Jaccard is at least `threshold`, best first."""
    sets = {doc_id: shingles(text, shingle_words) for doc_id, text in texts.items()}
    return similar_sets(sets, permutations, threshold)


def similar_sets(
    shingled: Mapping[str, set[str]], permutations: int, threshold: float
) -> list[SimilarPair]:
    """`similar_documents` over shingle sets already made (the scan reuses them)."""
    sets = {doc_id: s for doc_id, s in shingled.items() if s}
    ids = sorted(sets)
    if len(ids) < 2:
        return []
    # Imported here: datasketch brings scipy, 0.6-1.7 s of start-up that every command importing
    # the findings' types (`steward hygiene report`, `steward sources`) would pay.
    from datasketch import MinHash, MinHashLSH

    # The LSH band threshold sits a little below the wanted Jaccard: a pair just above the
    # threshold whose sketch happens to estimate low must still become a candidate.
    lsh = MinHashLSH(threshold=max(0.05, threshold - 0.1), num_perm=permutations)
    sketches = MinHash.bulk(
        ([s.encode() for s in sets[doc_id]] for doc_id in ids), num_perm=permutations
    )
    for doc_id, sketch in zip(ids, sketches, strict=True):
        lsh.insert(doc_id, sketch)
    pairs: dict[tuple[str, str], float] = {}
    for doc_id, sketch in zip(ids, sketches, strict=True):
        for other in lsh.query(sketch):
            if other == doc_id:
                continue
            key = (doc_id, other) if doc_id < other else (other, doc_id)
            if key in pairs:
                continue
            pairs[key] = jaccard(sets[key[0]], sets[key[1]])
    found = [SimilarPair(a, b, j) for (a, b), j in pairs.items() if j >= threshold]
    return sorted(found, key=lambda p: (-p.jaccard, p.a, p.b))


@dataclass(frozen=True, slots=True)
class ChunkPair:
    """Two chunks of different documents and the cosine of their embeddings."""

    a: str
    b: str
    cosine: float


def similar_chunks(
    ids: Sequence[str],
    owners: Sequence[str],
    vectors: np.ndarray,
    threshold: float,
    neighbours: int,
) -> Iterator[ChunkPair]:
    """For each chunk, its `neighbours` most similar chunks of other documents above `threshold`.

    `owners[i]` is the document of `ids[i]`; `vectors` holds unit-length rows. Each pair is
    yielded once, from its first chunk in `ids` order, which is compared with the chunks after
    it; a chunk's pairs come best first, equal cosines in `ids` order.

    Up to EXACT_CHUNKS chunks every pair is compared (count²/2 dot products). Above, each
    chunk is compared with the chunks of its PROBED_CELLS nearest cells of a k-means partition
    (about count^1.5 products), which finds close pairs, not all of them: see EXACT_CHUNKS.
    """
    count = len(ids)
    if count < 2 or neighbours < 1:
        return
    owner_codes = np.unique(np.asarray(owners), return_inverse=True)[1]
    compared = (
        _all_pairs(vectors, threshold)
        if count <= EXACT_CHUNKS
        else _partitioned_pairs(vectors, threshold)
    )
    rows_parts, cols_parts, value_parts = [], [], []
    for rows, cols, values in compared:
        keep = (cols > rows) & (owner_codes[rows] != owner_codes[cols])
        rows_parts.append(rows[keep])
        cols_parts.append(cols[keep])
        value_parts.append(values[keep])
    if not rows_parts:
        return
    rows, cols = np.concatenate(rows_parts), np.concatenate(cols_parts)
    values = np.concatenate(value_parts)
    if count > EXACT_CHUNKS:  # a pair seen from both of its chunks' cells counts once
        _, once = np.unique(rows.astype(np.int64) * count + cols, return_index=True)
        rows, cols, values = rows[once], cols[once], values[once]
    taken, previous = 0, -1
    for k in np.lexsort((cols, -values, rows)):
        row = int(rows[k])
        taken = taken + 1 if row == previous else 1
        previous = row
        if taken <= neighbours:
            yield ChunkPair(ids[row], ids[int(cols[k])], float(values[k]))


_Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]  # rows, columns, cosines


def _all_pairs(vectors: np.ndarray, threshold: float) -> Iterator[_Pairs]:
    """Every pair (i < j) at or above `threshold`, a block of rows at a time."""
    count = len(vectors)
    # Rows per block, so that a block of cosines stays near 128 MB however large the corpus.
    block = max(16, min(1024, _BLOCK_CELLS // count))
    for start in range(0, count - 1, block):
        stop = min(count, start + block)
        # Row r is chunk start + r; column c is chunk start + 1 + c.
        scores = vectors[start:stop] @ vectors[start + 1 :].T
        rows, cols = np.nonzero(scores >= threshold)
        yield rows + start, cols + start + 1, scores[rows, cols]


def _partitioned_pairs(vectors: np.ndarray, threshold: float) -> Iterator[_Pairs]:
    """Pairs at or above `threshold` among chunks that share one of their nearest cells."""
    count = len(vectors)
    centres = _centres(vectors, max(2, int(np.sqrt(count))))
    probes = min(PROBED_CELLS, len(centres))
    nearest = np.empty((count, probes), dtype=np.int64)
    home = np.empty(count, dtype=np.int64)  # each chunk's nearest cell: it lives there
    for start in range(0, count, 4096):
        scores = vectors[start : start + 4096] @ centres.T
        nearest[start : start + 4096] = np.argpartition(-scores, probes - 1, axis=1)[:, :probes]
        home[start : start + 4096] = np.argmax(scores, axis=1)
    members = _by_cell(home, len(centres))
    # Each cell's askers: the chunks that have it among their nearest (each chunk at most once,
    # as argpartition's columns are distinct cells).
    asking = _by_cell(nearest.ravel(), len(centres))
    for cell, inside in enumerate(members):
        if not len(inside):
            continue
        # A pair is compared where either chunk lives among the other's nearest cells: at most
        # twice, once each way round.
        asked = asking[cell] // probes  # positions in `nearest.ravel()` back to chunks
        # Cells are uneven (a template copied a thousand times is one cell): rows in slices.
        step = max(1, _BLOCK_CELLS // len(inside))
        for start in range(0, len(asked), step):
            rows_of = asked[start : start + step]
            scores = vectors[rows_of] @ vectors[inside].T
            rows, cols = np.nonzero(scores >= threshold)
            first, second = rows_of[rows], inside[cols]
            yield np.minimum(first, second), np.maximum(first, second), scores[rows, cols]


def _by_cell(cell_of: np.ndarray, cells: int) -> list[np.ndarray]:
    """For each cell, the positions whose entry in `cell_of` is that cell, in order."""
    order = np.argsort(cell_of, kind="stable")
    bounds = np.searchsorted(cell_of[order], np.arange(cells + 1))
    return [order[bounds[cell] : bounds[cell + 1]] for cell in range(cells)]


def _centres(vectors: np.ndarray, cells: int) -> np.ndarray:
    """Spherical k-means centres (unit rows), from a fixed-seed sample: a few Lloyd rounds."""
    generator = np.random.default_rng(0)
    sample = vectors[generator.choice(len(vectors), min(len(vectors), 64 * cells), replace=False)]
    centres = sample[generator.choice(len(sample), cells, replace=False)].copy()
    for _ in range(_KMEANS_ROUNDS):
        assigned = np.argmax(sample @ centres.T, axis=1)
        for cell in range(cells):
            mine = sample[assigned == cell]
            if len(mine):
                centre = mine.sum(axis=0)
                centres[cell] = centre / max(float(np.linalg.norm(centre)), 1e-12)
    return centres


# Cosines computed at once, at most: 32M float32 values, 128 MB.
_BLOCK_CELLS = 1 << 25
# Up to this many chunks every pair is compared: 3.5 CPU s at 25,000 (benchmarks/scale.py), and
# it grows with the square. Above, cells of a k-means partition (about sqrt(count) of them) are
# compared with the chunks that have them among their PROBED_CELLS nearest. Against every pair,
# with 5 cells, the partition found 0.9999 of the pairs on the messy msmarco KB (MiniLM, 6,200
# chunks), 0.9992 on the PEPs (5,141), 0.9956 at 25,000 (hashing vectors) in 1.1 CPU s, and
# every pair of copies (cosine 0.97 or more) on all three.
EXACT_CHUNKS = 20_000
PROBED_CELLS = 5
_KMEANS_ROUNDS = 5
