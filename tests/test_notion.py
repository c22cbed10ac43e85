"""The Notion connector against a local server speaking Notion's API (version 2022-06-28)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from saas_servers import FakeNotion, NotionPage, block, notion_blocks, notion_workspace

from app.sync import sync_source
from connectors.api_client import RetryPolicy
from connectors.notion import NotionConnector
from ingest.check import check
from ingest.parse import parse
from ingest.pipeline import document_id
from steward.domain import ElementKind, RawDocument
from steward.errors import SourceError
from steward.outbound import OutboundPolicy

LOOPBACK = OutboundPolicy.of(allow_private=True)
FAST = RetryPolicy(attempts=3, backoff_s=0.05, max_wait_s=5)
TOKEN = "secret_good"
HOME = "a0000000-0000-4000-8000-000000000000"


def spec(n: int) -> str:
    return f"a0000000-0000-4000-8000-{n + 1:012d}"


@pytest.fixture
def notion() -> Iterator[FakeNotion]:
    site = notion_workspace()
    yield site
    site.close()


def connector(site: FakeNotion, workdir: Path, **options: object) -> NotionConnector:
    options.setdefault("outbound", LOOPBACK)
    options.setdefault("retry", FAST)
    return NotionConnector(
        "notes",
        TOKEN,
        "the token in $NOTION_TOKEN",
        workdir,
        url=site.url,
        **options,  # type: ignore[arg-type]
    )


def listed(site: FakeNotion, workdir: Path, **options: object) -> dict[str, RawDocument]:
    notes = connector(site, workdir, **options)
    return {ref.key: notes.fetch(ref) for ref in notes.list()}


def test_blocks_become_headings_lists_tables_and_code(notion: FakeNotion, tmp_path: Path) -> None:
    raw = listed(notion, tmp_path)[spec(2)]
    elements, meta, _ = parse(raw)
    kinds = {(e.kind, e.text) for e in elements}
    assert (ElementKind.TITLE, "Steps") in kinds and (ElementKind.TITLE, "Limits") in kinds
    assert (ElementKind.LIST_ITEM, "Open the feature 2 form.") in kinds
    assert (ElementKind.LIST_ITEM, "Managers answer within two days.") in kinds  # nested
    assert (ElementKind.LIST_ITEM, "Attach the feature 2 receipt.") in kinds  # a to-do
    table = next(e.text for e in elements if e.kind is ElementKind.TABLE)
    assert "| feature 2 per month | 3 |" in table
    assert "steward request --kind feature-2" in "\n".join(e.text for e in elements)
    assert meta.title == "Spec 2"


def test_every_page_and_block_is_read_across_result_pages_with_its_metadata(
    notion: FakeNotion, tmp_path: Path
) -> None:
    notion.max_page_size = 3
    documents = listed(notion, tmp_path)
    assert set(documents) == {HOME, *(spec(n) for n in range(8))}
    assert notion.requests["/v1/search"] == 3  # 9 pages, 3 a page
    assert notion.requests[f"/v1/blocks/{spec(0)}/children"] == 4  # 10 blocks, 3 a page
    first, other = documents[spec(0)], documents[spec(1)]
    assert first.metadata["owner"] == "dev@acme.test"  # the Owner property
    assert other.metadata["owner"] == "ana@acme.test"  # no Owner: the creator
    assert first.metadata["review_by"] == "2027-02-28" and "review_by" not in other.metadata
    assert first.metadata["tags"] == ["spec"] and first.metadata["path"] == "Product home"
    assert first.ref.source_uri == "https://www.notion.so/Spec-0-" + spec(0).replace("-", "")
    assert "acl" not in first.metadata  # the source's groups apply


def test_an_unchanged_page_is_not_read_again(notion: FakeNotion, tmp_path: Path) -> None:
    listed(notion, tmp_path)
    blocks_read = sum(n for path, n in notion.requests.items() if path.startswith("/v1/blocks"))
    notion.edit(spec(3), notion_blocks("feature 3", "Now with limits per team."))
    again = listed(notion, tmp_path)
    read_now = sum(n for path, n in notion.requests.items() if path.startswith("/v1/blocks"))
    assert read_now - blocks_read == 3  # the edited page, its nested list and its table rows
    assert "limits per team" in again[spec(3)].content.decode()


def test_without_user_information_the_owner_is_the_property_or_nobody(
    notion: FakeNotion, tmp_path: Path
) -> None:
    notion.users_readable = False
    documents = listed(notion, tmp_path)
    assert "owner" not in documents[spec(1)].metadata


def test_list_changed_stops_at_the_first_older_page(notion: FakeNotion, tmp_path: Path) -> None:
    notion.max_page_size = 2
    since = notion.pages[spec(6)].edited
    changed = {ref.key for ref in connector(notion, tmp_path).list_changed(since)}
    # Edit times are kept to the minute: a minute back from `since` is asked too.
    assert changed == {spec(7), spec(6), spec(5)}
    assert notion.requests["/v1/search"] == 2  # spec(4) ends it: no third result page


def test_a_429_a_5xx_and_an_expired_token(notion: FakeNotion, tmp_path: Path) -> None:
    notion.fault("/v1/search", 429, Retry_After="1")
    notion.fault("/v1/blocks", 503, times=2)
    started = time.monotonic()
    assert len(listed(notion, tmp_path)) == 9
    assert time.monotonic() - started >= 1.0
    notion.token = "secret_rotated"
    with pytest.raises(SourceError) as caught:
        listed(notion, tmp_path / "other")
    assert "HTTP 401" in caught.value.reason and "$NOTION_TOKEN" in caught.value.reason
    assert TOKEN not in str(caught.value)


def declare(root: Path, site: FakeNotion, acl: str = "[product]") -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "steward.yaml").write_text(
        "sources:\n"
        "  notes:\n"
        "    connector: notion\n"
        f"    url: {site.url}\n"
        "    token_env: NOTION_TOKEN\n"
        "    retry_backoff_s: 0.05\n"
        f"    acl: {acl}\n"
    )


def test_a_notion_sync_end_to_end(
    notion: FakeNotion, open_home, hash_embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTION_TOKEN", TOKEN)
    declare(tmp_path / "a", notion)
    live = open_home("a", hash_embedder, outbound={"allow_private": True})
    first = sync_source(live, "notes")
    assert (first["status"], first["new"]) == ("ok", 9), first
    row = live.catalog.documents_of("notes")[document_id("notes", spec(0))]
    assert (row.acl, row.owner, row.review_by) == (["product"], "dev@acme.test", "2027-02-28")

    again = sync_source(live, "notes")
    assert (again["unchanged"], again["chunks_embedded"]) == (9, 0)

    # New readers for the source, and a page moved: metadata only, nothing embedded.
    declare(tmp_path / "a", notion, acl="[product, design]")
    notion.pages[spec(4)].parent = spec(5)
    regrouped = sync_source(live, "notes")
    assert (regrouped["metadata_only"], regrouped["chunks_embedded"]) == (9, 0), regrouped
    chunks = live.store.document_chunks(document_id("notes", spec(1)))
    assert {tuple(sorted(c.payload.acl)) for c in chunks} == {("design", "product")}

    # An edit re-embeds; a page unshared from the integration, and one deleted, are pruned.
    notion.edit(spec(2), [block("paragraph", "Feature 2 is retired; use feature 3.")])
    notion.pages[spec(6)].shared = False
    notion.pages[spec(7)].in_trash = True
    pruned = sync_source(live, "notes", allow_deletes=True)
    assert (pruned["changed"], pruned["deleted"]) == (1, 2), pruned
    tombstones = {t["doc_id"] for t in live.catalog.tombstones_of("notes")}
    assert tombstones == {document_id("notes", spec(6)), document_id("notes", spec(7))}
    assert check(live.catalog, live.store).clean

    # An expired token: the run fails, naming the reason; nothing is pruned.
    notion.token = "secret_rotated"
    failed = sync_source(live, "notes")
    assert failed["status"] == "failed" and "HTTP 401" in failed["error"]
    assert len(live.catalog.documents_of("notes")) == 7
    assert check(live.catalog, live.store).clean


def test_a_page_unshared_between_search_and_its_blocks_is_left_out(
    notion: FakeNotion, tmp_path: Path
) -> None:
    notion.add_page(NotionPage("b0000000-0000-4000-8000-000000000000", "Ghost", []))
    original = notion._blocks_by_id
    notion._blocks_by_id = lambda: {  # type: ignore[method-assign]
        k: v for k, v in original().items() if not k.startswith("b0000000")
    }
    assert "b0000000-0000-4000-8000-000000000000" not in listed(notion, tmp_path)
