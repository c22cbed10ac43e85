"""Exact matches in the default hybrid mode: codes, versions, names and phrases come first.

The bundled sample knowledge base gets made-up strings planted in some pages (one a page, in
a sentence, as benchmarks/exact_match.py does on larger corpora); each is asked bare and in a
question, over a real HTTP server with the real model. The same queries under the fusion that
was the default before (dense-weighted RRF alone) lose most of them, so the test can fail.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from app.runtime import Runtime, open_runtime
from connectors.filesystem import FilesystemConnector
from evaluation.probes import build_probes
from retrieval import fusion
from retrieval.query import exact_first, identifier_tokens, is_identifier, quoted_phrases
from retrieval.ranking import select
from retrieval.search import Retriever
from steward.domain import Candidate, ChunkPayload, DocumentMark, HygieneSnapshot, ReviewState
from steward.settings import EXACT_RULES_OFF, HygieneSettings

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sample-kb"

# (page, sentence planted in it)
PLANTED = {
    "it/security/vpn-setup.md": "If the tunnel drops with code QX-4821-ZE17, re-import it.",
    "hr/leave-policy.md": "Questions about this page go to Thaddeus Vobakiru, who maintains it.",
    "finance/purchasing-approvals.md": "The zebraquartz programme was renamed.",
    "support/escalation-matrix.md": "A failed upgrade logs error 0x87EC75F0.",
    "engineering/on-call.md": "This behaviour changed in release 7.31.905 of the agent.",
}
QUERIES = [
    ("QX-4821-ZE17", "it/security/vpn-setup.md"),
    ("what does error QX-4821-ZE17 mean?", "it/security/vpn-setup.md"),
    ("who is Thaddeus Vobakiru", "hr/leave-policy.md"),
    ("zebraquartz programme renamed", "finance/purchasing-approvals.md"),
    ('"zebraquartz programme"', "finance/purchasing-approvals.md"),
    ("0x87EC75F0", "support/escalation-matrix.md"),
    ("troubleshooting error 0x87EC75F0 after an upgrade", "support/escalation-matrix.md"),
    ("7.31.905", "engineering/on-call.md"),
    ("what changed in 7.31.905?", "engineering/on-call.md"),
]
# The fusion defaults before exact matching: hybrid was dense retrieval in practice.
BEFORE = EXACT_RULES_OFF


@pytest.fixture(scope="module")
def planted_kb(
    tmp_path_factory: pytest.TempPathFactory, embedder, make_settings
) -> Iterator[Runtime]:
    root = tmp_path_factory.mktemp("exact")
    kb = root / "kb"
    shutil.copytree(SAMPLE, kb)
    for page, sentence in PLANTED.items():
        path = kb / page
        assert path.is_file(), f"the sample knowledge base lost {page}"
        path.write_text(path.read_text(encoding="utf-8") + f"\n{sentence}\n", encoding="utf-8")
    live = open_runtime(make_settings(root), embedder=embedder)
    summary = live.pipeline.run(FilesystemConnector(kb, "handbook"))
    assert summary.status == "ok", summary
    yield live
    live.close()


@pytest.fixture(scope="module")
def base_url(planted_kb: Runtime, serve_app) -> Iterator[str]:
    with serve_app(create_app(planted_kb.settings, planted_kb)) as url:
        yield url


def retriever_with(runtime: Runtime, **fields: object) -> Retriever:
    """The runtime's retriever with some retrieval settings changed."""
    settings = runtime.settings.retrieval.model_copy(update=fields)
    return Retriever(
        runtime.store,
        runtime.embedder,
        runtime.sparse,
        settings,
        runtime.settings.hygiene,
        runtime.hygiene,
    )


def first_uris(base_url: str, query: str, **body: object) -> list[str]:
    response = httpx.post(f"{base_url}/retrieve", json={"query": query, **body}, timeout=30)
    assert response.status_code == 200, response.text
    return [r["source_uri"] for r in response.json()["results"]]


@pytest.mark.parametrize(("query", "page"), QUERIES)
def test_the_planted_page_comes_first_in_the_default_mode(
    base_url: str, query: str, page: str
) -> None:
    assert first_uris(base_url, query)[0] == page


