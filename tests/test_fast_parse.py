"""The Markdown and plain-text fast paths give the elements, and so the chunks, that
unstructured's partitioners give: on the sample knowledge base, on msmarco passages and on
pages written to be awkward."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import frontmatter
import pytest

from ingest.chunk import ChunkBudget, chunk_document
from ingest.markdown import Unsupported, markdown_elements
from ingest.parse import (
    _unfold_markdown,
    decode_text,
    parse,
    partition_markdown,
    partition_plain_text,
)
from ingest.plain_text import text_elements
from retrieval.embed import Embedder, open_embedder
from steward.domain import DocumentRef, Element, RawDocument
from steward.errors import DocumentError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_KB = ROOT / "examples" / "sample-kb"
MSMARCO = ROOT.parent / "shared" / "datasets" / "msmarco-5k" / "corpus.jsonl"

TRICKY_MARKDOWN = {
    "nested-lists": (
        "# Setup\n\n- one\n- two\n    - two a\n    - two b\n        1. deep\n- three\n\n"
        "1. first\n2. second\n\n   continued paragraph of second\n\n3. third\n"
    ),
    "loose-list": "Intro line.\n\n- alpha item\n\n- beta item with **bold**\n\n- gamma\n",
    "tables": (
        "## Prices\n\n| Plan | Price | Notes |\n|------|------:|-------|\n| Basic | 10 € | |\n"
        "| Pro | 20 € | `code | pipe` and *em* |\n|  |  |  |\n\nAfter the table.\n"
    ),
    "code": "# Code\n\n```python\ndef f():\n\n    return 1\n```\n\n    indented code\n\nText.\n",
    "inline-html": (
        "Line one<br>line two with <span>span</span> and <kbd>Ctrl</kbd>.\n\n"
        '<div class="note">\nA raw <b>HTML</b> block.\n</div>\n\n'
        "Image ![alt text](pic.png) inside a paragraph, then more text.\n\n"
        "[a link](https://example.com) and <https://auto.example.com>.\n"
    ),
    "bullets-in-text": "• a bullet typed by hand\n\n· middle dot item\n\nx\n\n- \n\nOK\n",
    "setext-and-hr": "Title here\n==========\n\nSub\n---\n\ntext\n\n***\n\nafter rule\n",
    "quotes-and-entities": (
        "> quoted **para**\n>\n> - quoted list\n\nAT&amp;T &copy; 2026 &lt;tag&gt; — “quotes”\n"
    ),
    "details-unfolded": (
        "# FAQ\n\n<details>\n<summary>Why?</summary>\n\nBecause **reasons**.\n</details>\n"
    ),
    "comments-and-empty": "<!-- hidden -->\n\n#\n\n## Real heading\n\n<!-- more -->\nBody.\n",
    "headings-only-emphasis": "# *Emphasised* `heading`\n\n### Skipped level\n\ntext\n",
    "html-table-caption": (
        "<table><caption>Cap</caption><tr><td>a</td><td>b</td></tr></table>\n\nafter\n"
    ),
    "unknown-tag": "<custom-widget>inside</custom-widget>\n\ntext\n",
}

TRICKY_TEXT = {
    "titles-and-paragraphs": (
        "REFUND POLICY\n\nRefunds are paid within 30 days of the return being received by us, "
        "in the original currency and to the original card.\n\nContact\n\nsupport@example.com\n"
    ),
    "lists": (
        "Steps\n\n• Unplug it\n• Wait ten seconds\n1. Plug it back in\n2) Press the power key\n"
    ),
    "single-newlines": "line one of a para\nline two of it\nline three\n" * 5,
    "address": "Doylestown, PA 18901\n\nMain office, open Monday to Friday from nine to five.\n",
    "numbers": "2026\n\n12.5 %\n\nA\n\n" + " ".join(["word"] * 40) + "\n",
}


def _md_body(text: str) -> str:
    return _unfold_markdown(frontmatter.loads(text).content)


def _raw(path: Path) -> RawDocument:
    media = "text/markdown" if path.suffix == ".md" else "text/plain"
    ref = DocumentRef("kb", path.name, str(path), datetime(2026, 1, 1, tzinfo=UTC), 1)
    return RawDocument(ref, path.read_bytes(), media)


def _sample(suffix: str) -> list[Path]:
    """The sample knowledge base's files of a type that parse reads (diagram.md is binary)."""
    found = []
    for path in sorted(SAMPLE_KB.rglob(f"*{suffix}")):
        try:
            decode_text(_raw(path))
        except DocumentError:
            continue
        found.append(path)
    return found


