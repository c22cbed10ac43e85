"""Each stage of the hygiene scan on a corpus built by hand: no model, no index, no catalog.

A corpus is a few documents of one chunk each, with unit vectors chosen so that which chunks
are alike is stated, not embedded. Each test runs the stages a detector needs before it, then
checks the fields that detector writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from hygiene.corpus import Chunks, Corpus
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
from hygiene.findings import FINDING_KINDS, Findings, ScanReport, pair_key
from hygiene.records import Conflict, Review
from hygiene.scan import detectors
from steward.catalog import DocumentRow
from steward.domain import ChunkPayload, ReviewState
from steward.settings import HygieneSettings

NOW = datetime(2026, 6, 1, tzinfo=UTC)
SETTINGS = HygieneSettings()

TRAVEL = (
    "Employees book flights and hotels through Concur at least fourteen days before the trip. "
    "The standard hotel limit is $180 per night before taxes. Meals are reimbursed against "
    "itemised receipts, and alcohol is never reimbursed. Personal car mileage is paid at the "
    "published rate for each mile driven on company business, and parking is reimbursed too."
)
VPN = (
    "Connect to the corporate network with the WireGuard client before opening internal tools. "
    "Request a profile from the IT help desk; profiles are issued within one business day and "
    "must be renewed when a laptop is replaced or reimaged by the service team."
)


@dataclass(frozen=True)
class Doc:
    doc_id: str
    key: str
    title: str
    text: str
    vector: Sequence[float]
    age_days: int = 10
    source: str = "handbook"


def corpus(
    docs: Sequence[Doc],
    configs: dict[str, dict[str, object]] | None = None,
    reviews: dict[str, Review] | None = None,
    distinct: set[tuple[str, str]] | None = None,
    resolutions: dict[str, Conflict] | None = None,
) -> Corpus:
    """A corpus of one chunk per document (chunk id "<doc>#0"), in the order given."""
    rows: dict[str, DocumentRow] = {}
    payloads: list[ChunkPayload] = []
    for doc in docs:
        updated = NOW - timedelta(days=doc.age_days)
        rows[doc.doc_id] = DocumentRow(
            doc_id=doc.doc_id,
            source=doc.source,
            key=doc.key,
            source_uri=f"file:///kb/{doc.key}",
            content_hash=f"hash-{doc.doc_id}",
            pipeline_version="1",
            title=doc.title,
            owner=None,
            review_by=None,
            tags=[],
            acl=[],
            updated_at=updated,
            size=len(doc.text),
            first_seen=updated,
            last_ingested=updated,
            chunk_ids=[f"{doc.doc_id}#0"],
            line_hashes=[],
        )
        payloads.append(
            ChunkPayload(
                doc_id=doc.doc_id,
                source=doc.source,
                source_uri=f"file:///kb/{doc.key}",
                title=doc.title,
                section="",
                text=doc.text,
                updated_at=updated.isoformat(),
                ingested_at=updated.isoformat(),
                content_hash=f"chunk-{hash(doc.text)}",
                owner=None,
                acl=[],
            )
        )
    vectors = np.asarray([doc.vector for doc in docs], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"{doc.doc_id}#0" for doc in docs]
    chunks = Chunks(
        ids=ids,
        owners=[doc.doc_id for doc in docs],
        payloads=payloads,
        vectors=vectors,
        of_doc={doc.doc_id: [n] for n, doc in enumerate(docs)},
        position={chunk_id: n for n, chunk_id in enumerate(ids)},
    )
    return Corpus(
        rows=rows,
        texts={doc.doc_id: doc.text for doc in docs},
        chunks=chunks,
        configs=configs or {doc.source: {} for doc in docs},
        reviews=reviews or {},
        distinct=distinct or set(),
        resolutions=resolutions or {},
        now=NOW,
    )


def run(corpus: Corpus, *stages: Detector) -> Findings:
    found = Findings()
    for stage in stages:
        stage.run(corpus, found)
    return found


def upto(stage: type) -> list[Detector]:
    """The default pipeline's stages before `stage`, then `stage` itself."""
    stages = detectors(SETTINGS)
    names = [type(s) for s in stages]
    return stages[: names.index(stage) + 1]


