"""Hygiene-aware ranking and the near-duplicate primitives, without a model or a store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from hygiene.dedup import jaccard, shingles, similar_chunks, similar_documents
from hygiene.review import copy_marked, subject
from retrieval.ranking import factor, select
from steward.domain import Candidate, DocumentMark, HygieneSnapshot, ReviewState
from steward.settings import HygieneSettings

NOW = datetime(2026, 11, 26, tzinfo=UTC)
FRESH = NOW - timedelta(days=1)
SETTINGS = HygieneSettings()


def snap(marks: dict[str, DocumentMark], chunks: dict[str, str] | None = None) -> HygieneSnapshot:
    return HygieneSnapshot(marks, chunks or {}, 1)


def cand(chunk: str, score: float, doc: str, text: str | None = None) -> Candidate:
    return Candidate(chunk, score, text or f"hash-{chunk}", doc)


def test_a_superseded_edition_drops_below_its_successor() -> None:
    ranked = [
        cand("old", 1.0, "old-doc"),
        cand("new", 0.97, "new-doc"),
        cand("x", 0.8, "x"),
        cand("floor", 0.0, "floor"),
    ]
    marks = {
        "old-doc": DocumentMark(FRESH, superseded_by="new-doc"),
        "new-doc": DocumentMark(FRESH),
        "x": DocumentMark(FRESH),
    }
    picked = select(ranked, 3, snap(marks), SETTINGS, NOW)
    assert [p.chunk_id for p in picked] == ["new", "x", "old"]  # 1.0 x 0.5 < 0.8
    assert picked[2].flags == ("superseded",) and picked[2].superseded_by == "new-doc"


def test_an_old_edition_that_matches_far_better_still_ranks_below_its_successor() -> None:
    ranked = [
        cand("old", 1.0, "old-doc"),
        cand("x", 0.45, "x"),
        cand("new", 0.3, "new-doc"),
        cand("oldest", 0.9, "oldest-doc"),
        cand("floor", 0.0, "floor"),
    ]
    marks = {
        "old-doc": DocumentMark(FRESH, superseded_by="new-doc"),
        "oldest-doc": DocumentMark(FRESH, superseded_by="old-doc"),
        "new-doc": DocumentMark(FRESH),
    }
    picked = select(ranked, 4, snap(marks), SETTINGS, NOW)
    # The factor alone gives old 0.5 and oldest 0.45, both above new (0.3).
    assert [p.chunk_id for p in picked] == ["x", "new", "old", "oldest"]
    assert picked[2].score <= picked[1].score
    # A query naming the old edition keeps it where its relevance puts it.
    named = select(ranked, 4, snap(marks), SETTINGS, NOW, frozenset({"old-doc"}))
    assert [p.chunk_id for p in named][:2] == ["old", "x"]
    # Switched off, the factor alone decides.
    loose = HygieneSettings(superseded_below_successor=False)
    assert [p.chunk_id for p in select(ranked, 4, snap(marks), loose, NOW)][:2] == ["old", "x"]


def test_an_old_edition_whose_successor_is_not_a_candidate_keeps_its_place() -> None:
    ranked = [cand("old", 1.0, "old-doc"), cand("x", 0.45, "x"), cand("floor", 0.0, "floor")]
    marks = {"old-doc": DocumentMark(FRESH, superseded_by="elsewhere")}
    assert [p.chunk_id for p in select(ranked, 2, snap(marks), SETTINGS, NOW)] == ["old", "x"]


def test_factors_are_bounded_and_never_lift_a_result() -> None:
    worst = DocumentMark(
        NOW - timedelta(days=3650), ReviewState.DEPRECATED, superseded_by="z", conflicts=3
    )
    assert 0.0 <= factor(worst, SETTINGS, NOW) < factor(DocumentMark(FRESH), SETTINGS, NOW) <= 1
    assert factor(DocumentMark(NOW + timedelta(days=30)), SETTINGS, NOW) == 1.0  # future dates
    picked = select([cand("a", 3.0, "a"), cand("b", 1.0, "b")], 2, None, SETTINGS, NOW)
    assert [(p.chunk_id, p.score) for p in picked] == [("a", 1.0), ("b", 0.0)]


def test_an_expired_page_is_only_nudged() -> None:
    marks = {"a": DocumentMark(FRESH, ReviewState.EXPIRED), "b": DocumentMark(FRESH)}
    ranked = [cand("a", 1.0, "a"), cand("b", 0.9, "b"), cand("c", 0.0, "c")]
    picked = select(ranked, 3, snap(marks), SETTINGS, NOW)
    assert [p.chunk_id for p in picked][:2] == ["a", "b"]
    assert picked[0].flags == ("stale",)


def test_copies_fold_into_their_canonical_hit_or_stand_in_when_it_is_absent() -> None:
    marks = {
        "orig": DocumentMark(FRESH),
        "copy": DocumentMark(FRESH, duplicate_of="orig"),
        "lone": DocumentMark(FRESH, duplicate_of="elsewhere"),
    }
    ranked = [
        cand("c1", 1.0, "copy"),
        cand("o1", 0.9, "orig"),
        cand("l1", 0.8, "lone"),
        cand("z", 0.0, "z"),
    ]
    picked = select(ranked, 10, snap(marks), SETTINGS, NOW)
    assert [p.chunk_id for p in picked] == ["o1", "l1", "z"]
    assert picked[0].duplicates == ("copy",)
    assert picked[1].duplicate_of == "elsewhere" and "duplicate_of" in picked[1].flags
    hidden = select(ranked, 10, snap(marks), HygieneSettings(duplicates="hide"), NOW)
    assert [p.chunk_id for p in hidden] == ["o1", "z"]


def test_identical_texts_and_chunk_level_copies_take_one_slot() -> None:
    ranked = [
        cand("a", 1.0, "d1", text="same"),
        cand("b", 0.9, "d2", text="same"),
        cand("c", 0.8, "d3"),
        cand("d", 0.7, "d4"),
    ]
    picked = select(ranked, 10, snap({}, {"d": "c"}), SETTINGS, NOW)
    assert [p.chunk_id for p in picked] == ["a", "c"]
    assert picked[0].duplicates == ("d2",) and picked[1].duplicates == ("d4",)


def test_without_a_scan_results_rank_by_relevance_alone() -> None:
    ranked = [cand("a", 0.3, "a"), cand("b", 0.2, "b")]
    assert [p.chunk_id for p in select(ranked, 1, None, SETTINGS, NOW)] == ["a"]
    assert select([], 5, None, SETTINGS, NOW) == []


# -- near-duplicate primitives ----------------------------------------------------------------


def test_shingles_keep_numbers_whole_and_jaccard_is_exact() -> None:
    assert shingles("Pay $5,000 now", 2) == {"pay 5,000", "5,000 now"}
    assert shingles("short", 3) == {"short"} and shingles("", 3) == set()
    assert jaccard({"a", "b"}, {"b", "c"}) == pytest.approx(1 / 3)


def test_similar_documents_confirms_candidates_by_exact_jaccard() -> None:
    base = " ".join(f"word{i}" for i in range(200))
    texts = {
        "a": base,
        "b": base + " extra words at the end",
        "c": " ".join(f"other{i}" for i in range(200)),
    }
    pairs = similar_documents(texts, 3, 128, 0.8)
    assert [(p.a, p.b) for p in pairs] == [("a", "b")]
    assert pairs[0].jaccard == pytest.approx(jaccard(shingles(base, 3), shingles(texts["b"], 3)))


def test_similar_chunks_skips_chunks_of_one_document() -> None:
    vectors = np.asarray([[1, 0], [1, 0], [0.99, 0.141], [0, 1]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    found = list(similar_chunks(["a0", "a1", "b0", "c0"], ["a", "a", "b", "c"], vectors, 0.9, 3))
    assert {(p.a, p.b) for p in found} == {("a0", "b0"), ("a1", "b0")}


def test_edition_words_and_copy_places() -> None:
    assert subject("Travel Policy (2023)") == subject("travel-policy") == "travel policy"
    assert subject("password-policy-old") == "password policy"
    assert copy_marked("legal/exports/retention.html") and copy_marked("eng/archive/a.txt")
    assert not copy_marked("legal/data-retention-policy.md")


def test_a_copy_ranked_first_brings_its_canonical_document_up() -> None:
    marks = {"copy": DocumentMark(FRESH, duplicate_of="orig"), "orig": DocumentMark(FRESH)}
    ranked = [cand("x", 1.0, "copy"), cand("d", 0.5, "other"), cand("c", 0.1, "orig")]
    picked = select(ranked, 1, snap(marks), SETTINGS, NOW)
    assert [(p.chunk_id, p.duplicates) for p in picked] == [("c", ("copy",))]
    assert picked[0].score == pytest.approx(1.0, abs=1e-3)  # the copy's place and score
