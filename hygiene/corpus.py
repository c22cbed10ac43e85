"""The corpus view a scan reads once: documents, their texts and chunks, and owners' decisions.

Every detector reads it and none writes it; `read_corpus` builds it from the catalog, the index
and the hygiene records, never from a source.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from hygiene.records import Conflict, HygieneRecords, Review
from retrieval.store import VectorStore
from steward.catalog import Catalog, DocumentRow
from steward.domain import ChunkPayload


@dataclass(frozen=True, slots=True)
class Chunks:
    """Every chunk of the scanned documents, aligned with its unit vector."""

    ids: list[str]
    owners: list[str]
    payloads: list[ChunkPayload]
    vectors: np.ndarray
    of_doc: dict[str, list[int]]  # document -> positions of its chunks
    position: dict[str, int]  # chunk id -> its position


@dataclass(frozen=True, slots=True)
class Corpus:
    """What a scan reads: the documents that have chunks in the index, and what owners decided."""

    rows: Mapping[str, DocumentRow]  # in the catalog's order
    texts: Mapping[str, str]  # each document's chunks joined in order
    chunks: Chunks
    configs: Mapping[str, Mapping[str, Any]]  # each source's entry of steward.yaml
    reviews: Mapping[str, Review]
    distinct: set[tuple[str, str]]  # pairs an owner marked "not a duplicate"
    resolutions: Mapping[str, Conflict]  # conflicts on record, by id, with their resolutions
    now: datetime


Progress = Callable[[str, int, int], None]


def read_corpus(
    store: VectorStore,
    catalog: Catalog,
    records: HygieneRecords,
    now: datetime,
    progress: Progress,
) -> Corpus:
    """The catalog's documents with their chunks from the index, and the owners' decisions."""
    rows = catalog.all_documents()
    configs = _source_config(catalog, rows)
    reviews = records.reviews()
    distinct = records.distinct_pairs()
    progress("reading", 0, len(rows))
    texts, chunks = _read(store, rows)
    rows = {doc_id: row for doc_id, row in rows.items() if doc_id in texts}
    resolutions = {c.conflict_id: c for c in records.conflicts()}
    return Corpus(rows, texts, chunks, configs, reviews, distinct, resolutions, now)


def _read(store: VectorStore, rows: Mapping[str, DocumentRow]) -> tuple[dict[str, str], Chunks]:
    by_doc: dict[str, list[tuple[int, str, ChunkPayload]]] = defaultdict(list)
    vectors: dict[str, list[float]] = {}
    for source in sorted({row.source for row in rows.values()}):
        for chunk_id, payload in store.source_chunks(source).items():
            if payload.doc_id in rows:
                by_doc[payload.doc_id].append((payload.ordinal, chunk_id, payload))
        vectors.update(store.source_vectors(source))
    texts: dict[str, str] = {}
    ids: list[str] = []
    owners: list[str] = []
    payloads: list[ChunkPayload] = []
    matrix: list[list[float]] = []
    for doc_id in sorted(by_doc):
        parts = sorted(by_doc[doc_id], key=lambda part: part[0])
        texts[doc_id] = "\n\n".join(p.text for _, _, p in parts)
        for _, chunk_id, payload in parts:
            if chunk_id in vectors:
                ids.append(chunk_id)
                owners.append(doc_id)
                payloads.append(payload)
                matrix.append(vectors[chunk_id])
    array = np.asarray(matrix, dtype=np.float32).reshape(len(matrix), -1)
    if len(array):
        array /= np.maximum(np.linalg.norm(array, axis=1, keepdims=True), 1e-12)
    of_doc: dict[str, list[int]] = defaultdict(list)
    for n, owner in enumerate(owners):
        of_doc[owner].append(n)
    position = {chunk_id: n for n, chunk_id in enumerate(ids)}
    return texts, Chunks(ids, owners, payloads, array, dict(of_doc), position)


def _source_config(catalog: Catalog, rows: Mapping[str, DocumentRow]) -> dict[str, dict[str, Any]]:
    configs: dict[str, dict[str, Any]] = {}
    for source in {row.source for row in rows.values()}:
        stored = catalog.source(source)
        configs[source] = dict(stored["config"]) if stored else {}
    return configs