# -- the pipeline ---------------------------------------------------------------------------


def test_the_pipeline_lists_each_stage_once_and_the_judge_only_when_given() -> None:
    class Always:
        model = "always"
        failures = 0

        def confirms(self, a_span: str, b_span: str) -> bool:
            return True

    plain = [type(s) for s in detectors(SETTINGS)]
    assert plain == [
        ReviewStates,
        SimilarDocuments,
        SimilarChunks,
        ConflictCandidates,
        ValueConflicts,
        CopiesAndEditions,
        Clusters,
        ChunkCopies,
        ConflictOwners,
    ]
    assert [type(s) for s in detectors(SETTINGS, Always())] == [*plain, JudgeVeto]
    # Phases run in the order the summary's timings list them.
    phases = list(dict.fromkeys(s.phase for s in detectors(SETTINGS)))
    assert phases == ["documents", "chunks", "conflicts", "classify"]


def test_the_summary_counts_every_finding_kind_in_the_listed_order() -> None:
    report = ScanReport(
        scan_id=1,
        documents=3,
        clusters=[],
        superseded={"a": "b"},
        conflicts=[],
        states={"a": ReviewState.EXPIRED, "b": ReviewState.UNVERIFIED},
        chunk_duplicates=2,
        duration_s=0.0,
    )
    summary = report.summary()
    assert list(summary) == [
        "documents",
        *(kind.name for kind in FINDING_KINDS),
        "states",
        "duration_s",
        "timings",
    ]
    assert summary["superseded"] == 1 and summary["chunk_duplicates"] == 2
    assert summary["states"] == {"expired": 1, "unverified": 1}
    exported = [kind.name for kind in FINDING_KINDS if kind.exported]
    assert exported == ["duplicates", "superseded", "unresolved_conflicts", "chunk_duplicates"]


# -- review states --------------------------------------------------------------------------


def test_review_states_expire_by_the_sources_interval_and_keep_deprecation() -> None:
    docs = [
        Doc("old", "a.md", "A", TRAVEL, [1, 0], age_days=400),
        Doc("kept", "b.md", "B", VPN, [0, 1], age_days=400, source="wiki"),
        Doc("dropped", "c.md", "C", VPN, [0, 1], age_days=1),
    ]
    deprecated = Review("dropped", None, None, None, NOW - timedelta(days=1), "ana")
    view = corpus(
        docs,
        configs={"handbook": {}, "wiki": {"review_interval_days": 1000}},
        reviews={"dropped": deprecated},
    )
    found = run(view, ReviewStates(365))
    assert found.states == {
        "old": ReviewState.EXPIRED,
        "kept": ReviewState.UNVERIFIED,
        "dropped": ReviewState.DEPRECATED,
    }
    assert found.expires["old"] == view.rows["old"].updated_at + timedelta(days=365)
    assert found.expires["kept"] == view.rows["kept"].updated_at + timedelta(days=1000)


# -- documents and chunks alike -------------------------------------------------------------


def test_similar_documents_pair_copies_and_renamed_rewrites_not_strangers() -> None:
    rewrite = TRAVEL.replace("fourteen days", "ten days").replace("$180", "$220")
    docs = [
        Doc("copy1", "finance/travel.md", "Travel Policy", TRAVEL, [1, 0]),
        Doc("copy2", "archive/travel-copy.md", "Travel Policy", TRAVEL, [1, 0]),
        Doc("rewrite", "finance/travel-2023.md", "Travel Policy", rewrite, [1, 0], age_days=300),
        Doc("vpn", "it/vpn.md", "VPN", VPN, [0, 1]),
    ]
    found = run(corpus(docs), SimilarDocuments(SETTINGS))
    pairs = {(p.a, p.b): p.jaccard for p in found.document_pairs}
    assert pairs[("copy1", "copy2")] == 1.0
    assert 0.5 <= pairs[("copy1", "rewrite")] < 1.0
    assert not any("vpn" in pair for pair in pairs)
    assert set(found.shingles) == {"copy1", "copy2", "rewrite", "vpn"}


