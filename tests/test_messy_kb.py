"""The messy knowledge-base generator (benchmarks/messy_kb.py) on a small synthetic BEIR set."""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

TOPICS = (
    "payroll",
    "expense reports",
    "laptop refresh",
    "vpn access",
    "contract review",
    "sales quotas",
    "support tickets",
    "parental leave",
    "office badges",
    "cloud budgets",
)
WORDS = (
    "amber harbor quiet lantern meadow copper violet summit orchard falcon river granite "
    "willow ember canyon pebble thistle marble cedar beacon saffron glacier juniper tundra "
    "cobalt prairie lagoon basalt heron walnut zephyr quartz fennel maple osprey dune"
).split()


def _load_generator() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "messy_kb.py"
    spec = importlib.util.spec_from_file_location("messy_kb", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["messy_kb"] = module
    spec.loader.exec_module(module)
    return module


messy_kb = _load_generator()


def _passage(n: int) -> str:
    """Distinct wording per passage (so none overlap like copies), values in most of them."""
    pick = random.Random(n).sample
    topic = TOPICS[n % len(TOPICS)]
    a, b, c, d, e, f = pick(WORDS, 6)
    sentences = [
        f"The {a} {topic} handbook describes how {b} requests reach the {c} desk.",
        f"Each {d} request costs ${(n + 1) * 40} and is reviewed within {n % 9 + 2} days.",
        f"About {n % 50 + 10}% of {e} cases in {2015 + n % 8} were approved on the first try.",
        f"Managers can escalate a {f} {topic} case when the {a} owner is away.",
        f"People often ask where the {c} {e} forms live, and the {b} portal is the place.",
    ]
    if n % 3 == 0:  # some passages without any value: superseded ones then change text
        sentences = [sentences[0], sentences[3], sentences[4]]
    return " ".join(sentences)


def _write_beir(root: Path, count: int = 30) -> dict[str, dict[str, int]]:
    root.mkdir(parents=True)
    (root / "qrels").mkdir()
    with (root / "corpus.jsonl").open("w", encoding="utf-8") as handle:
        for n in range(count):
            title = f"Guide {n}" if n % 4 == 0 else ""
            # The last passage restates the one before it, as MS MARCO's often do.
            text = _passage(n - 1).replace("handbook", "guide") if n == count - 1 else _passage(n)
            handle.write(json.dumps({"_id": f"d{n}", "title": title, "text": text}) + "\n")
    qrels = {f"q{q}": {f"d{n}": 1 + n % 3 for n in range(q, count, 5)} for q in range(4)}
    with (root / "queries.jsonl").open("w", encoding="utf-8") as handle:
        for qid in [*qrels, "q-unjudged"]:
            handle.write(json.dumps({"_id": qid, "text": f"question {qid}"}) + "\n")
    lines = ["query-id\tcorpus-id\tscore"]
    lines += [f"{q}\t{d}\t{g}" for q, grades in qrels.items() for d, g in grades.items()]
    (root / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n")
    return qrels


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], Path]:
    base = tmp_path_factory.mktemp("messy")
    beir = base / "beir"
    _write_beir(beir)
    out = base / "out"
    truth = messy_kb.generate(beir, out, seed=7)
    return out, truth, beir


def _body(out: Path, relpath: str) -> str:
    return str(messy_kb.read_page(out / "kb" / relpath)[1])


def _updated(out: Path, relpath: str) -> date:
    updated = messy_kb.read_page(out / "kb" / relpath)[0]["updated"]
    assert isinstance(updated, date)
    return updated


def _mtime(out: Path, relpath: str) -> date:
    return datetime.fromtimestamp((out / "kb" / relpath).stat().st_mtime, UTC).date()


def test_every_role_is_present_and_every_file_is_in_the_truth(
    generated: tuple[Path, dict[str, Any], Path],
) -> None:
    out, truth, _ = generated
    on_disk = {p.relative_to(out / "kb").as_posix() for p in (out / "kb").rglob("*.md")}
    assert on_disk == set(truth["documents"])
    roles = [d["role"] for d in truth["documents"].values()]
    assert roles.count("original") == 30
    for role in ("copy", "near_copy", "superseded", "paraphrase"):
        assert roles.count(role) >= 1, role
    assert json.loads((out / "truth.json").read_text()) == truth
    assert not (out / "kb" / "truth.json").exists()


