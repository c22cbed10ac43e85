"""Every supported format goes through the real pipeline into the index and comes back out."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.runtime import Runtime, open_runtime
from connectors.filesystem import FilesystemConnector
from connectors.jsonl import JsonlConnector
from ingest.chunk import ChunkBudget, chunk_document
from ingest.parse import parse
from ingest.pipeline import document_id
from steward.domain import DocumentRef, ElementKind, RawDocument

SOURCE = "kb"

# Sections of about 35 word pieces: with the formats fixture's 64-token budget each one is longer
# than half a chunk, so each becomes a chunk of its own (shorter ones are merged; see below).
VACATION = [
    (
        "Requesting leave",
        "Submit vacation requests two weeks ahead in the HR portal. Your manager approves or "
        "declines each request within three working days. Approved leave appears on the team "
        "calendar automatically.",
    ),
    (
        "Carry over",
        "Up to five unused vacation days carry over into the next calendar year. Days beyond "
        "five expire on the first of January without compensation. Carried days must be taken "
        "before the end of March.",
    ),
]
DEADLINES = (
    "Requests for the December holidays close on November 15 every year. Late requests are "
    "only granted when the team roster still has room. Managers publish the roster by "
    "November 20."
)
PRINTER = (
    "Printer setup\n\n"
    "To connect to the office printer, open the system settings and add the network printer "
    "named floor3-laser. Toner cartridges are kept in the supply room.\n"
)
API_LIMITS = [
    (
        "Quotas",
        "Each API key may make one hundred requests per minute. Bursts above the quota are "
        "answered with status 429 and a Retry-After header. Quotas reset at the start of "
        "every minute.",
    )
]
EXPENSES = [
    (
        "Travel",
        "Book flights through the travel desk and keep every receipt. Economy class is the "
        "rule for flights shorter than six hours. Rail travel is preferred for trips under "
        "four hours.",
    ),
    (
        "Meals",
        "Meals are reimbursed up to fifty euros per day. Alcohol is never reimbursed, even "
        "with clients present. Submit meal receipts within thirty days of the trip.",
    ),
]
SECURITY = [
    (
        "Passwords",
        "Passwords must be rotated every ninety days using the password manager. A password "
        "has at least sixteen characters and is never reused. Shared accounts are not "
        "allowed.",
    ),
    (
        "Badges",
        "Badges must be worn visibly at all times inside the building. A lost badge is "
        "reported to reception on the same day. Visitors receive a temporary badge at the "
        "front desk.",
    ),
]


@pytest.fixture(scope="module")
def formats(
    tmp_path_factory: pytest.TempPathFactory, embedder, make_settings, write
) -> Iterator[tuple[Runtime, dict]]:
    """One folder with a document of each format, ingested once into a fresh home."""
    root = tmp_path_factory.mktemp("formats")
    kb = root / "kb"
    # The md body's title repeats the front matter's: it must not become a section.
    write.markdown(
        kb / "hr/vacation.md",
        "# Vacation Policy\n\n"
        f"## {VACATION[0][0]}\n\n{VACATION[0][1]}\n\n"
        f"### Deadlines\n\n{DEADLINES}\n\n"
        f"## {VACATION[1][0]}\n\n{VACATION[1][1]}\n",
        title="Vacation Policy",
        owner="hr@example.com",
        review_by="2026-01-31",
        tags=["hr", "leave"],
        acl=["staff", "managers"],
        updated="2025-03-01",
    )
    write.text(kb / "it/printer.txt", PRINTER)
    write.html(kb / "eng/api-limits.html", "API rate limits", API_LIMITS)
    write.docx(kb / "finance/expenses.docx", "Expense Guide", EXPENSES)
    write.pdf(kb / "it/security.pdf", "Security Handbook", SECURITY)

    live = open_runtime(make_settings(root, ingest={"chunk_tokens": 64}), embedder=embedder)
    summary = live.pipeline.run(FilesystemConnector(kb, SOURCE))
    yield live, summary.as_dict()
    live.close()


def chunks_of(live: Runtime, key: str) -> list:
    return live.store.document_chunks(document_id(SOURCE, key))


def test_every_format_is_ingested(formats) -> None:
    live, summary = formats
    assert summary["status"] == "ok"
    assert summary["skipped"] == []
    assert (summary["listed"], summary["new"]) == (5, 5)
    assert summary["chunks"] == live.store.count() > 5
    assert {row.source_uri for row in live.catalog.documents_of(SOURCE).values()} == {
        "hr/vacation.md",
        "it/printer.txt",
        "eng/api-limits.html",
        "finance/expenses.docx",
        "it/security.pdf",
    }


def test_markdown_front_matter_lands_in_the_catalog_and_payload(formats) -> None:
    live, _ = formats
    row = live.catalog.document(document_id(SOURCE, "hr/vacation.md"))
    assert row is not None
    assert row.title == "Vacation Policy"
    assert row.owner == "hr@example.com"
    assert row.review_by == "2026-01-31"
    assert row.tags == ["hr", "leave"]
    assert row.acl == ["staff", "managers"]
    assert row.updated_at == datetime(2025, 3, 1, tzinfo=UTC)  # `updated` wins over the mtime
    chunks = chunks_of(live, "hr/vacation.md")
    assert {c.payload.owner for c in chunks} == {"hr@example.com"}
    assert {tuple(c.payload.acl) for c in chunks} == {("staff", "managers")}
    assert {c.payload.updated_at for c in chunks} == {"2025-03-01T00:00:00Z"}
    assert row.chunk_ids == [c.chunk_id for c in chunks]


def test_markdown_headings_become_section_paths(formats) -> None:
    live, _ = formats
    sections = [(c.payload.section, c.payload.text) for c in chunks_of(live, "hr/vacation.md")]
    assert sections == [
        ("Requesting leave", VACATION[0][1]),
        ("Requesting leave > Deadlines", DEADLINES),
        ("Carry over", VACATION[1][1]),
    ]


@pytest.mark.parametrize(
    ("key", "title", "sections"),
    [
        ("eng/api-limits.html", "API rate limits", API_LIMITS),
        ("finance/expenses.docx", "Expense Guide", EXPENSES),
        ("it/security.pdf", "Security Handbook", SECURITY),
    ],
)
def test_headings_of_html_docx_and_pdf_become_sections(formats, key, title, sections) -> None:
    live, _ = formats
    chunks = chunks_of(live, key)
    assert {c.payload.title for c in chunks} == {title}
    # PDF lines wrap inside a paragraph; the wrapping is not what this test is about.
    found = [(c.payload.section, " ".join(c.payload.text.split())) for c in chunks]
    assert found == list(sections)


def test_plain_text_takes_its_first_line_as_title(formats) -> None:
    live, _ = formats
    chunks = chunks_of(live, "it/printer.txt")
    assert {c.payload.title for c in chunks} == {"Printer setup"}
    assert "floor3-laser" in " ".join(c.payload.text for c in chunks)


@pytest.mark.parametrize(
    ("question", "key"),
    [
        ("how many unused vacation days carry over into next year", "hr/vacation.md"),
        ("when is the deadline for December holiday requests", "hr/vacation.md"),
        ("how do I add the network printer", "it/printer.txt"),
        ("how many API requests per minute are allowed", "eng/api-limits.html"),
        ("what is the daily limit for meal reimbursement", "finance/expenses.docx"),
        ("how often must passwords be rotated", "it/security.pdf"),
        ("where do I wear my badge in the building", "it/security.pdf"),
    ],
)
def test_each_format_is_retrievable(formats, question, key) -> None:
    live, _ = formats
    hits = live.retriever.retrieve(question, top_k=3).hits
    assert hits[0].payload.source_uri == key


def test_pdf_elements_carry_their_page(write, tmp_path: Path) -> None:
    path = write.pdf(tmp_path / "security.pdf", "Security Handbook", SECURITY)
    data = path.read_bytes()
    ref = DocumentRef(SOURCE, "security.pdf", "security.pdf", datetime.now(UTC), len(data))
    elements, meta, _ = parse(RawDocument(ref, data, "application/pdf"))
    assert meta.title == "Security Handbook"
    pages = {
        page: " ".join(e.text for e in elements if e.page == page and e.kind is ElementKind.TEXT)
        for page in (1, 2)
    }
    assert " ".join(pages[1].split()) == SECURITY[0][1]
    assert " ".join(pages[2].split()) == SECURITY[1][1]
    assert {e.page for e in elements} == {1, 2}


def test_a_pdf_paragraph_wrapped_over_lines_is_kept_whole(
    runtime: Runtime, write, tmp_path
) -> None:
    # At 11 pt the last words wrap onto a line of their own that looks like a heading.
    paragraph = (
        "Badges must be worn visibly at all times inside the building. A lost or stolen badge is "
        "reported the same day to the Chief Security Officer"
    )
    keys = "Office keys are handed out by facilities on the first working day of every new hire."
    write.pdf(
        tmp_path / "kb/badges.pdf", "Security Handbook", [("Badges", paragraph), ("Keys", keys)]
    )
    runtime.pipeline.run(FilesystemConnector(tmp_path / "kb", SOURCE))
    chunks = chunks_of(runtime, "badges.pdf")
    assert [c.payload.section for c in chunks][0] == "Badges"
    # The wrapped paragraph is one line of text (the short Keys section joins its chunk).
    assert any(paragraph in c.payload.text.split("\n") for c in chunks)


def test_short_sections_share_a_chunk_with_their_heading_as_a_line(
    runtime: Runtime, write, tmp_path
) -> None:
    write.markdown_sections(
        tmp_path / "kb/faq.md",
        "Office FAQ",
        [("Wifi", "The guest network is called Lobby."), ("Coffee", "The machine is on floor 2.")],
    )
    runtime.pipeline.run(FilesystemConnector(tmp_path / "kb", SOURCE))
    chunks = chunks_of(runtime, "faq.md")
    assert [(c.payload.section, c.payload.text) for c in chunks] == [
        ("Wifi", "The guest network is called Lobby.\nCoffee\nThe machine is on floor 2.")
    ]


def test_a_long_section_after_a_short_one_keeps_its_own_path(
    runtime: Runtime, write, tmp_path
) -> None:
    procedure = " ".join(sentence(n) for n in range(30))
    write.markdown_sections(
        tmp_path / "kb/pumps.md",
        "Pump manual",
        [("Scope", "Applies to all pumps."), ("Procedure", procedure)],
    )
    runtime.pipeline.run(FilesystemConnector(tmp_path / "kb", SOURCE))
    chunks = chunks_of(runtime, "pumps.md")
    steps = [c for c in chunks if "hydraulic pump" in c.payload.text]
    assert len(steps) >= 3
    assert {c.payload.section for c in steps} == {"Procedure"}


def test_a_one_line_text_note_is_ingested(runtime: Runtime, write, tmp_path) -> None:
    write.text(tmp_path / "kb/note.txt", "Alpha document about parking.\n")
    summary = runtime.pipeline.run(FilesystemConnector(tmp_path / "kb", SOURCE))
    assert summary.skipped == []
    assert [c.payload.text for c in chunks_of(runtime, "note.txt")] == [
        "Alpha document about parking."
    ]


def test_jsonl_records_are_ingested_with_their_titles(runtime: Runtime, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        '{"_id": "r1", "title": "Pump care", "text": "Pumps are serviced every spring."}\n'
        '{"id": 2, "text": "First paragraph about valves.\\n\\nSecond paragraph: gaskets."}\n'
        "\n",
        encoding="utf-8",
    )
    summary = runtime.pipeline.run(JsonlConnector(corpus, "records"))
    assert (summary.status, summary.new, summary.skipped) == ("ok", 2, [])
    (pump,) = runtime.store.document_chunks(document_id("records", "r1"))
    assert (pump.payload.title, pump.payload.text) == (
        "Pump care",
        "Pumps are serviced every spring.",
    )
    assert pump.payload.source_uri == "r1"
    (valves,) = runtime.store.document_chunks(document_id("records", "2"))
    assert valves.payload.text == "First paragraph about valves.\nSecond paragraph: gaskets."
    hits = runtime.retriever.retrieve("when are pumps serviced", top_k=1).hits
    assert hits[0].payload.doc_id == document_id("records", "r1")


def test_the_folder_walk_takes_the_globs_and_skips_hidden_files(tmp_path: Path, write) -> None:
    for name in [
        "a.md",
        "sub/b.txt",
        "sub/deeper/c.html",
        ".hidden.md",
        ".git/config.md",
        "sub/.cache/d.md",
        "drafts/e.md",
        "Notes.MD",
    ]:
        write.text(tmp_path / name, "text")
    default = FilesystemConnector(tmp_path, SOURCE)
    assert [ref.key for ref in default.list()] == [
        "Notes.MD",
        "a.md",
        "drafts/e.md",
        "sub/b.txt",
        "sub/deeper/c.html",
    ]
    globbed = FilesystemConnector(
        tmp_path, SOURCE, include=["**/*.md", "**/*.MD"], exclude=["drafts/**", "**/.*"]
    )
    assert [ref.key for ref in globbed.list()] == ["Notes.MD", "a.md"]
    ref = next(iter(default.list()))
    assert (ref.source, ref.source_uri, ref.size) == (SOURCE, "Notes.MD", 4)


# -- chunk bounds --------------------------------------------------------------------------


def embed_text(chunk) -> str:
    """What the pipeline embedded: title and section as context, then the chunk text."""
    context = "\n".join(p for p in (chunk.payload.title, chunk.payload.section) if p)
    return f"{context}\n\n{chunk.payload.text}" if context else chunk.payload.text


def sentence(n: int) -> str:
    return (
        f"Item {n} of the maintenance log records that the hydraulic pump number {n} "
        f"was inspected, recalibrated and returned to service without further faults."
    )


@pytest.mark.parametrize("shape", ["3000-word section", "one paragraph without sentence ends"])
def test_chunks_never_exceed_the_models_word_pieces(
    runtime: Runtime, write, tmp_path, shape
) -> None:
    if shape == "3000-word section":
        # ~3,000 words in paragraphs of five sentences, under one heading-less document.
        paragraphs = [" ".join(sentence(5 * p + s) for s in range(5)) for p in range(27)]
        write.markdown(tmp_path / "kb/log.md", "\n\n".join(paragraphs), title="Maintenance log")
        key, words = "log.md", " ".join(paragraphs).split()
    else:
        words = [f"token{n % 97} valve{n % 13} pressure" for n in range(1200)]
        write.text(tmp_path / "kb/dump.txt", " ".join(words))
        key, words = "dump.txt", " ".join(words).split()
    summary = runtime.pipeline.run(FilesystemConnector(tmp_path / "kb", SOURCE))
    assert summary.status == "ok" and summary.skipped == []

    chunks = chunks_of(runtime, key)
    sizes = runtime.embedder.count_tokens([embed_text(c) for c in chunks])
    assert len(chunks) >= 10
    assert max(sizes) <= runtime.embedder.max_tokens
    assert all(c.payload.section == "" for c in chunks)
    # Nothing was lost on the way: every word of the document is in some chunk.
    covered = set(" ".join(c.payload.text for c in chunks).split())
    assert set(words) <= covered


def test_a_huge_title_does_not_push_chunks_over_the_limit(
    runtime: Runtime, write, tmp_path
) -> None:
    title = " ".join(f"heading{n}" for n in range(150))
    body = sentence(1) + "\n\n" + sentence(2)
    write.markdown(tmp_path / "kb/t.md", body, title=title)
    runtime.pipeline.run(FilesystemConnector(tmp_path / "kb", SOURCE))
    chunks = chunks_of(runtime, "t.md")
    assert chunks and all(c.payload.title == title for c in chunks)  # the record keeps it all
    # What was embedded: the chunker's own embed texts, counted by the model's tokenizer.
    raw = RawDocument(
        ref=DocumentRef(SOURCE, "t.md", "t.md", datetime.now(UTC), 0),
        content=(tmp_path / "kb/t.md").read_bytes(),
        media_type="text/markdown",
    )
    elements, meta, _ = parse(raw)
    budget = ChunkBudget(max_tokens=runtime.settings.ingest.chunk_tokens, overlap_tokens=24)
    embedded = chunk_document(
        "t",
        meta.title,
        elements,
        budget,
        runtime.embedder.count_tokens,
        runtime.embedder.encode_tokens,
    )
    assert [c.text for c in embedded] == [c.payload.text for c in chunks]
    sizes = runtime.embedder.count_tokens([c.embed_text for c in embedded])
    assert max(sizes) <= runtime.embedder.max_tokens
    assert all(c.embed_text.startswith("heading0 heading1") for c in embedded)


# -- boilerplate and normalisation ---------------------------------------------------------

FOOTER = "Confidential: Acme Corp internal use only."


def test_boilerplate_repeated_across_documents_is_removed_and_counted(
    runtime: Runtime, write, tmp_path
) -> None:
    topics = ["solar panels", "wind turbines", "heat pumps", "battery storage"]
    for n, topic in enumerate(topics):
        body = (
            f"# Report on {topic}\n\n"
            f"This report explains how {topic} are installed and maintained.\n\n"
            f"{FOOTER}\n\n"
            f"Page {n + 1} of 9\n"
        )
        if n < 2:  # in two documents only: below the three-document minimum
            body += "\nReviewed by the energy committee.\n"
        write.markdown(tmp_path / "kb" / f"r{n}.md", body)

    summary = runtime.pipeline.run(FilesystemConnector(tmp_path / "kb", SOURCE))
    assert summary.boilerplate_lines_removed == 2 * len(topics)  # the footer and the page line

    texts = {
        n: "\n".join(c.payload.text for c in chunks_of(runtime, f"r{n}.md"))
        for n in range(len(topics))
    }
    for n, topic in enumerate(topics):
        assert f"how {topic} are installed" in texts[n]
        assert "Confidential" not in texts[n]
        assert "Page" not in texts[n]
        assert ("Reviewed by the energy committee." in texts[n]) == (n < 2)


def test_template_headings_shared_by_documents_stay_sections(
    runtime: Runtime, write, tmp_path
) -> None:
    for topic in ["travel", "security", "hiring"]:
        write.markdown_sections(
            tmp_path / "kb" / f"{topic}.md",
            f"{topic.title()} policy",
            [
                ("Purpose", " ".join(sentence(n) for n in range(8)) + f" It governs {topic}."),
                (
                    "Contacts",
                    " ".join(sentence(n) for n in range(8, 16)) + f" Ask the {topic} team.",
                ),
            ],
        )
    summary = runtime.pipeline.run(FilesystemConnector(tmp_path / "kb", SOURCE))
    assert summary.boilerplate_lines_removed == 0
    for topic in ["travel", "security", "hiring"]:
        sections = [c.payload.section for c in chunks_of(runtime, f"{topic}.md")]
        assert sections[0] == "Purpose" and "Contacts" in sections


def test_text_is_nfc_normalised_and_control_characters_removed(
    runtime: Runtime, write, tmp_path
) -> None:
    decomposed = "Cafe\u0301 menu"
    assert unicodedata.normalize("NFC", decomposed) != decomposed
    write.text(
        tmp_path / "kb/cafe.txt",
        f"{decomposed}\n\nThe cafe\u0301 serves cre\u0300me bru\u0302le\u0301e"
        " every\x07 day;\x0b zero\u200bwidth\x1b marks\u00a0\u00a0and  spaces vanish.\n",
    )
    write.markdown(tmp_path / "kb/bom.md", "\ufeffThe re\u0301sume\u0301 guide\x1f says hello.\n")
    summary = runtime.pipeline.run(FilesystemConnector(tmp_path / "kb", SOURCE))
    assert summary.skipped == []

    cafe = chunks_of(runtime, "cafe.txt")
    assert cafe[0].payload.title == "Café menu"
    text = " ".join(c.payload.text for c in cafe)
    assert "café serves crème brûlée every day; zerowidth marks and spaces vanish." in text
    resume = " ".join(c.payload.text for c in chunks_of(runtime, "bom.md"))
    assert resume == "The résumé guide says hello."
    for value in (text, resume, cafe[0].payload.title):
        assert unicodedata.is_normalized("NFC", value)
        assert not any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in value)


def test_templated_one_line_pages_keep_their_text(runtime: Runtime, write, tmp_path) -> None:
    """Lines that repeat (digits folded) are boilerplate, but never a document's whole text."""
    for n in range(4):
        write.text(tmp_path / f"kb/room{n}.txt", f"Room {n} is on floor {n} of building {n}.\n")
    summary = runtime.pipeline.run(FilesystemConnector(tmp_path / "kb", SOURCE))
    assert (summary.new, summary.chunks, summary.boilerplate_lines_removed) == (4, 4, 0)
    texts = [c.payload.text for c in chunks_of(runtime, "room2.txt")]
    assert texts == ["Room 2 is on floor 2 of building 2."]