def test_similar_chunks_pair_only_close_vectors_of_different_documents() -> None:
    docs = [
        Doc("a", "a.md", "A", TRAVEL, [1, 0, 0]),
        Doc("b", "b.md", "B", TRAVEL, [0.99, 0.1, 0]),
        Doc("c", "c.md", "C", VPN, [0, 0, 1]),
    ]
    found = run(corpus(docs), SimilarChunks(SETTINGS))
    assert [(p.a, p.b) for p in found.chunk_pairs] == [("a#0", "b#0")]
    assert found.chunk_pairs[0].cosine > 0.99


def test_conflict_candidates_are_close_chunks_and_chunks_of_similar_documents() -> None:
    edited = TRAVEL.replace("$180", "$220")
    docs = [
        Doc("a", "a.md", "Travel", TRAVEL, [1, 0, 0]),
        Doc("b", "b.md", "Travel", edited, [0.9, 0.43, 0]),  # cosine 0.9: a candidate
        Doc("c", "c.md", "Other", edited, [0, 0, 1]),  # far apart, but an edit of a's text
        Doc("d", "d.md", "Same", TRAVEL, [0, 1, 0]),  # a's exact text: nothing to compare
    ]
    found = run(corpus(docs), *upto(ConflictCandidates))
    assert (0, 1) in found.candidates  # cosine above conflict_cosine
    assert (0, 2) in found.candidates  # similar documents, whatever their vectors
    assert (0, 3) not in found.candidates  # Jaccard 1.0: identical texts state nothing new


def test_a_title_named_by_common_words_alone_is_no_mention(monkeypatch: pytest.MonkeyPatch) -> None:
    from hygiene.detectors import conflict_candidates

    monkeypatch.setattr(conflict_candidates, "COMMON_WORD_CHUNKS", 3)
    # "engineering" and "rotation" in four chunks each, common in this corpus; the fillers' vectors
    # are close enough to the policy's (cosine 0.5) that only the words decide.
    filler = [
        Doc(
            f"f{n}",
            f"f{n}.md",
            f"Filler {n}",
            f"Engineering rotation notes, week {n}.",
            [0.5, 0.5, 0.7],
        )
        for n in range(4)
    ]
    docs = [
        Doc(
            "policy", "oncall.md", "Engineering Pager Rotation", "Pages go to PagerDuty.", [1, 0, 0]
        ),
        # The rare title word beside a common one: a mention, though worded apart.
        Doc(
            "rare",
            "tier2.md",
            "Tier 2",
            "Tier 2 uses the pager rotation of Opsgenie.",
            [0.6, 0.8, 0],
        ),
        *filler,
    ]
    found = run(corpus(docs), *upto(ConflictCandidates))
    policy, rare = 0, 1
    assert (policy, rare) in found.topical
    # The fillers hold two of the title's words, both common: no mention of the policy page.
    assert not any(policy in pair and rare not in pair for pair in found.topical)


# -- conflicts ------------------------------------------------------------------------------


def _editions() -> list[Doc]:
    edited = TRAVEL.replace("$180", "$220")
    return [
        Doc("old", "finance/travel-2023.md", "Travel Policy", TRAVEL, [1, 0], age_days=300),
        Doc("new", "finance/travel.md", "Travel Policy", edited, [1, 0.05]),
    ]


def test_value_conflicts_name_the_older_side_a_and_the_newer_b() -> None:
    found = run(corpus(_editions()), *upto(ValueConflicts))
    (conflict,) = found.conflicts.values()
    assert (conflict.a_doc, conflict.b_doc, conflict.newer) == ("old", "new", "b")
    assert (conflict.kind, conflict.a_value, conflict.b_value) == ("money", "$180", "$220")
    assert conflict.resolution is None
    assert found.disagreeing == found.contradicting == {pair_key("old", "new")}


