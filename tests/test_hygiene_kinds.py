"""Hygiene on pages unlike the sample handbook: seasons, releases, yearly editions, short pages.

Each case is one the scan got wrong on a knowledge base it was not tuned on: years that name a
page's subject read as edition words, templated sentences about different subjects reported as
conflicts, a one-sentence page and its copy in an export's boilerplate not clustered, and
questions or list numbering compared as statements.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.hygiene import scan_hygiene
from app.runtime import Runtime, open_runtime
from connectors.filesystem import FilesystemConnector
from hygiene.conflicts import compare_texts
from hygiene.dedup import boilerplate_lines, without_lines
from hygiene.review import distinct_subjects, marked_edition, named_apart, names_subject
from hygiene.scan import ScanReport
from steward.catalog import DocumentRow

SEASON = (
    "The {year} Coastal Carolina Chanticleers football team represented Coastal Carolina "
    "University in the {year} NCAA Division I FCS football season. The Chanticleers were led "
    "by head coach {coach} and played their home games at Brooks Stadium in Conway, South "
    "Carolina. They finished the season {record} overall."
)
SEASONS = {
    2010: ("David Bennett in his 15th season", "6-5", "2026-03-01"),
    2011: ("David Bennett in his 16th season", "7-4", "2025-11-12"),
    2012: ("Joe Moglia in his first season", "8-5", "2026-05-20"),
}
TRAVEL = (
    "Employees book flights through the travel desk at least 14 days before departure. "
    "Economy class is the default for every flight under six hours. The daily meal allowance "
    "is ${allowance} for domestic trips, and receipts are kept for audit. Hotel stays are "
    "booked at the negotiated rates whenever one is available in the city."
)
EXPORT_TOP = "Confidential - internal use only"
EXPORT_BOTTOM = "Exported from the intranet; the online version is the current one."
FILLER = (
    "The {name} team keeps its runbooks in the shared drive and reviews them every quarter. "
    "Questions about the {name} rota go to the team channel."
)
BIOGRAPHY = "Mara Lindqvist is a Swedish hydrologist who mapped the glacial lakes of Sarek."
QUESTIONS = {
    "regtech": (
        "What is the role of RegTech?",
        "RegTech is software that helps firms meet regulation.",
    ),
    "saas": (
        "What is the role of SaaS?",
        "SaaS is software sold as a hosted subscription service.",
    ),
}


def _page(root: Path, relpath: str, title: str, updated: str, body: str) -> None:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\ntitle: {title}\nupdated: {updated}\n---\n\n{body}\n", encoding="utf-8")


def _write_kb(root: Path) -> None:
    for year, (coach, record, updated) in SEASONS.items():
        body = SEASON.format(year=year, coach=coach, record=record)
        title = f"{year} Coastal Carolina Chanticleers football team"
        _page(root, f"sports/{year}-chanticleers.md", title, updated, body)
    _page(
        root, "hr/travel-2024.md", "Travel policy 2024", "2024-01-10", TRAVEL.format(allowance=50)
    )
    _page(
        root, "hr/travel-2025.md", "Travel policy 2025", "2025-01-12", TRAVEL.format(allowance=60)
    )
    # One-sentence page, and its copy between lines that four other exports carry too.
    _page(root, "people/lindqvist.md", "Mara Lindqvist", "2026-02-01", BIOGRAPHY)
    for name in ("people-copy", "payroll", "network", "facilities", "legal"):
        body = BIOGRAPHY if name == "people-copy" else FILLER.format(name=name)
        relpath = f"exports/{name}.md"
        _page(root, relpath, name, "2025-06-01", f"{EXPORT_TOP}\n\n{body}\n\n{EXPORT_BOTTOM}")
    for name, (question, answer) in QUESTIONS.items():
        _page(root, f"glossary/{name}.md", name, "2026-01-05", f"{question}\n\n{answer}")


@pytest.fixture(scope="module")
def scanned(
    tmp_path_factory: pytest.TempPathFactory, embedder: Any, make_settings: Any
) -> Iterator[tuple[Runtime, ScanReport, dict[str, str]]]:
    root = tmp_path_factory.mktemp("kinds")
    _write_kb(root / "kb")
    # As in a large source where an export's lines stand in too few pages for ingest to strip
    # them (a share of the source's pages): the scan must set them aside itself.
    settings = make_settings(root / "home", ingest={"boilerplate_min_share": 0.9})
    runtime = open_runtime(settings, embedder=embedder)
    assert runtime.pipeline.run(FilesystemConnector(root / "kb", "kinds")).status == "ok"
    report = scan_hygiene(runtime)
    ids = {row.key: doc_id for doc_id, row in runtime.catalog.all_documents().items()}
    yield runtime, report, ids
    runtime.close()


@pytest.mark.slow
def test_seasons_are_distinct_subjects_not_editions_or_conflicts(scanned: Any) -> None:
    _, report, ids = scanned
    seasons = {ids[f"sports/{year}-chanticleers.md"] for year in SEASONS}
    assert not seasons & set(report.superseded)
    between = [c for c in report.conflicts if {c.a_doc, c.b_doc} <= seasons]
    assert between == []


@pytest.mark.slow
def test_a_query_for_one_season_finds_it_first_and_the_others_in_their_own_slots(
    scanned: Any,
) -> None:
    runtime, _, ids = scanned
    hits = runtime.retriever.retrieve("2011 Chanticleers football season", top_k=3).hits
    assert [h.payload.doc_id for h in hits][0] == ids["sports/2011-chanticleers.md"]
    # Templated chunks that embed alike but state other years are not one text folded away.
    assert {h.payload.doc_id for h in hits} == {
        ids[f"sports/{year}-chanticleers.md"] for year in SEASONS
    }


@pytest.mark.slow
def test_a_yearly_policy_edition_is_superseded_by_the_next_and_conflicts_with_it(
    scanned: Any,
) -> None:
    _, report, ids = scanned
    old, new = ids["hr/travel-2024.md"], ids["hr/travel-2025.md"]
    assert report.superseded.get(old) == new
    assert any(
        {c.a_doc, c.b_doc} == {old, new} and {c.a_value, c.b_value} == {"$50", "$60"}
        for c in report.conflicts
    )


@pytest.mark.slow
def test_a_one_sentence_page_and_its_copy_in_export_boilerplate_are_copies(scanned: Any) -> None:
    _, report, ids = scanned
    original, copy = ids["people/lindqvist.md"], ids["exports/people-copy.md"]
    cluster = next(
        (c for c in report.clusters if original in {c.canonical, *dict(c.members)}), None
    )
    assert cluster is not None and copy in {cluster.canonical, *dict(cluster.members)}
    # The exports that only share the boilerplate are not copies of anything.
    clustered = {d for c in report.clusters for d in (c.canonical, *dict(c.members))}
    assert not clustered & {ids[f"exports/{n}.md"] for n in ("payroll", "network", "legal")}


@pytest.mark.slow
def test_a_query_naming_a_year_finds_that_edition_though_superseded(scanned: Any) -> None:
    runtime, _, ids = scanned
    named = runtime.retriever.retrieve("travel policy 2024 meal allowance", top_k=3).hits
    assert named[0].payload.doc_id == ids["hr/travel-2024.md"]
    assert "superseded" in named[0].flags
    plain = runtime.retriever.retrieve("travel meal allowance", top_k=3).hits
    assert plain[0].payload.doc_id == ids["hr/travel-2025.md"]


# -- the rules alone, without a model ---------------------------------------------------------


def _row(key: str, title: str, updated: str) -> DocumentRow:
    when = datetime.fromisoformat(updated).replace(tzinfo=UTC)
    return DocumentRow(
        doc_id=key,
        source="s",
        key=key,
        source_uri=key,
        content_hash="h",
        pipeline_version="v",
        title=title,
        owner=None,
        review_by=None,
        tags=[],
        acl=[],
        updated_at=when,
        size=0,
        first_seen=when,
        last_ingested=when,
        chunk_ids=[],
        line_hashes=[],
    )


def test_names_with_different_years_or_versions_are_apart() -> None:
    season = _row("a/2011-12.md", "2011–12 Coastal Carolina men's basketball team", "2026-01-01")
    later = _row("a/2012-13.md", "2012–13 Coastal Carolina men's basketball team", "2025-01-01")
    assert named_apart(season, later)
    release = _row("peps/pep-0596.rst", "PEP 596 – Python 3.9 Release Schedule", "2025-01-01")
    other = _row("peps/pep-0619.rst", "PEP 619 – Python 3.10 Release Schedule", "2025-02-01")
    assert named_apart(release, other)
    # An archived edition only adds a year to the name of the living page.
    current = _row("hr/travel-policy.md", "Travel policy", "2025-01-01")
    archived = _row("hr/archive/travel-policy-2023.md", "Travel policy", "2023-01-01")
    assert not named_apart(current, archived)


def test_a_file_name_with_an_edition_mark_names_an_edition_of_the_same_titled_page() -> None:
    current = _row("legal/rsa-4737063.md", "RSA involves a public key", "2025-01-01")
    for marked in ("legal/archive/rsa-4737063-v1.md", "legal/rsa-4737063-old.md"):
        assert marked_edition(current, _row(marked, "RSA involves a public key", "2023-01-01"))
    # Another page under the same title is another page: ids are not edition marks...
    other = _row("legal/rsa-5247992.md", "RSA involves a public key", "2023-01-01")
    assert not marked_edition(current, other)
    # ...a marked name needs the same title, and names marked each their own way are seasons.
    retitled = _row("legal/archive/rsa-4737063-v1.md", "Key exchange", "2023-01-01")
    assert not marked_edition(current, retitled)
    season = _row("s/1901-georgia-bulldogs.md", "Georgia Bulldogs football team", "2026-01-01")
    later = _row("s/1963-georgia-bulldogs.md", "Georgia Bulldogs football team", "2025-01-01")
    assert not marked_edition(season, later)
    assert marked_edition(
        _row("hr/travel-policy.md", "Travel policy", "2025-01-01"),
        _row("hr/archive/travel-policy-2023.md", "Travel policy", "2023-01-01"),
    )


def test_pages_that_state_their_own_year_are_distinct_subjects() -> None:
    a = _row("s/2010.md", "2010 football team", "2026-01-01")
    b = _row("s/2012.md", "2012 football team", "2025-01-01")
    assert distinct_subjects(a, b, "The 2010 team went 6-5.", "The 2012 team went 8-5.")
    # Not stated in the text: the page updated last must name the later year to replace it.
    c = _row("hr/t24.md", "Travel policy 2024", "2024-01-10")
    d = _row("hr/t25.md", "Travel policy 2025", "2025-01-12")
    assert not distinct_subjects(c, d, "Meals are $50.", "Meals are $60.")
    e = _row("s/1901.md", "1901 Georgia Bulldogs football team", "2026-05-01")
    f = _row("s/1963.md", "1963 Georgia Bulldogs football team", "2025-05-01")
    assert distinct_subjects(e, f, "Coached by Charles McCarthy.", "Coached by Johnny Griffith.")


def test_a_value_in_its_own_title_names_the_subject() -> None:
    assert names_subject("2010", "2010 Coastal Carolina Chanticleers football team")
    assert names_subject("3.9", "PEP 596 – Python 3.9 Release Schedule")
    assert not names_subject("$50", "Travel policy 2024")
    assert not names_subject("90 days", "Password policy")


def test_questions_headings_and_list_numbers_are_not_statements() -> None:
    assert compare_texts("What is the role of RegTech?", "What is the role of SaaS?") == []
    assert compare_texts("Release Schedule 2024", "Release Schedule 2025") == []
    numbered_a = "1 1 Based on the survey results the team expanded the pilot."
    numbered_b = "7 7 Based on the survey results the team expanded the pilot."
    assert compare_texts(numbered_a, numbered_b) == []
    # A sentence that opens with its value keeps it.
    opening = compare_texts("30 days is the refund window.", "14 days is the refund window.")
    assert [(c.a_value, c.b_value) for c in opening] == [("30 days", "14 days")]
    # A statement keeps its values when numbered as a list item.
    found = compare_texts(
        "1. Passwords expire after 90 days.", "2. Passwords expire after 60 days."
    )
    assert [(c.a_value, c.b_value) for c in found] == [("90 days", "60 days")]


def test_boilerplate_paragraphs_are_set_aside_but_never_the_whole_page() -> None:
    wrapped = {
        f"export-{n}": f"{EXPORT_TOP}\n{FILLER.format(name=n)}\n{EXPORT_BOTTOM}" for n in range(3)
    }
    texts = {**wrapped, "page": BIOGRAPHY, "copy": f"{EXPORT_TOP}\n{BIOGRAPHY}\n{EXPORT_BOTTOM}"}
    common = boilerplate_lines(texts)
    assert without_lines(texts["copy"], common) == BIOGRAPHY
    # Identical copies count once: three copies of a page do not make it boilerplate.
    assert boilerplate_lines({"a": BIOGRAPHY, "b": BIOGRAPHY, "c": BIOGRAPHY}) == set()
    assert without_lines(EXPORT_TOP, common) == EXPORT_TOP