def test_the_fusion_before_exact_matching_loses_them(planted_kb: Runtime) -> None:
    before = retriever_with(planted_kb, **BEFORE)
    unquoted = [(q, p) for q, p in QUERIES if '"' not in q]
    firsts = [before.retrieve(q).hits[0].payload.source_uri == p for q, p in unquoted]
    # Most of these fail without the exact-match rules; the default test above needs all.
    assert sum(firsts) <= len(unquoted) // 2, firsts


def test_a_weak_best_dense_match_gives_the_words_an_equal_say(planted_kb: Runtime) -> None:
    def ranking(**fields: object) -> list[str]:
        retriever = retriever_with(planted_kb, **fields)
        return [h.chunk_id for h in retriever.retrieve("laptop returns after leaving").hits]

    unsure = ranking(confident_cosine=1.0, unsure_dense_weight=0.5)
    assert unsure == ranking(confident_cosine=0.0, dense_weight=0.5)
    assert ranking(confident_cosine=0.0) != unsure  # the weight matters for this query


def test_the_sample_questions_still_find_their_pages(base_url: str) -> None:
    """The sample golden set's top-1 (18 of 20 before exact matching) does not drop."""
    right = []
    for line in (SAMPLE.parent / "sample-queries.jsonl").read_text(encoding="utf-8").split("\n"):
        if line.strip():
            record = json.loads(line)
            best = {j["source_uri"] for j in record["relevant"] if j["grade"] == 2}
            right.append(first_uris(base_url, record["query"])[0] in best)
    assert len(right) == 20 and sum(right) >= 18, right


def test_a_quoted_phrase_ranks_pages_holding_it_first_in_every_mode(base_url: str) -> None:
    for mode in ("hybrid", "dense", "sparse"):
        assert first_uris(base_url, '"zebraquartz programme"', mode=mode)[0] == (
            "finance/purchasing-approvals.md"
        ), mode


def test_rare_word_probes_find_their_pages_and_dense_alone_does_not(
    planted_kb: Runtime,
) -> None:
    probes = build_probes(planted_kb, size=20)
    rare = [p for p in probes if p.query_id.startswith("probe-rare-")]
    assert len(rare) == 10 and len(probes) == 20
    retriever = planted_kb.retriever

    def hit_rate(mode: str) -> float:
        found = 0
        for probe in rare:
            hits = retriever.retrieve(probe.text, top_k=10, mode=mode).hits  # type: ignore[arg-type]
            found += probe.relevant[0].doc_id in {h.payload.doc_id for h in hits}
        return found / len(rare)

    assert hit_rate("hybrid") == 1.0
    assert hit_rate("dense") < hit_rate("hybrid")


# -- the pieces, without a model -----------------------------------------------------------


@pytest.mark.parametrize(
    "word",
    [
        "QX-4821-ZE17",
        "0x87EC75F0",
        "7.31.905",
        "v2.1",
        "E404",
        "HTTPException",
        "allow_credentials",
        "(ZE17),",
        "2024-11-05",
    ],
)
def test_identifier_shaped_words(word: str) -> None:
    assert is_identifier(word)


@pytest.mark.parametrize(
    "word",
    [
        "policy",
        "2024",
        "30",
        "Thaddeus",
        "don't",
        "e-mail",
        "a",
        "U.S.",
        "P1",
        "4G",
        "1990s",
        "21st",
        "10am",
        "10:30",
        "3.14",
        "555-1234",
        "APIs",
        "URLs",
        "16GB",
        "10-hour",
        "30-day",
        "2-factor",
        "b2b",
        "H2O",
    ],
)
def test_ordinary_words_are_not_identifiers(word: str) -> None:
    assert not is_identifier(word)


def test_identifier_tokens_and_quoted_phrases_are_read_from_the_query() -> None:
    assert identifier_tokens("why does QX-4821-ZE17 appear in 7.31.905?") == [
        "QX-4821-ZE17",
        "7.31.905",
    ]
    assert quoted_phrases('the "Zebraquartz   Programme" and “travel policy” but ""') == [
        "zebraquartz programme",
        "travel policy",
    ]


