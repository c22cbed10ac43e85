"""The hygiene scan: duplicates, superseded versions, review states and conflicts, all at once.

`scan(store, catalog, records, settings, judge)` reads the catalog and the index, never a
source, runs the detectors (`hygiene/detectors/`) in order over the corpus view, and writes only
the hygiene tables (through `records`). The composition root (`app.hygiene.scan_hygiene`) hands
it the process's components.

How a pair of similar documents (shingle Jaccard at least `version_jaccard`) is read, and how a
cluster's canonical member is chosen: `hygiene/detectors/copies_and_editions.py` and
`hygiene/detectors/clusters.py`.
"""

from __future__ import annotations

import logging
import threading
import time

from hygiene.corpus import Corpus, Progress, read_corpus
from hygiene.detectors import Detector
from hygiene.detectors.chunk_copies import ChunkCopies
from hygiene.detectors.clusters import Clusters
from hygiene.detectors.conflict_candidates import ConflictCandidates
from hygiene.detectors.conflict_owners import ConflictOwners
from hygiene.detectors.copies_and_editions import CopiesAndEditions
from hygiene.detectors.judge_veto import JudgeVeto
from hygiene.detectors.review_states import ReviewStates
from hygiene.detectors.similar_chunks import SimilarChunks
from hygiene.detectors.similar_documents import SimilarDocuments
from hygiene.detectors.value_conflicts import ValueConflicts
from hygiene.findings import DuplicateCluster, Findings, ScanReport
from hygiene.judge import Judge
from hygiene.records import DocumentState, HygieneRecords, Review
from hygiene.review import numbers
from retrieval.store import VectorStore
from steward.catalog import Catalog
from steward.domain import utc_now
from steward.settings import HygieneSettings

log = logging.getLogger("steward.hygiene")


def detectors(settings: HygieneSettings, judge: Judge | None = None) -> list[Detector]:
    """The scan's stages, in the order they run; each reads what the ones before it wrote."""
    stages: list[Detector] = [
        ReviewStates(settings.review_interval_days),
        SimilarDocuments(settings),
        SimilarChunks(settings),
        ConflictCandidates(settings),
        ValueConflicts(settings),
        CopiesAndEditions(settings),
        Clusters(),
        ChunkCopies(settings),
        ConflictOwners(),
    ]
    if judge is not None:
        stages.append(JudgeVeto(judge))
    return stages


def _quiet(_stage: str, _done: int, _total: int) -> None:
    return None


def _workload(phase: str, corpus: Corpus, found: Findings) -> int:
    """What a phase works through, for the progress bar: chunks, chunk pairs or documents."""
    if phase == "chunks":
        return len(corpus.chunks.ids)
    if phase == "conflicts":
        return len(found.candidates)
    return len(corpus.rows)


_one_at_a_time = threading.Lock()


def scan(
    store: VectorStore,
    catalog: Catalog,
    records: HygieneRecords,
    settings: HygieneSettings,
    judge: Judge | None = None,
    progress: Progress | None = None,
) -> ScanReport:
    """Scan every document of the catalog and store what was found; the report.

    Scans in one process run one at a time (the scheduler's and the API's); across processes
    the catalog serialises their writes (records.save_scan).
    """
    with _one_at_a_time:
        try:
            return _scan(store, catalog, records, detectors(settings, judge), progress or _quiet)
        finally:
            numbers.cache_clear()  # it holds the scanned texts; the next scan reads them anew


def _scan(
    store: VectorStore,
    catalog: Catalog,
    records: HygieneRecords,
    stages: list[Detector],
    report: Progress,
) -> ScanReport:
    started = time.perf_counter()
    timings: dict[str, float] = {}
    scan_id = records.start_scan()
    corpus = read_corpus(store, catalog, records, utc_now(), report)
    mark = time.perf_counter()
    timings["read"] = mark - started

    found = Findings()
    for stage in stages:
        if stage.phase not in timings:
            report(stage.phase, 0, _workload(stage.phase, corpus, found))
            timings[stage.phase] = 0.0
        stage.run(corpus, found)
        moment = time.perf_counter()
        timings[stage.phase] += moment - mark
        mark = moment

    results = [
        DocumentState(
            doc_id=doc_id,
            state=found.states[doc_id],
            expires_at=found.expires[doc_id],
            duplicate_of=found.duplicate_of[doc_id][0] if doc_id in found.duplicate_of else None,
            similarity=(
                round(found.duplicate_of[doc_id][1], 4) if doc_id in found.duplicate_of else None
            ),
            superseded_by=found.superseded.get(doc_id),
        )
        for doc_id in sorted(corpus.rows)
    ]
    conflict_list = sorted(found.conflicts.values(), key=lambda c: (-c.confidence, c.conflict_id))
    scan_report = ScanReport(
        scan_id=scan_id,
        documents=len(corpus.rows),
        clusters=found.clusters,
        superseded=found.superseded,
        conflicts=conflict_list,
        states=found.states,
        chunk_duplicates=len(found.chunk_duplicates),
        duration_s=0.0,
        timings=timings,
    )
    report("saving", 0, len(results))
    moment = time.perf_counter()
    timings["classify"] = timings.get("classify", 0.0) + moment - mark
    mark = moment
    scan_report.duration_s = time.perf_counter() - started
    records.save_scan(
        scan_id,
        results,
        [(c, k, cos) for c, (k, cos) in found.chunk_duplicates.items()],
        conflict_list,
        scan_report.summary(),
        scan_report.duration_s,
    )
    timings["save"] = time.perf_counter() - mark
    scan_report.duration_s = time.perf_counter() - started
    log.info("hygiene scan %d: %s", scan_id, scan_report.summary())
    return scan_report


__all__ = ["DuplicateCluster", "Review", "ScanReport", "detectors", "scan"]
