"""The hygiene scan: duplicates, superseded versions, review states and conflicts, all at once.

One function, `scan(runtime)`, that the CLI, the after-sync hook and the API call. It reads the
catalog and the index, never a source, and writes only the hygiene tables.

How a pair of similar documents (shingle Jaccard at least `version_jaccard`) is read:

- they state different values for the same thing (a conflict): two editions of one text, never
  copies; the older is *superseded* by the newer when they share a subject (title or file stem
  without edition words) and their timestamps differ;
- otherwise, Jaccard at least `duplicate_jaccard`, or one text (nearly) contained in the other
  (a copy wrapped in boilerplate): *copies*, one cluster, unless an owner marked the pair
  "not a duplicate";
- otherwise, with a shared subject and different timestamps: the older is superseded;
- otherwise: related documents, left alone.

The canonical member of a cluster is chosen by `canonical_rank`: not deprecated, then verified,
then the source's `priority` in steward.yaml, then not superseded, then not expired, then not
filed as a copy (a path through archive/, exports/, "copy", "print"...), then the most recently
updated, then the shortest path.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from difflib import SequenceMatcher
from typing import Any

import numpy as np

from hygiene import conflicts as conflict_rules
from hygiene.dedup import (
    SimilarPair,
    boilerplate_lines,
    jaccard,
    shingles,
    similar_chunks,
    similar_sets,
    without_lines,
    words,
)
from hygiene.judge import LlmJudge
from hygiene.records import Conflict, DocumentState, HygieneRecords, Review, conflict_id
from hygiene.review import (
    copy_marked,
    distinct_subjects,
    name_themselves,
    named_apart,
    names_subject,
    numbers,
    review_state,
    same_subject,
    stem,
    subject,
)
from hygiene.runtime import Runtime
from steward.catalog import DocumentRow
from steward.domain import ChunkPayload, ReviewState, utc_now
from steward.settings import HygieneSettings

log = logging.getLogger("steward.hygiene")

Progress = Callable[[str, int, int], None]

# One text nearly inside the other: a copy wrapped in headers, footers or navigation...
CONTAINMENT = 0.9
# ...and at least this share of the other's size: a passage quoted inside a page twice its
# length is related to it, not a copy of it.
MIN_SIZE_RATIO = 0.6
# A conflict this confident makes two similar documents editions rather than copies; weaker
# ones (a loose negation, a name in a similar slot) are reported but decide nothing.
VERSION_EVIDENCE = 0.8
# Chunk pairs compared for conflicts per pair of versions, at most.
_VERSION_CHUNK_PAIRS = 400


def _quiet(_stage: str, _done: int, _total: int) -> None:
    return None


@dataclass(frozen=True, slots=True)
class DuplicateCluster:
    canonical: str
    members: list[tuple[str, float]]  # (doc_id, Jaccard with the canonical), canonical excluded


@dataclass
class ScanReport:
    scan_id: int
    documents: int
    clusters: list[DuplicateCluster]
    superseded: dict[str, str]  # old doc_id -> current doc_id
    conflicts: list[Conflict]
    states: dict[str, ReviewState]
    chunk_duplicates: int
    duration_s: float
    timings: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        counts: dict[str, int] = defaultdict(int)
        for state in self.states.values():
            counts[state.value] += 1
        return {
            "documents": self.documents,
            "duplicate_clusters": len(self.clusters),
            "duplicates": sum(len(c.members) for c in self.clusters),
            "superseded": len(self.superseded),
            "conflicts": len(self.conflicts),
            "unresolved_conflicts": sum(1 for c in self.conflicts if c.resolution is None),
            "chunk_duplicates": self.chunk_duplicates,
            "states": dict(counts),
            "duration_s": round(self.duration_s, 3),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }


@dataclass(frozen=True, slots=True)
class _Chunks:
    """Every chunk of the scanned documents, aligned with its unit vector."""

    ids: list[str]
    owners: list[str]
    payloads: list[ChunkPayload]
    vectors: np.ndarray
    of_doc: dict[str, list[int]]  # document -> positions of its chunks


def _read(runtime: Runtime, rows: Mapping[str, DocumentRow]) -> tuple[dict[str, str], _Chunks]:
    by_doc: dict[str, list[tuple[int, str, ChunkPayload]]] = defaultdict(list)
    vectors: dict[str, list[float]] = {}
    for source in sorted({row.source for row in rows.values()}):
        for chunk_id, payload in runtime.store.source_chunks(source).items():
            if payload.doc_id in rows:
                by_doc[payload.doc_id].append((payload.ordinal, chunk_id, payload))
        vectors.update(runtime.store.source_vectors(source))
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
    return texts, _Chunks(ids, owners, payloads, array, dict(of_doc))


def _source_config(runtime: Runtime, rows: Mapping[str, DocumentRow]) -> dict[str, dict[str, Any]]:
    configs: dict[str, dict[str, Any]] = {}
    for source in {row.source for row in rows.values()}:
        stored = runtime.catalog.source(source)
        configs[source] = dict(stored["config"]) if stored else {}
    return configs


_one_at_a_time = threading.Lock()


def scan(runtime: Runtime, progress: Progress | None = None) -> ScanReport:
    """Scan every document of the catalog and store what was found; the report.

    Scans in one process run one at a time (the scheduler's and the API's); across processes
    the catalog serialises their writes (records.save_scan).
    """
    with _one_at_a_time:
        return _scan(runtime, progress)


def _scan(runtime: Runtime, progress: Progress | None) -> ScanReport:
    report = progress or _quiet
    settings = runtime.settings.hygiene
    records = HygieneRecords(runtime.database)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    scan_id = records.start_scan()
    now = utc_now()

    def lap(name: str, since: float) -> float:
        moment = time.perf_counter()
        timings[name] = moment - since
        return moment

    rows = runtime.catalog.all_documents()
    configs = _source_config(runtime, rows)
    reviews = records.reviews()
    distinct = records.distinct_pairs()
    report("reading", 0, len(rows))
    texts, chunks = _read(runtime, rows)
    rows = {doc_id: row for doc_id, row in rows.items() if doc_id in texts}
    mark = lap("read", started)

    states: dict[str, ReviewState] = {}
    expires: dict[str, datetime] = {}
    for doc_id, row in rows.items():
        interval = configs[row.source].get("review_interval_days") or settings.review_interval_days
        states[doc_id], expires[doc_id] = review_state(row, reviews.get(doc_id), interval, now)

    report("documents", 0, len(rows))
    # Each document's shingles, made once: LSH, same-subject pairs, containment, clusters.
    # Headers and footers repeated across pages are set aside first, or a one-sentence page
    # and its copy wrapped in an export's boilerplate would share too little to be copies.
    common = boilerplate_lines(texts)
    sets = {
        doc_id: shingles(without_lines(text, common), settings.shingle_words)
        for doc_id, text in texts.items()
    }
    pairs = similar_sets(sets, settings.permutations, settings.version_jaccard)
    pairs += _same_subject_pairs(rows, texts, sets, {(p.a, p.b) for p in pairs}, settings)
    mark = lap("documents", mark)

    report("chunks", 0, len(chunks.ids))
    threshold = min(settings.conflict_cosine, settings.chunk_duplicate_cosine)
    chunk_pairs = list(
        similar_chunks(
            chunks.ids, chunks.owners, chunks.vectors, threshold, settings.conflict_neighbours
        )
    )
    mark = lap("chunks", mark)

    # Conflicts: similar chunks of different documents, and the chunks of similar documents.
    position = {chunk_id: n for n, chunk_id in enumerate(chunks.ids)}
    of_doc = chunks.of_doc
    candidates: set[tuple[int, int]] = set()
    for pair in chunk_pairs:
        if pair.cosine >= settings.conflict_cosine:
            candidates.add((position[pair.a], position[pair.b]))
    topical = _topic_pairs(rows, chunks, settings)
    candidates.update(topical)
    similar = {(p.a, p.b) for p in pairs}
    for doc_pair in pairs:
        if doc_pair.jaccard >= 1.0:
            continue
        combos = [(i, j) for i in of_doc[doc_pair.a] for j in of_doc[doc_pair.b]]
        if len(combos) > _VERSION_CHUNK_PAIRS:
            scores = [float(chunks.vectors[i] @ chunks.vectors[j]) for i, j in combos]
            best = np.argsort(scores)[::-1][:_VERSION_CHUNK_PAIRS]
            combos = [combos[int(k)] for k in best]
        candidates.update(combos)
    report("conflicts", 0, len(candidates))
    resolutions = {c.conflict_id: c for c in records.conflicts()}
    analyses: dict[int, conflict_rules.Analysed] = {}

    def analysed(index: int, payload: ChunkPayload) -> conflict_rules.Analysed:
        # Each chunk is analysed once, however many pairs it takes part in.
        if index not in analyses:
            analyses[index] = conflict_rules.analyze(payload.text)
        return analyses[index]

    found: dict[str, Conflict] = {}
    self_named: dict[tuple[str, str], bool] = {}  # texts that state their names' numbers
    conflicting: set[tuple[str, str]] = set()
    conflicting_any: set[tuple[str, str]] = set()
    for i, j in sorted(candidates):
        first, second = chunks.payloads[i], chunks.payloads[j]
        if first.content_hash == second.content_hash:
            continue
        row_i, row_j = rows[first.doc_id], rows[second.doc_id]
        # a is the older side, so "newer" reads the same way in every record.
        if (row_i.updated_at, row_i.key) > (row_j.updated_at, row_j.key):
            first, second, row_i, row_j, i, j = second, first, row_j, row_i, j, i
        newer = "b" if row_j.updated_at > row_i.updated_at else None
        docs = _key(row_i.doc_id, row_j.doc_id)
        if docs not in self_named:
            self_named[docs] = name_themselves(
                row_i, row_j, texts[row_i.doc_id], texts[row_j.doc_id]
            )
        if self_named[docs]:
            # The 3.5 and the 3.11 release schedules each plan "the final release" of their
            # own release: templated statements about two named subjects do not disagree.
            continue
        related = docs in similar or (same_subject(row_i, row_j) and not named_apart(row_i, row_j))
        topic = (min(i, j), max(i, j)) in topical
        for value in conflict_rules.compare(analysed(i, first), analysed(j, second)):
            if names_subject(value.a_value, row_i.title) and names_subject(
                value.b_value, row_j.title
            ):
                # "The 2010 ... team represented" against "The 2012 ...": the values that
                # differ are the ones that name each page's subject.
                continue
            if not related and value.confidence < settings.unrelated_conflict_confidence:
                # Two pages on different subjects share a sentence pattern more often than they
                # disagree; only a confident value, or a tool named where the other page's
                # title is mentioned, is reported between them.
                if not (topic and value.kind == "named_value"):
                    continue
            ident = conflict_id(row_i.doc_id, row_j.doc_id, value.kind, value.a_span, value.b_span)
            if ident in found:
                continue
            known = resolutions.get(ident)
            found[ident] = Conflict(
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
                **_resolution_of(known),
            )
            conflicting_any.add(_key(row_i.doc_id, row_j.doc_id))
            if value.confidence >= VERSION_EVIDENCE:
                conflicting.add(_key(row_i.doc_id, row_j.doc_id))
    mark = lap("conflicts", mark)

    # Pairs of documents: copies, editions, or neither.
    parent = {doc_id: doc_id for doc_id in rows}
    group_of: dict[str, set[str]] = {doc_id: {doc_id} for doc_id in rows}

    def root(doc_id: str) -> str:
        while parent[doc_id] != doc_id:
            parent[doc_id] = parent[parent[doc_id]]
            doc_id = parent[doc_id]
        return doc_id

    similarity: dict[tuple[str, str], float] = {}
    newer_versions: dict[str, list[str]] = defaultdict(list)
    for doc_pair in pairs:
        a, b = rows[doc_pair.a], rows[doc_pair.b]
        key = _key(a.doc_id, b.doc_id)
        similarity[key] = doc_pair.jaccard
        copies = False
        if key not in conflicting and key not in distinct:
            copies = doc_pair.jaccard >= settings.duplicate_jaccard
            if not copies:
                small, large = sorted((sets[key[0]], sets[key[1]]), key=len)
                shared = len(small & large) / max(1, len(small))
                copies = shared >= CONTAINMENT and len(small) >= MIN_SIZE_RATIO * len(large)
        # Below version_jaccard only a stated difference makes two pages editions of one
        # another; otherwise they are pages on one subject (a paraphrase, an FAQ and a policy).
        edition = doc_pair.jaccard >= settings.version_jaccard or key in conflicting_any
        versions = a.updated_at != b.updated_at and same_subject(a, b)
        if versions and named_apart(a, b):
            # Seasons, releases and yearly reports share a template, not their text.
            versions = doc_pair.jaccard >= settings.named_edition_jaccard and not (
                distinct_subjects(a, b, texts[a.doc_id], texts[b.doc_id])
            )
        if copies and versions and _rewords(texts[a.doc_id], texts[b.doc_id]):
            # Words replaced in place (not headers, footers or headings added or dropped) are
            # an edit: an older edition, not a copy.
            copies = False
        if copies:
            first_root, second_root = root(a.doc_id), root(b.doc_id)
            # An owner's "not a duplicate" holds through third copies too: two groups that
            # hold such a pair between them stay apart.
            apart = bool(distinct) and any(
                _key(x, y) in distinct for x in group_of[first_root] for y in group_of[second_root]
            )
            if first_root != second_root and not apart:
                parent[first_root] = second_root
                group_of[second_root] |= group_of.pop(first_root)
        elif edition and versions:
            older, newer_row = (a, b) if a.updated_at < b.updated_at else (b, a)
            newer_versions[older.doc_id].append(newer_row.doc_id)

    superseded_by: dict[str, str] = {}
    for old, news in newer_versions.items():
        superseded_by[old] = max(news, key=lambda d: (rows[d].updated_at, d))

    def canonical_rank(doc_id: str) -> tuple[Any, ...]:
        row = rows[doc_id]
        state = states[doc_id]
        return (
            state is not ReviewState.DEPRECATED,
            state is ReviewState.VERIFIED,
            int(configs[row.source].get("priority") or 0),
            doc_id not in superseded_by,
            state is not ReviewState.EXPIRED,
            not copy_marked(row.key),
            row.updated_at,
            -len(row.key),
            row.key,
        )

    groups: dict[str, list[str]] = defaultdict(list)
    for doc_id in rows:
        groups[root(doc_id)].append(doc_id)
    clusters: list[DuplicateCluster] = []
    duplicate_of: dict[str, tuple[str, float]] = {}
    canonical_of: dict[str, str] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        canonical = max(members, key=canonical_rank)
        listed = []
        for member in sorted(members):
            if member == canonical:
                continue
            jac = similarity.get(_key(member, canonical))
            if jac is None:  # joined through a third copy
                jac = jaccard(sets[member], sets[canonical])
            listed.append((member, round(jac, 4)))
            duplicate_of[member] = (canonical, jac)
        for member in members:
            canonical_of[member] = canonical
        clusters.append(DuplicateCluster(canonical, listed))
    clusters.sort(key=lambda c: (-len(c.members), rows[c.canonical].key))
    # A version is superseded by the canonical copy of its successor.
    # (never by one older than itself, which could make two editions supersede each other).
    superseded_by = {
        old: canonical_of.get(new, new)
        for old, new in superseded_by.items()
        if canonical_of.get(new, new) != canonical_of.get(old, old)
        and rows[canonical_of.get(new, new)].updated_at > rows[old].updated_at
    }

    # Chunk-level copies: one text in two documents that are not copies as a whole.
    chunk_duplicates: dict[str, tuple[str, float]] = {}
    for pair in chunk_pairs:
        if pair.cosine < settings.chunk_duplicate_cosine:
            continue
        first, second = chunks.payloads[position[pair.a]], chunks.payloads[position[pair.b]]
        docs = _key(first.doc_id, second.doc_id)
        if docs in conflicting or docs in distinct:
            continue
        if numbers(first.text) != numbers(second.text):
            # "The 2025 term election ..." and "The 2026 term ..." embed alike; one text
            # states the same numbers.
            continue
        keep, fold = (
            (pair.a, pair.b)
            if canonical_rank(first.doc_id) >= canonical_rank(second.doc_id)
            else (pair.b, pair.a)
        )
        if fold not in chunk_duplicates and keep not in chunk_duplicates:
            chunk_duplicates[fold] = (keep, pair.cosine)

    found = _onto_canonical(found, duplicate_of, texts, rows, resolutions)
    if settings.judge.url and found:
        # On the final ids: a veto on a conflict that moved onto a canonical copy stays known.
        found = _judged(found, resolutions, settings)
    results = [
        DocumentState(
            doc_id=doc_id,
            state=states[doc_id],
            expires_at=expires[doc_id],
            duplicate_of=duplicate_of[doc_id][0] if doc_id in duplicate_of else None,
            similarity=round(duplicate_of[doc_id][1], 4) if doc_id in duplicate_of else None,
            superseded_by=superseded_by.get(doc_id),
        )
        for doc_id in sorted(rows)
    ]
    conflict_list = sorted(found.values(), key=lambda c: (-c.confidence, c.conflict_id))
    scan_report = ScanReport(
        scan_id=scan_id,
        documents=len(rows),
        clusters=clusters,
        superseded=superseded_by,
        conflicts=conflict_list,
        states=states,
        chunk_duplicates=len(chunk_duplicates),
        duration_s=0.0,
        timings=timings,
    )
    report("saving", 0, len(results))
    mark = lap("classify", mark)
    scan_report.duration_s = time.perf_counter() - started
    records.save_scan(
        scan_id,
        results,
        [(c, k, cos) for c, (k, cos) in chunk_duplicates.items()],
        conflict_list,
        scan_report.summary(),
        scan_report.duration_s,
    )
    lap("save", mark)
    scan_report.duration_s = time.perf_counter() - started
    log.info("hygiene scan %d: %s", scan_id, scan_report.summary())
    return scan_report


# Title words that name a kind of document, or no subject at all.
_GENERIC = frozenset(
    "policy policies guide guidelines process procedure overview handbook notes note page "
    "document information general about manual faq readme index update updates "
    # function words of four letters or more
    "also been before being both could does each from have having here into just many more "
    "most much must only other over same should some such than that their them then there "
    "these they this those through under very were what when where which while will with "
    "within without would your yours after again against because below between during "
    "further once until upon used using".split()
)
# Chunks of other documents that mention a document's title, compared per document, at most.
_TOPIC_PAIRS_PER_DOCUMENT = 30


def _topic_pairs(
    rows: Mapping[str, DocumentRow], chunks: _Chunks, settings: HygieneSettings
) -> set[tuple[int, int]]:
    """Chunk pairs about one subject though worded apart: one names the other's title.

    "The on-call tool is PagerDuty" and "Tier 2 pages the engineering on-call through Opsgenie"
    embed far apart; the second names the first's title ("Engineering On-Call Policy").
    """
    postings: dict[str, set[int]] = defaultdict(set)
    for n, payload in enumerate(chunks.payloads):
        for word in set(words(payload.text)):
            postings[word].add(n)
    of_doc = chunks.of_doc
    found: set[tuple[int, int]] = set()
    for doc_id, row in rows.items():
        terms = sorted({t for t in words(row.title) if len(t) >= 4 and t not in _GENERIC})
        if len(terms) < 2 or not of_doc.get(doc_id):
            continue
        hits: dict[int, int] = defaultdict(int)
        for term in terms:
            for n in postings.get(term, ()):
                hits[n] += 1
        needed = min(len(terms), 2)
        mentions = [
            n for n, count in hits.items() if count >= needed and chunks.owners[n] != doc_id
        ]
        if not mentions:
            continue
        own = of_doc[doc_id]
        scores = chunks.vectors[own] @ chunks.vectors[mentions].T
        best = [
            (float(scores[r, c]), own[r], mentions[c])
            for r, c in zip(*np.nonzero(scores >= settings.topic_cosine), strict=True)
        ]
        best.sort(reverse=True)
        for _, mine, other in best[:_TOPIC_PAIRS_PER_DOCUMENT]:
            found.add((min(mine, other), max(mine, other)))
    return found


# Above this many documents, a title or stem is generic ("README", "index"), not a subject.
_MAX_SUBJECT_GROUP = 20


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


def _judged(
    found: dict[str, Conflict], known: Mapping[str, Conflict], settings: HygieneSettings
) -> dict[str, Conflict]:
    """New conflicts put to the judge; a veto resolves one as "both_valid", by the judge.

    Vetoed conflicts stay on record (with include_resolved) so a rescan does not ask again and
    an owner can see, and overturn, what the judge decided.
    """
    assert settings.judge.url is not None
    judge = LlmJudge(
        settings.judge.url, settings.judge.model, settings.judge.api_key, settings.judge.timeout_s
    )
    vetoed = 0
    judged: dict[str, Conflict] = {}
    try:
        for ident, conflict in found.items():
            if ident in known or judge.confirms(conflict.a_span, conflict.b_span):
                judged[ident] = conflict
                continue
            vetoed += 1
            judged[ident] = replace(
                conflict,
                resolution="both_valid",
                resolved_by=f"judge {settings.judge.model}",
                resolved_at=utc_now(),
            )
    finally:
        judge.close()
    log.info(
        "the judge vetoed %d of %d conflicts (%d questions failed and kept the conflict)",
        vetoed,
        len(found),
        judge.failures,
    )
    return judged


def _resolution_of(known: Conflict | None) -> dict[str, Any]:
    """A conflict seen before keeps its owner's (or the judge's) resolution under the same id."""
    if known is None:
        return {"resolution": None, "resolved_by": None, "resolved_at": None}
    return {
        "resolution": known.resolution,
        "resolved_by": known.resolved_by,
        "resolved_at": known.resolved_at,
    }


def _onto_canonical(
    found: dict[str, Conflict],
    duplicate_of: Mapping[str, tuple[str, float]],
    texts: Mapping[str, str],
    rows: Mapping[str, DocumentRow],
    resolutions: Mapping[str, Conflict],
) -> dict[str, Conflict]:
    """A conflict seen through a copy belongs to the copy's canonical document, which the owner
    maintains and retrieval shows, when that document states the same sentence."""
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
                **_resolution_of(known),
            ),
        )
    return moved


# Beyond this many words a side, a word diff costs more than it tells; containment decides.
_DIFF_WORDS = 5000


_NEGATIONS = frozenset(("not", "no", "never", "cannot", "nor", "none", "without"))


def _rewords(a: str, b: str) -> bool:
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


def _key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


__all__ = ["DuplicateCluster", "Review", "ScanReport", "scan"]