def test_lexical_anchors_are_the_hits_before_a_large_drop() -> None:
    tail = [("c", 2.0), ("d", 1.9), ("e", 1.8), ("f", 1.7), ("g", 1.6)]
    assert fusion.lexical_anchors([("a", 9.0), ("b", 8.5), *tail], 2.0, 5) == ["a", "b"]
    # No drop of the factor asked for: nothing is anchored.
    assert fusion.lexical_anchors([("a", 2.2), ("b", 2.1), *tail], 2.0, 5) == []
    # A list that ends within the depth: nothing else matched, so its hits are anchors.
    assert fusion.lexical_anchors([("a", 3.0), ("b", 2.9)], 2.0, 5) == ["a", "b"]
    assert fusion.lexical_anchors([("a", 3.0)], 0.0, 5) == []
    # A large drop before the list's end decides: the pages matching only the common part of a
    # name (a first name several pages share) are not anchors.
    shared = [("a", 13.3), ("b", 6.3), ("c", 6.1), ("d", 5.6)]
    assert fusion.lexical_anchors(shared, 1.3, 5) == ["a"]


def test_anchored_hits_rise_above_the_rest_in_their_order() -> None:
    fused = [("x", 0.9), ("y", 0.8), ("a", 0.2), ("b", 0.1)]
    lifted = fusion.anchored(fused, ["b", "a"])
    assert [i for i, _ in sorted(lifted, key=lambda p: -p[1])] == ["a", "b", "x", "y"]
    assert fusion.anchored(fused, ["zzz"]) == fused


def test_an_anchor_is_still_demoted_when_superseded_and_only_nudged_when_expired() -> None:
    fused = fusion.anchored([("best", 0.9), ("other", 0.5), ("anchor", 0.1)], ["anchor"])
    ranked = [Candidate(i, s, f"hash-{i}", f"doc-{i}") for i, s in fused]
    now = datetime(2026, 12, 1, tzinfo=UTC)

    def first(state: ReviewState, superseded_by: str | None = None) -> str:
        marks = {"doc-anchor": DocumentMark(now, state=state, superseded_by=superseded_by)}
        picked = select(ranked, 3, HygieneSnapshot(marks, {}, 1), HygieneSettings(), now)
        return picked[0].chunk_id

    assert first(ReviewState.UNVERIFIED) == "anchor"
    assert first(ReviewState.EXPIRED) == "anchor"
    assert first(ReviewState.UNVERIFIED, superseded_by="doc-best") == "best"
    assert first(ReviewState.DEPRECATED) == "best"


def chunk(text: str) -> ChunkPayload:
    return ChunkPayload("d", "s", "u", "", "", text, "2026-01-01", "2026-01-01", "h", None, [])


def test_exact_first_lifts_rare_codes_and_leaves_common_ones() -> None:
    texts = {f"c{n}": f"filler page {n} about BW-200 robots" for n in range(40)}
    texts["c30"] = "the BW-200 dock reports QX-4821-ZE17 when the charger is unplugged"
    texts["c35"] = "QX-4821-ZE17 is also listed here, without the robot"
    ranked = [Candidate(i, 1.0 - n / 100, f"h{i}", f"doc-{i}") for n, i in enumerate(texts)]
    payloads = {i: chunk(t) for i, t in texts.items()}

    def order(identifiers: list[str], phrases: list[str] = []) -> list[str]:  # noqa: B006
        moved = exact_first(ranked, payloads, phrases, identifiers)
        return [c.chunk_id for c in sorted(moved, key=lambda c: -c.score)]

    # The rare code lifts its two holders; the one holding both words comes first.
    assert order(["QX-4821-ZE17", "BW-200"])[:3] == ["c30", "c35", "c0"]
    # BW-200 is in every candidate: a common word here, it moves nothing.
    assert order(["BW-200"]) == list(texts)
    # A quoted phrase lifts its holders even with a common code beside it.
    assert order(["BW-200"], ["charger is unplugged"])[0] == "c30"
    # Nothing holds the phrase: nothing moves.
    assert order([], ["no page says this"]) == list(texts)


def test_a_guaranteed_place_moves_a_hit_up_and_never_down() -> None:
    fused = [("a", 4.0), ("b", 3.0), ("c", 2.0), ("d", 1.0)]
    moved = fusion.guarantee(fused, "d", 2)
    assert [i for i, _ in sorted(moved, key=lambda p: -p[1])] == ["a", "d", "b", "c"]
    assert fusion.guarantee(fused, "a", 2) == fused