def test_a_conflict_on_record_keeps_its_resolution() -> None:
    first = run(corpus(_editions()), *upto(ValueConflicts))
    (ident,) = first.conflicts
    resolved = replace(first.conflicts[ident], resolution="keep_b", resolved_by="ana")
    again = run(corpus(_editions(), resolutions={ident: resolved}), *upto(ValueConflicts))
    assert (again.conflicts[ident].resolution, again.conflicts[ident].resolved_by) == (
        "keep_b",
        "ana",
    )


# -- copies, editions, clusters -------------------------------------------------------------


def test_a_stated_difference_makes_editions_and_same_texts_make_copies() -> None:
    docs = [
        *_editions(),
        Doc("copy", "archive/travel-copy.md", "Travel Policy", _editions()[1].text, [1, 0.05]),
    ]
    found = run(corpus(docs), *upto(CopiesAndEditions))
    assert found.copy_groups == [["new", "copy"]]
    assert found.superseded == {"old": "new"}


def test_a_short_page_with_a_sentence_replaced_is_an_edition_when_its_name_says_so() -> None:
    # One sentence of three replaced: a shingle Jaccard under version_jaccard and no stated
    # difference (the messy msmarco set's sentence_replaced editions, 2 of 43 queries).
    current = (
        "RSA involves a public key and a private key. The public key can be known by everyone. "
        "Messages encrypted with the public key can only be decrypted with the private key."
    )
    older = (
        "RSA involves a public key and a private key. The public key can be known by everyone. "
        "Please contact the records office for the archived attachments of this page."
    )
    title = "RSA involves a public key"
    pages = [
        Doc("new", "legal/rsa-4737063.md", title, current, [1, 0]),
        Doc("old", "legal/archive/rsa-4737063-v1.md", title, older, [1, 0.1], age_days=400),
    ]
    found = run(corpus(pages), *upto(CopiesAndEditions))
    pair = next(p for p in found.document_pairs if {p.a, p.b} == {"new", "old"})
    assert SETTINGS.subject_jaccard <= pair.jaccard < SETTINGS.version_jaccard
    assert found.superseded == {"old": "new"}
    # The same texts under another page's name (another id) are two pages, not editions.
    other = [pages[0], replace(pages[1], key="legal/rsa-5247992.md")]
    assert run(corpus(other), *upto(CopiesAndEditions)).superseded == {}


def test_an_owners_not_a_duplicate_keeps_two_copies_apart() -> None:
    docs = [
        Doc("a", "a.md", "A", TRAVEL, [1, 0]),
        Doc("b", "b.md", "B", TRAVEL, [1, 0]),
    ]
    assert run(corpus(docs), *upto(CopiesAndEditions)).copy_groups == [["a", "b"]]
    apart = corpus(docs, distinct={("a", "b")})
    assert run(apart, *upto(CopiesAndEditions)).copy_groups == []


def test_clusters_keep_the_ranked_copy_and_point_old_editions_at_it() -> None:
    docs = [
        Doc("old", "finance/travel-2023.md", "Travel Policy", TRAVEL, [1, 0], age_days=300),
        Doc(
            "copy",
            "archive/travel-copy.md",
            "Travel Policy",
            TRAVEL.replace("$180", "$220"),
            [1, 0.05],
        ),
        Doc("new", "finance/travel.md", "Travel Policy", TRAVEL.replace("$180", "$220"), [1, 0.05]),
    ]
    found = run(corpus(docs), *upto(Clusters))
    (cluster,) = found.clusters
    # Not filed as a copy wins over the archive's copy, though both are as recent.
    assert cluster.canonical == "new" and cluster.members == [("copy", 1.0)]
    assert found.duplicate_of == {"copy": ("new", 1.0)}
    assert found.canonical_of == {"copy": "new", "new": "new"}
    assert found.superseded == {"old": "new"}