def test_originals_carry_the_passage_with_a_current_date(
    generated: tuple[Path, dict[str, Any], Path],
) -> None:
    out, truth, beir = generated
    corpus = {
        r["_id"]: r for r in map(json.loads, (beir / "corpus.jsonl").read_text().splitlines())
    }
    for relpath, doc in truth["documents"].items():
        if doc["role"] != "original":
            continue
        meta, body = messy_kb.read_page(out / "kb" / relpath)
        record = corpus[doc["beir_id"]]
        assert body == record["text"]
        assert meta["title"] == (record["title"] or " ".join(record["text"].split()[:6]))
        assert relpath.split("/")[0] in messy_kb.TEAMS
        assert relpath.endswith(f"-{doc['beir_id']}.md")
        assert 2025 <= _updated(out, relpath).year <= 2026
        assert _mtime(out, relpath) == _updated(out, relpath)


def test_copies_are_stale_snapshots_of_their_original(
    generated: tuple[Path, dict[str, Any], Path],
) -> None:
    out, truth, _ = generated
    documents = truth["documents"]
    clustered = set()
    for cluster in truth["duplicates"]:
        canonical, *members = cluster
        assert documents[canonical]["role"] == "original"
        for member in members:
            doc = documents[member]
            assert doc["of"] == canonical and doc["role"] in ("copy", "near_copy")
            assert member.split("/")[0] != canonical.split("/")[0]  # another team's folder
            assert _updated(out, member) < _updated(out, canonical)
            assert _mtime(out, member) < _mtime(out, canonical)
            if doc["role"] == "copy":
                assert _body(out, member) == _body(out, canonical)
            else:
                lines = _body(out, member).splitlines()
                assert _body(out, canonical) in lines
                assert messy_kb.NAV_LINE in lines and messy_kb.COPYRIGHT_LINE in lines
        clustered.update(cluster)
    derived = {p for p, d in documents.items() if d["role"] in ("copy", "near_copy")}
    assert derived <= clustered


def test_superseded_versions_are_older_and_their_changes_are_in_the_text(
    generated: tuple[Path, dict[str, Any], Path],
) -> None:
    out, truth, _ = generated
    assert any(c["kind"] in messy_kb.VALUE_KINDS for s in truth["superseded"] for c in s["changes"])
    for pair in truth["superseded"]:
        old, current = pair["old"], pair["current"]
        assert truth["documents"][old] == {
            "beir_id": truth["documents"][current]["beir_id"],
            "role": "superseded",
            "of": current,
        }
        assert "/archive/" in old and old.split("/")[0] == current.split("/")[0]
        assert _mtime(out, old) < _mtime(out, current)
        assert _updated(out, old).year in (2023, 2024)
        old_meta, old_body = messy_kb.read_page(out / "kb" / old)
        assert old_meta["title"] == messy_kb.read_page(out / "kb" / current)[0]["title"]
        assert old_body != _body(out, current)
        assert pair["changes"]
        for change in pair["changes"]:
            assert change["old"] != change["new"]
            assert change["old"] in old_body
            assert change["new"] in _body(out, current)
    current_of = {pair["old"]: pair["current"] for pair in truth["superseded"]}
    for conflict in truth["conflicts"]:
        current = conflict.get("shared_with", conflict["b"])
        assert current_of[conflict["a"]] == current
        assert truth["documents"][conflict["b"]]["role"] == "original"
        assert conflict["a_value"] in _body(out, conflict["a"])
        assert conflict["b_value"] in _body(out, conflict["b"])
    conflicts = {(c["a"], c["b"], c["a_value"], c["b_value"]) for c in truth["conflicts"]}
    for pair in truth["superseded"]:
        for change in pair["changes"]:
            if change["kind"] in messy_kb.VALUE_KINDS:
                assert (pair["old"], pair["current"], change["old"], change["new"]) in conflicts


def test_paraphrases_are_distinct_pages_not_duplicates(
    generated: tuple[Path, dict[str, Any], Path],
) -> None:
    out, truth, _ = generated
    clustered = {p for cluster in truth["duplicates"] for p in cluster}
    for original, para in truth["paraphrases"]:
        assert truth["documents"][para]["role"] == "paraphrase"
        assert para not in clustered
        assert original.split("/")[0] != para.split("/")[0]
        assert messy_kb.shingle_jaccard(_body(out, original), _body(out, para)) < 0.5