def _text(path: Path) -> str:
    return decode_text(_raw(path))  # as parse decodes it (one sample file is Windows-1252)


def _msmarco(count: int) -> list[str]:
    if not MSMARCO.exists():
        pytest.skip("msmarco-5k is not on this machine")
    with MSMARCO.open(encoding="utf-8") as lines:
        return [json.loads(next(lines))["text"] for _ in range(count)]


@pytest.mark.parametrize("path", _sample(".md"), ids=lambda p: p.name)
def test_sample_markdown_gives_unstructureds_elements(path: Path) -> None:
    body = _md_body(_text(path))
    assert markdown_elements(body) == partition_markdown(body)


@pytest.mark.parametrize("name", sorted(TRICKY_MARKDOWN))
def test_tricky_markdown_gives_unstructureds_elements_or_goes_to_it(name: str) -> None:
    body = _unfold_markdown(TRICKY_MARKDOWN[name])
    try:
        fast = markdown_elements(body)
    except Unsupported:
        assert name in ("html-table-caption", "unknown-tag")  # left to unstructured, by design
        return
    assert fast == partition_markdown(body)


@pytest.mark.parametrize("path", _sample(".txt"), ids=lambda p: p.name)
def test_sample_text_gives_unstructureds_elements(path: Path) -> None:
    text = _text(path)
    assert text_elements(text) == partition_plain_text(text)


@pytest.mark.parametrize("name", sorted(TRICKY_TEXT))
def test_tricky_text_gives_unstructureds_elements(name: str) -> None:
    assert text_elements(TRICKY_TEXT[name]) == partition_plain_text(TRICKY_TEXT[name])


def test_msmarco_passages_give_unstructureds_elements_as_md_and_txt() -> None:
    for passage in _msmarco(150):
        assert markdown_elements(passage) == partition_markdown(passage)
        assert text_elements(passage) == partition_plain_text(passage)


def _chunks(
    title: str, elements: list[Element], budget: ChunkBudget, model: Embedder
) -> list[tuple[str, str, str]]:
    made = chunk_document("d", title, elements, budget, model.count_tokens, model.encode_tokens)
    return [(c.text, c.section, c.embed_text) for c in made]


def test_the_sample_kbs_chunks_are_unchanged() -> None:
    """Chunks (text, section) under parse's title, from the fast paths and from unstructured."""
    model = open_embedder("bundled:all-MiniLM-L6-v2")  # word pieces only: no weights load
    budget = ChunkBudget(max_tokens=240, overlap_tokens=24)
    compared = 0
    for path in _sample(".md") + _sample(".txt"):
        _, meta, _ = parse(_raw(path))
        text = _text(path)
        if path.suffix == ".md":
            fast, reference = markdown_elements(_md_body(text)), partition_markdown(_md_body(text))
        else:
            fast, reference = text_elements(text), partition_plain_text(text)

        assert _chunks(meta.title, fast, budget, model) == _chunks(
            meta.title, reference, budget, model
        )
        compared += 1
    assert compared >= 20


def test_a_page_s_reference_links_do_not_reach_the_next_page() -> None:
    # One converter serves a thread's pages (ingest/markdown.py); it is reset between them.
    defines = "See [the form][f] first.\n\n[f]: https://example.com/form\n"
    uses = "Fill in [the form][f] today.\n"
    assert [e.text for e in markdown_elements(defines)] == ["See the form first."]
    after = markdown_elements(uses)
    assert [e.text for e in after] == ["Fill in [the form][f] today."]
    assert after == partition_markdown(uses)