def test_a_verified_copy_is_canonical_whatever_its_path() -> None:
    docs = [
        Doc("a", "finance/travel.md", "Travel", TRAVEL, [1, 0]),
        Doc("b", "archive/travel-copy.md", "Travel", TRAVEL, [1, 0]),
    ]
    verified = Review("b", NOW - timedelta(days=1), "ana", "hash-b", None, None)
    found = run(corpus(docs, reviews={"b": verified}), *upto(Clusters))
    assert found.states["b"] is ReviewState.VERIFIED
    assert [c.canonical for c in found.clusters] == ["b"]


# -- chunk copies ---------------------------------------------------------------------------


def test_chunk_copies_fold_into_the_higher_ranked_document() -> None:
    shared = "Expense reports are due within 30 days of the trip, with every receipt attached."
    docs = [
        Doc("archived", "archive/expenses.md", "Expenses", shared, [1, 0, 0]),
        Doc("current", "finance/expenses.md", "Expenses guide", shared, [1, 0.01, 0]),
        Doc("other", "finance/other.md", "Other", shared.replace("30", "60"), [1, 0.02, 0]),
    ]
    found = run(corpus(docs, distinct={("archived", "current")}), *upto(ChunkCopies))
    # An owner said archived and current are distinct; "other" states another number.
    assert found.chunk_duplicates == {}
    found = run(corpus(docs), *upto(ChunkCopies))
    # The archive's chunk folds into the current page's; "other" states another number.
    (folded,) = found.chunk_duplicates.items()
    assert folded[0] == "archived#0" and folded[1][0] == "current#0"


# -- conflict owners and the judge ----------------------------------------------------------


def test_a_conflict_seen_through_a_copy_moves_onto_the_canonical_document() -> None:
    edited = TRAVEL.replace("$180", "$220")
    docs = [
        Doc("old", "finance/travel-2023.md", "Travel Policy", TRAVEL, [1, 0], age_days=300),
        Doc("new", "finance/travel.md", "Travel Policy", edited, [1, 0.05]),
        Doc("copy", "archive/travel-copy.md", "Travel Policy", edited, [1, 0.05], age_days=5),
    ]
    view = corpus(docs)
    before = run(view, *upto(ChunkCopies))
    assert {(c.a_doc, c.b_doc) for c in before.conflicts.values()} == {
        ("old", "new"),
        ("old", "copy"),
    }
    ConflictOwners().run(view, before)
    assert {(c.a_doc, c.b_doc) for c in before.conflicts.values()} == {("old", "new")}


class VetoConcur:
    """A judge that answers "no" whenever a span mentions $180, and counts its questions."""

    model = "veto-180"
    failures = 0

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def confirms(self, a_span: str, b_span: str) -> bool:
        self.asked.append((a_span, b_span))
        return "$180" not in a_span + b_span


def test_the_judge_vetoes_new_conflicts_and_is_not_asked_about_known_ones() -> None:
    judge = VetoConcur()
    view = corpus(_editions())
    found = run(view, *detectors(SETTINGS, judge))
    (conflict,) = found.conflicts.values()
    assert (conflict.resolution, conflict.resolved_by) == ("both_valid", "judge veto-180")
    assert len(judge.asked) == 1

    again = run(corpus(_editions(), resolutions=found.conflicts), *detectors(SETTINGS, judge))
    assert len(judge.asked) == 1  # known: not asked again
    assert next(iter(again.conflicts.values())).resolution == "both_valid"


def test_the_judge_is_not_asked_when_there_is_nothing_to_judge() -> None:
    judge = VetoConcur()
    docs = [Doc("a", "a.md", "A", TRAVEL, [1, 0]), Doc("b", "b.md", "B", VPN, [0, 1])]
    found = run(corpus(docs), *detectors(SETTINGS, judge))
    assert found.conflicts == {} and judge.asked == []


