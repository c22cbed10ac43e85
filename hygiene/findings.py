"""What a scan finds: the typed result its detectors write, the report it returns, and the one
list of finding kinds that the scan's summary, the CLI and the metrics read."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hygiene.dedup import ChunkPair, SimilarPair
from hygiene.records import Conflict
from steward.domain import ReviewState


def pair_key(a: str, b: str) -> tuple[str, str]:
    """Two document ids in one order, so a pair is one key whichever side comes first."""
    return (a, b) if a < b else (b, a)


@dataclass(frozen=True, slots=True)
class DuplicateCluster:
    canonical: str
    members: list[tuple[str, float]]  # (doc_id, Jaccard with the canonical), canonical excluded


@dataclass
class Findings:
    """What the detectors write, stage by stage; each stage reads what the earlier ones wrote.

    Pairs of documents are keyed by `pair_key`; chunks by their position in `Corpus.chunks`.
    """

    # Review states (ReviewStates).
    states: dict[str, ReviewState] = field(default_factory=dict)
    expires: dict[str, datetime] = field(default_factory=dict)
    # Documents alike (SimilarDocuments): each one's shingles, the pairs worth reading.
    shingles: dict[str, set[str]] = field(default_factory=dict)
    document_pairs: list[SimilarPair] = field(default_factory=list)
    # Chunks alike (SimilarChunks), and the chunk pairs compared for conflicts
    # (ConflictCandidates); `topical` are those paired because one names the other's title.
    chunk_pairs: list[ChunkPair] = field(default_factory=list)
    candidates: set[tuple[int, int]] = field(default_factory=set)
    topical: set[tuple[int, int]] = field(default_factory=set)
    # Conflicts by id (ValueConflicts, then ConflictOwners and JudgeVeto), and the document pairs
    # that disagree at all (`disagreeing`) or confidently enough to be editions (`contradicting`).
    conflicts: dict[str, Conflict] = field(default_factory=dict)
    disagreeing: set[tuple[str, str]] = field(default_factory=set)
    contradicting: set[tuple[str, str]] = field(default_factory=set)
    # Copies and editions (CopiesAndEditions): groups of copies, each in the corpus's order, and
    # old -> newer edition; Clusters then picks canonical members and points the old editions
    # at their successors' canonical copies.
    copy_groups: list[list[str]] = field(default_factory=list)
    superseded: dict[str, str] = field(default_factory=dict)
    clusters: list[DuplicateCluster] = field(default_factory=list)
    duplicate_of: dict[str, tuple[str, float]] = field(default_factory=dict)
    canonical_of: dict[str, str] = field(default_factory=dict)
    # Chunk-level copies (ChunkCopies): folded chunk id -> (kept chunk id, cosine).
    chunk_duplicates: dict[str, tuple[str, float]] = field(default_factory=dict)


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
            **{kind.name: kind.count(self) for kind in FINDING_KINDS},
            "states": dict(counts),
            "duration_s": round(self.duration_s, 3),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }


@dataclass(frozen=True, slots=True)
class FindingKind:
    """A count of one kind of finding: its key in a scan's summary, and how it is counted."""

    name: str  # also the `kind` label of steward_hygiene_items
    count: Callable[[ScanReport], int]
    label: str  # how the CLI's summary names it
    exported: bool = True  # a steward_hygiene_items gauge, a CLI row (a total of another is not)


# In the order of a scan's summary. A detector that finds a new kind adds its line here.
FINDING_KINDS: tuple[FindingKind, ...] = (
    FindingKind(
        "duplicate_clusters", lambda r: len(r.clusters), "duplicate clusters", exported=False
    ),
    FindingKind(
        "duplicates", lambda r: sum(len(c.members) for c in r.clusters), "copies in clusters"
    ),
    FindingKind("superseded", lambda r: len(r.superseded), "superseded"),
    FindingKind("conflicts", lambda r: len(r.conflicts), "conflicts", exported=False),
    FindingKind(
        "unresolved_conflicts",
        lambda r: sum(1 for c in r.conflicts if c.resolution is None),
        "open conflicts",
    ),
    FindingKind("chunk_duplicates", lambda r: r.chunk_duplicates, "chunks folded as copies"),
)