def test_passages_that_overlap_in_the_source_are_recorded_and_left_alone(
    generated: tuple[Path, dict[str, Any], Path],
) -> None:
    _, truth, _ = generated
    documents = truth["documents"]
    assert [
        (documents[a]["beir_id"], documents[b]["beir_id"])
        for a, b, _ in truth["natural_duplicates"]
    ] == [("d28", "d29")]
    assert truth["natural_duplicates"][0][2] >= messy_kb.NATURAL_DUP_JACCARD
    derived_from = {d["beir_id"] for d in documents.values() if d["role"] != "original"}
    assert not derived_from & {"d28", "d29"}


def test_qrels_point_at_originals_only(generated: tuple[Path, dict[str, Any], Path]) -> None:
    _, truth, beir = generated
    source = messy_kb.load_beir(beir)
    assert set(truth["queries"]) == set(source.qrels) == set(truth["qrels"])
    for qid, grades in truth["qrels"].items():
        assert len(grades) == len(source.qrels[qid])
        for relpath, grade in grades.items():
            doc = truth["documents"][relpath]
            assert doc["role"] == "original"
            assert source.qrels[qid][doc["beir_id"]] == grade


def test_the_same_seed_gives_the_same_kb_and_another_seed_does_not(
    generated: tuple[Path, dict[str, Any], Path], tmp_path: Path
) -> None:
    out, truth, beir = generated
    again = messy_kb.generate(beir, tmp_path / "again", seed=7)
    assert again == truth
    for relpath in truth["documents"]:
        assert (tmp_path / "again" / "kb" / relpath).read_bytes() == (
            out / "kb" / relpath
        ).read_bytes()
        assert _mtime(tmp_path / "again", relpath) == _mtime(out, relpath)
    other = messy_kb.generate(beir, tmp_path / "other", seed=8)
    assert other["documents"] != truth["documents"]
    with pytest.raises(FileExistsError):
        messy_kb.generate(beir, tmp_path / "again", seed=7)


def test_value_change_rewrites_a_value_and_records_it() -> None:
    import random

    text = "The fee is $1,200 per year and approval takes 10 days for 35 employees."
    result = messy_kb.value_change(text, random.Random(1))
    assert result is not None
    old_text, changes = result
    assert old_text != text
    for change in changes:
        assert change.kind in messy_kb.VALUE_KINDS
        assert change.old in old_text and change.new in text
    assert messy_kb.value_change("No values in this sentence at all.", random.Random(1)) is None


def test_text_change_edits_in_place_and_keeps_headings_and_paragraphs() -> None:
    import random

    page = (
        "# Leave\n\nAll staff should have a plan. Reviews happen twice a year.\n\n"
        "## Who approves\n\nThe supervisor is the approver. Requests go through the portal."
    )
    kinds = set()
    for seed in range(40):
        result = messy_kb.text_change(page, random.Random(seed))
        assert result is not None
        old_text, (change,) = result
        kinds.add(change.kind)
        # Headings and paragraph breaks are where they were; one sentence differs.
        assert [line for line in old_text.split("\n") if line.startswith("#")] == [
            "# Leave",
            "## Who approves",
        ]
        assert old_text.count("\n\n") == page.count("\n\n")
        assert "#" not in change.old and "#" not in change.new
        if change.kind == "negation":
            assert old_text == page.replace(change.new, change.old)
        else:
            assert change.new in page and change.new not in old_text
            assert change.old in old_text
    assert kinds == {"negation", "sentence_replaced"}


def test_statements_match_the_same_words_with_numbers_masked() -> None:
    texts = {
        "a": "The fee is $120 per month for each member of staff. Nothing else to say here.",
        "b": "Read this first. 2 The fee is $120 per month for each member of staff.",
        "c": "The fee is $150 per month for each member of staff.",
        "d": "The fee is 120 per month for each member of staff.",  # no "$": the same number
    }
    statements = messy_kb.Statements(texts)
    assert statements.conflicts() == [("a", "c"), ("b", "c"), ("c", "d")]
    at = texts["a"].index("$120")
    assert statements.echoes("a", (at, at + 4)) == ["b", "d"]