@pytest.mark.parametrize("stage", detectors(SETTINGS), ids=lambda s: type(s).__name__)
def test_every_stage_runs_on_an_empty_corpus(stage: Detector) -> None:
    empty = Corpus(
        rows={},
        texts={},
        chunks=Chunks([], [], [], np.zeros((0, 2), dtype=np.float32), {}, {}),
        configs={},
        reviews={},
        distinct=set(),
        resolutions={},
        now=NOW,
    )
    found = Findings()
    stage.run(empty, found)
    assert found == Findings()


def _chunk_pairs_by_hand(
    owners: Sequence[str], vectors: np.ndarray, threshold: float, neighbours: int
) -> list[tuple[int, int, float]]:
    """similar_chunks' contract, spelled out: each chunk's best later chunks of other documents."""
    found = []
    for i in range(len(owners)):
        later = [
            (float(vectors[i] @ vectors[j]), j)
            for j in range(i + 1, len(owners))
            if owners[j] != owners[i]
        ]
        later = [(score, j) for score, j in later if score >= threshold]
        later.sort(key=lambda pair: (-pair[0], pair[1]))
        found += [(i, j, score) for score, j in later[:neighbours]]
    return found


@pytest.mark.parametrize("count", [2, 37, 300])
def test_similar_chunks_finds_each_chunks_best_later_neighbours_in_blocks(
    count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hygiene import dedup

    # Blocks of a few rows, so a corpus of 300 chunks crosses many block edges.
    monkeypatch.setattr(dedup, "_BLOCK_CELLS", 16 * count)
    generator = np.random.default_rng(count)
    centres = generator.normal(size=(5, 24))
    vectors = centres[generator.integers(0, 5, count)] + 0.4 * generator.normal(size=(count, 24))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    vectors[count // 2] = vectors[0]  # equal cosines are ordered by position
    owners = [f"doc{n // 3}" for n in range(count)]
    ids = [f"c{n}" for n in range(count)]
    found = [
        (int(p.a[1:]), int(p.b[1:]), p.cosine)
        for p in dedup.similar_chunks(ids, owners, vectors, 0.6, 4)
    ]
    expected = _chunk_pairs_by_hand(owners, vectors, 0.6, 4)
    assert [(a, b) for a, b, _ in found] == [(a, b) for a, b, _ in expected]
    assert np.allclose([c for *_, c in found], [c for *_, c in expected], atol=1e-5)
    assert count < 37 or len(found) > count  # the corpus does hold close chunks


def test_similar_chunks_above_the_exact_size_find_nearly_every_close_pair(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hygiene import dedup

    generator = np.random.default_rng(11)
    count = 3000
    centres = generator.normal(size=(60, 32))
    vectors = centres[generator.integers(0, 60, count)] + 0.35 * generator.normal(size=(count, 32))
    copies = generator.choice(count, 200, replace=False)
    vectors[copies[100:]] = vectors[copies[:100]] + 0.01 * generator.normal(size=(100, 32))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    owners = [f"doc{n}" for n in range(count)]
    ids = [f"c{n}" for n in range(count)]

    def pairs() -> dict[tuple[str, str], float]:
        return {(p.a, p.b): p.cosine for p in dedup.similar_chunks(ids, owners, vectors, 0.8, 5)}

    exact = pairs()
    monkeypatch.setattr(dedup, "EXACT_CHUNKS", 1000)  # the partition's path from here on
    monkeypatch.setattr(dedup, "_BLOCK_CELLS", 4096)  # a cell's rows in several slices
    partitioned = pairs()
    assert len(exact) > count // 2
    assert len(set(exact) & set(partitioned)) >= 0.98 * len(exact)
    assert {k for k, v in exact.items() if v >= 0.97} <= set(partitioned)  # every copy
    assert all(abs(partitioned[k] - v) < 1e-5 for k, v in exact.items() if k in partitioned)