DETAILS_MD = """# Collaboration tools

Trello organizes information into lists.

<details markdown="block">
<summary>Compliance and records considerations:</summary>

- GSA Tech Operations is working on a FedRAMP application as of January 2020.
- Trello boards should be considered records.
</details>

## Alternatives

Use a spreadsheet.
"""

DETAILS_HTML = (
    "<html><body><h1>Collaboration tools</h1><p>Trello organizes information into lists.</p>"
    "<details><summary>Compliance and records considerations:</summary>"
    "<p>GSA Tech Operations is working on a FedRAMP application as of January 2020.</p>"
    "</details><p>Use a spreadsheet.</p></body></html>"
)


@pytest.mark.parametrize(
    ("name", "media_type", "body"),
    [("tools.md", "text/markdown", DETAILS_MD), ("tools.html", "text/html", DETAILS_HTML)],
)
def test_the_text_of_collapsible_blocks_is_kept(name: str, media_type: str, body: str) -> None:
    # unstructured drops a <details> element whole; its text must still be indexed, in order.
    data = body.encode()
    ref = DocumentRef(SOURCE, name, name, datetime.now(UTC), len(data))
    elements, _, _ = parse(RawDocument(ref, data, media_type))
    texts = [" ".join(e.text.split()) for e in elements]
    joined = " | ".join(texts)
    assert "Compliance and records considerations:" in texts
    fedramp = next(i for i, t in enumerate(texts) if "FedRAMP application as of January 2020" in t)
    assert texts.index("Trello organizes information into lists.") < fedramp, joined
    assert fedramp < next(i for i, t in enumerate(texts) if "Use a spreadsheet." in t), joined
    assert not any("<" in t for t in texts), joined
