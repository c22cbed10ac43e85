"""The Confluence connector against a local server speaking Confluence's REST API v1.

Cloud (context /wiki, basic auth, cursor pages) and Data Center (context /confluence, bearer
token, start/limit pages and the 9.1 space-permissions resource). Outbound requests to this
machine are allowed explicitly, as the web tests do.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from saas_servers import T0, ConfluencePage, FakeConfluence, confluence_site, storage_page

from app.sources import load_sources
from app.sync import sync_source
from connectors.api_client import RetryPolicy
from connectors.confluence import NO_READER, ConfluenceConnector
from connectors.confluence_storage import storage_to_html
from ingest.check import check
from ingest.parse import parse
from ingest.pipeline import document_id
from steward.domain import DocumentRef, ElementKind, RawDocument, SearchFilters
from steward.errors import ConfigError, SourceError
from steward.outbound import OutboundPolicy

LOOPBACK = OutboundPolicy.of(allow_private=True)
FAST = RetryPolicy(attempts=3, backoff_s=0.05, max_wait_s=5)
TOKEN = "tok-good"


@pytest.fixture
def cloud() -> Iterator[FakeConfluence]:
    site = confluence_site("cloud")
    yield site
    site.close()


@pytest.fixture
def datacenter() -> Iterator[FakeConfluence]:
    site = confluence_site("datacenter")
    yield site
    site.close()


def connector(site: FakeConfluence, **options: object) -> ConfluenceConnector:
    options.setdefault("outbound", LOOPBACK)
    options.setdefault("retry", FAST)
    options.setdefault("page_size", 5)
    return ConfluenceConnector(
        "wiki",
        site.url,
        ["ENG", "OPS"],
        TOKEN,
        "the token in $CONFLUENCE_TOKEN",
        user=site.user,
        deployment=site.deployment,
        **options,  # type: ignore[arg-type]
    )


def listed(site: FakeConfluence, **options: object) -> dict[str, RawDocument]:
    wiki = connector(site, **options)
    return {ref.key: wiki.fetch(ref) for ref in wiki.list()}


# -- storage format through the ordinary parse path ------------------------------------------


def test_storage_format_becomes_headings_lists_tables_and_code() -> None:
    html = storage_to_html(storage_page("Expenses", "expense claims", "Keep receipts."), "Expenses")
    ref = DocumentRef("wiki", "1", "http://wiki/1", T0, len(html))
    elements, meta, _ = parse(RawDocument(ref, html.encode(), "text/html", title="Expenses"))
    kinds = {(e.kind, e.text) for e in elements}
    assert (ElementKind.TITLE, "Steps") in kinds and (ElementKind.TITLE, "Limits") in kinds
    assert (ElementKind.LIST_ITEM, "Open the expense claims form.") in kinds
    table = next(e.text for e in elements if e.kind is ElementKind.TABLE)
    assert "| expense claims per month | 3 |" in table
    text = "\n".join(e.text for e in elements)
    assert "expense claims for the whole company" in text  # &nbsp; read as a space
    assert "Questions about expense claims go to the help desk." in text  # the panel's body
    assert "steward request --kind expense-claims" in text  # the code macro's CDATA
    assert "bash" not in text  # a macro parameter is not prose
    assert meta.title == "Expenses"


def test_links_tasks_and_unknown_macros_keep_what_a_reader_sees() -> None:
    storage = (
        '<p>See <ac:link><ri:page ri:content-title="Travel policy"/></ac:link> and '
        '<ac:link><ri:page ri:content-title="X"/><ac:plain-text-link-body><![CDATA[the rota]]>'
        "</ac:plain-text-link-body></ac:link>.</p>"
        "<ac:task-list><ac:task><ac:task-id>1</ac:task-id><ac:task-status>incomplete"
        "</ac:task-status><ac:task-body>Rotate the keys</ac:task-body></ac:task></ac:task-list>"
        '<ac:image><ri:attachment ri:filename="x.png"/></ac:image>'
        '<ac:structured-macro ac:name="jira"><ac:parameter ac:name="key">OPS-1</ac:parameter>'
        '</ac:structured-macro><p>Due <time datetime="2027-01-31"/>.</p>'
    )
    html = storage_to_html(storage, "T")
    assert "See Travel policy and the rota." in html
    assert "<ul><li>Rotate the keys</li></ul>" in html
    assert "incomplete" not in html and "x.png" not in html and "OPS-1" not in html
    assert "Due 2027-01-31." in html


# -- listing, metadata and permissions --------------------------------------------------------


@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
def test_every_page_is_listed_across_result_pages_with_its_metadata(deployment: str) -> None:
    site = confluence_site(deployment)
    try:
        documents = listed(site)
    finally:
        site.close()
    assert set(documents) == {"1000", *(str(1001 + n) for n in range(12)), "2000", "3000"}
    assert site.requests[site.context + "/rest/api/content/search"] == 3  # 15 pages, 5 a page
    runbook = documents["1001"]
    assert runbook.title == "Runbook 0" and runbook.media_type == "text/html"
    assert runbook.metadata["acl"] == ["engineering"]  # the space's readers
    assert runbook.metadata["tags"] == ["runbook"]
    assert runbook.metadata["review_by"] == "2027-03-31"  # from the label review-by-2027-03-31
    assert runbook.metadata["path"] == "Engineering / Engineering home"
    owner = "ana@acme.test" if deployment == "cloud" else "ana"
    assert runbook.metadata["owner"] == owner  # the creator; the last editor is the author
    assert runbook.metadata["author"] == ("ben@acme.test" if deployment == "cloud" else "ben")
    if deployment == "cloud":
        assert runbook.ref.source_uri == site.url + "/spaces/ENG/pages/1001/Runbook%2B0"
    else:
        assert runbook.ref.source_uri == site.url + "/display/ENG/Runbook%2B0"
    assert documents["3000"].metadata["acl"] == ["operations"]
    cleo = "user:cleo@acme.test" if deployment == "cloud" else "user:cleo"
    assert documents["2000"].metadata["acl"] == sorted(["finance", cleo])  # restricted page


def test_a_restricted_ancestor_restricts_its_children_and_disjoint_levels_close_the_page(
    cloud: FakeConfluence,
) -> None:
    cloud.add_page(
        ConfluencePage("2001", "ENG", "Bands 2027", "<p>Draft bands.</p>", parent="2000")
    )
    cloud.add_page(
        ConfluencePage(
            "2002", "ENG", "Board notes", "<p>Notes.</p>", parent="2000", read_groups=["board"]
        )
    )
    documents = listed(cloud)
    assert documents["2001"].metadata["acl"] == ["finance", "user:cleo@acme.test"]
    # Restricted to finance (and Cleo) above and to the board here: nobody named on both.
    assert documents["2002"].metadata["acl"] == [NO_READER]


def test_an_anonymous_space_is_public_and_group_prefixes_apply(cloud: FakeConfluence) -> None:
    cloud.spaces["OPS"].anonymous = True
    documents = listed(cloud, group_prefix="confluence:")
    assert documents["3000"].metadata["acl"] == []
    assert documents["1001"].metadata["acl"] == ["confluence:engineering"]


def test_space_permissions_that_cannot_be_read_fail_the_listing(cloud: FakeConfluence) -> None:
    original = cloud._cloud_space
    cloud._cloud_space = lambda space, expand: original(space, "")  # type: ignore[method-assign]
    with pytest.raises(SourceError, match="space ENG: its permissions are not readable"):
        listed(cloud)
    # Declared readers instead: no space permission is asked.
    documents = listed(cloud, space_permissions=False)
    assert documents["1001"].metadata["acl"] == []  # the source's acl applies on top


def test_list_changed_asks_cql_for_pages_modified_since_with_a_time_zone_margin(
    cloud: FakeConfluence,
) -> None:
    cloud.edit("1003", body=storage_page("Runbook 2", "topic 2", "Now with a rollback step."))
    since = cloud.pages["1003"].when - timedelta(minutes=30)
    wiki = connector(cloud)
    changed = {ref.key for ref in wiki.list_changed(since)}
    assert '"ENG", "OPS"' in cloud.cql[-1] and "lastmodified >=" in cloud.cql[-1]
    # 14 hours earlier than asked: every page of the fixture (edited at T0) is inside that.
    assert "1003" in changed
    cloud.edit("1003", when=since + timedelta(days=2))
    assert {ref.key for ref in wiki.list_changed(since + timedelta(days=1))} == {"1003"}
    # The ancestors of a changed page are asked for their restrictions, since they were not listed.
    read = "/rest/api/content/1000/restriction/byOperation/read"
    assert cloud.requests[cloud.context + read] >= 1


# -- behaving as an API client ----------------------------------------------------------------


def test_a_429_is_waited_out_for_as_long_as_retry_after_says(cloud: FakeConfluence) -> None:
    cloud.fault("/rest/api/content/search", 429, Retry_After="1")
    started = time.monotonic()
    documents = listed(cloud)
    assert time.monotonic() - started >= 1.0
    assert len(documents) == 15


def test_a_5xx_is_retried_with_backoff_and_a_lasting_one_fails_the_listing(
    cloud: FakeConfluence,
) -> None:
    cloud.fault("/rest/api/content/search", 503, times=2)
    assert len(listed(cloud)) == 15
    cloud.fault("/rest/api/content/search", 503, Retry_After="0.5")  # says when to come back
    started = time.monotonic()
    assert len(listed(cloud)) == 15
    assert time.monotonic() - started >= 0.5
    cloud.fault("/rest/api/content/search", 502, times=3)
    with pytest.raises(SourceError) as caught:
        listed(cloud)
    assert caught.value.source == "wiki" and "HTTP 502 after 3 attempts" in caught.value.reason


def test_a_retry_after_longer_than_the_sync_waits_fails_at_once(cloud: FakeConfluence) -> None:
    cloud.fault("/rest/api/content/search", 429, Retry_After="3600")
    started = time.monotonic()
    with pytest.raises(SourceError, match="Retry-After 3600 s"):
        listed(cloud)
    assert time.monotonic() - started < 1


def test_an_expired_token_fails_naming_where_it_comes_from_and_not_what_it_is(
    cloud: FakeConfluence,
) -> None:
    cloud.token = "tok-rotated"
    with pytest.raises(SourceError) as caught:
        listed(cloud)
    message = str(caught.value)
    assert "source 'wiki'" in message and "HTTP 401" in message
    assert "$CONFLUENCE_TOKEN" in message and TOKEN not in message


def test_requests_in_flight_stay_within_the_bound(cloud: FakeConfluence) -> None:
    for n in range(8):
        cloud.add_space(f"S{n}", f"Space {n}", ["everyone"])
    cloud.delay_s = 0.05
    wiki = ConfluenceConnector(
        "wiki",
        cloud.url,
        [f"S{n}" for n in range(8)],
        TOKEN,
        "the token",
        user=cloud.user,
        concurrency=2,
        outbound=LOOPBACK,
        retry=FAST,
    )
    assert list(wiki.list()) == []
    assert cloud.requests[cloud.context + "/rest/api/space/S7"] == 1
    assert cloud.most_in_flight == 2


def test_a_local_site_is_refused_without_the_operators_consent(cloud: FakeConfluence) -> None:
    with pytest.raises(SourceError, match="loopback"):
        listed(cloud, outbound=OutboundPolicy())
    assert sum(cloud.requests.values()) == 0


# -- syncs into a real index ------------------------------------------------------------------


def declare(root: Path, site: FakeConfluence, extra: str = "") -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "steward.yaml").write_text(
        "sources:\n"
        "  wiki:\n"
        "    connector: confluence\n"
        f"    url: {site.url}\n"
        "    spaces: [ENG, OPS]\n"
        f"    deployment: {site.deployment}\n"
        + (f"    user: {site.user}\n" if site.user else "")
        + "    token_env: CONFLUENCE_TOKEN\n"
        "    page_size: 5\n"
        "    retry_backoff_s: 0.05\n" + extra
    )


def test_the_token_is_referenced_never_stored(
    cloud: FakeConfluence, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    declare(tmp_path, cloud)
    monkeypatch.delenv("CONFLUENCE_TOKEN", raising=False)
    config = load_sources(tmp_path / "steward.yaml")["wiki"]
    with pytest.raises(ConfigError, match="CONFLUENCE_TOKEN is not set"):
        config.token()  # type: ignore[union-attr]
    (tmp_path / "token").write_text(TOKEN + "\n")
    (tmp_path / "steward.yaml").write_text(
        (tmp_path / "steward.yaml")
        .read_text()
        .replace("token_env: CONFLUENCE_TOKEN", "token_file: token")
    )
    config = load_sources(tmp_path / "steward.yaml")["wiki"]
    assert config.token() == (TOKEN, f"the token in {tmp_path / 'token'}")  # type: ignore[union-attr]
    assert TOKEN not in str(config.model_dump(mode="json"))


@pytest.mark.slow
def test_a_confluence_sync_end_to_end(
    cloud: FakeConfluence,
    open_home,
    embedder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONFLUENCE_TOKEN", TOKEN)
    declare(tmp_path / "a", cloud)
    live = open_home("a", embedder, outbound={"allow_private": True})

    first = sync_source(live, "wiki")
    assert (first["status"], first["new"]) == ("ok", 15), first
    stored = live.catalog.source("wiki")
    assert stored is not None and "CONFLUENCE_TOKEN" in str(stored)
    assert TOKEN not in str(stored) and TOKEN not in str(live.catalog.documents_of("wiki"))

    again = sync_source(live, "wiki")
    assert (again["unchanged"], again["chunks_embedded"]) == (15, 0)

    # Who may read changes, and pages move: metadata only, nothing embedded.
    cloud.pages["1002"].read_groups = ["sre"]
    cloud.pages["1003"].parent = "2000"  # under the restricted salary page
    cloud.pages["1004"].space, cloud.pages["1004"].parent = "OPS", "3000"
    moved = sync_source(live, "wiki")
    assert (moved["metadata_only"], moved["chunks_embedded"], moved["changed"]) == (3, 0, 0), moved
    sre = live.store.document_chunks(document_id("wiki", "1002"))
    assert {tuple(c.payload.acl) for c in sre} == {("sre",)}
    under = live.catalog.documents_of("wiki")[document_id("wiki", "1003")]
    assert under.acl == ["finance", "user:cleo@acme.test"]
    ops = live.store.document_chunks(document_id("wiki", "1004"))
    assert {c.payload.source_uri for c in ops} == {cloud.url + "/spaces/OPS/pages/1004/Runbook%2B3"}
    assert {tuple(c.payload.acl) for c in ops} == {("operations",)}

    # An edit re-embeds that page; a deletion leaves a tombstone.
    cloud.edit("1005", body=storage_page("Runbook 4", "topic 4", "Escalate to the incident lead."))
    del cloud.pages["1006"]
    edited = sync_source(live, "wiki")
    assert (edited["changed"], edited["deleted"]) == (1, 1), edited
    assert edited["chunks_embedded"] > 0
    assert [t["doc_id"] for t in live.catalog.tombstones_of("wiki")] == [
        document_id("wiki", "1006")
    ]

    # Retrieval sees what each reader may read, with the owner and the page's address.
    hits = live.retriever.retrieve(
        "Escalate to the incident lead", top_k=3, filters=SearchFilters(groups=("engineering",))
    ).hits
    assert hits[0].payload.doc_id == document_id("wiki", "1005")
    assert hits[0].payload.owner == "ana@acme.test"
    assert hits[0].payload.source_uri == cloud.url + "/spaces/ENG/pages/1005/Runbook%2B4"
    assert hits[0].payload.acl == ["engineering"]
    salary = "Bands are reviewed every spring"
    for groups in (("engineering",), ("operations",)):
        found = live.retriever.retrieve(salary, top_k=20, filters=SearchFilters(groups=groups)).hits
        assert document_id("wiki", "2000") not in {h.payload.doc_id for h in found}
    found = live.retriever.retrieve(
        salary, top_k=3, filters=SearchFilters(groups=("finance",))
    ).hits
    assert found[0].payload.doc_id == document_id("wiki", "2000")
    assert check(live.catalog, live.store).clean

    # An expired token fails the run, naming the reason; nothing is pruned.
    cloud.token = "tok-rotated"
    failed = sync_source(live, "wiki")
    assert failed["status"] == "failed" and "HTTP 401" in failed["error"]
    assert "CONFLUENCE_TOKEN" in failed["error"] and TOKEN not in failed["error"]
    assert len(live.catalog.documents_of("wiki")) == 14
    assert check(live.catalog, live.store).clean


def test_a_listing_that_would_remove_most_pages_deletes_nothing(
    cloud: FakeConfluence, open_home, hash_embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONFLUENCE_TOKEN", TOKEN)
    declare(tmp_path / "a", cloud)
    live = open_home("a", hash_embedder, outbound={"allow_private": True})
    assert sync_source(live, "wiki")["new"] == 15
    cloud.pages = {k: v for k, v in cloud.pages.items() if k in ("1000", "3000")}
    guarded = sync_source(live, "wiki")
    assert guarded["status"] == "failed" and "would delete 13 of 15" in guarded["error"]
    assert len(live.catalog.documents_of("wiki")) == 15
    # A lasting server error mid-listing prunes nothing either.
    cloud.fault("/rest/api/content/search", 500, times=10)
    broken = sync_source(live, "wiki", allow_deletes=True)
    assert broken["status"] == "failed" and "HTTP 500" in broken["error"]
    assert len(live.catalog.documents_of("wiki")) == 15
    assert check(live.catalog, live.store).clean


def test_a_data_center_sync_uses_the_bearer_token(
    datacenter: FakeConfluence,
    open_home,
    hash_embedder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONFLUENCE_TOKEN", TOKEN)
    declare(tmp_path / "a", datacenter)
    live = open_home("a", hash_embedder, outbound={"allow_private": True})
    summary = sync_source(live, "wiki")
    assert (summary["status"], summary["new"]) == ("ok", 15), summary
    row = live.catalog.documents_of("wiki")[document_id("wiki", "2000")]
    assert row.acl == ["finance", "user:cleo"] and row.owner == "ana"
    assert check(live.catalog, live.store).clean


def test_undeclared_readers_and_two_tokens_are_refused_when_the_file_is_read(
    tmp_path: Path,
) -> None:
    base = "sources:\n  wiki:\n    connector: confluence\n    url: https://x.example/wiki\n"
    cases = {
        "    spaces: [ENG]\n    token_env: T\n    space_permissions: false\n": "needs acl",
        "    spaces: [ENG]\n    token_env: T\n    token_file: t\n": "exactly one of token_env",
        "    spaces: []\n    token_env: T\n": "spaces",
    }
    for extra, named in cases.items():
        (tmp_path / "steward.yaml").write_text(base + extra)
        with pytest.raises(ConfigError, match=named):
            load_sources(tmp_path / "steward.yaml")


def test_a_data_center_without_the_space_permissions_resource_says_what_to_do(
    datacenter: FakeConfluence,
) -> None:
    datacenter.fault("/rest/api/space/ENG/permissions", 404)
    with pytest.raises(SourceError, match="needs Confluence Data Center 9.1") as caught:
        listed(datacenter)
    assert "space_permissions: false" in caught.value.reason
    assert sum(n for path, n in datacenter.requests.items() if path.endswith("/search")) == 0


@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
def test_attachments_are_documents_with_their_pages_readers(
    deployment: str, tmp_path: Path
) -> None:
    site = confluence_site(deployment)
    appendix = b"# Appendix\n\nRestart the queue workers before the database.\n"
    site.pages["1001"].attachments = [
        ("att1", "Runbook appendix.md", appendix, 2),
        ("att2", "diagram.png", b"\x89PNG", 1),
    ]
    site.pages["2000"].attachments = [("att3", "bands.txt", b"Band A starts at 50k.\n", 1)]
    try:
        documents = listed(site, attachments=True, workdir=tmp_path)
        again = listed(site, attachments=True, workdir=tmp_path)
    finally:
        site.close()
    appendix_doc = documents["1001/attachments/att1"]
    assert "1001/attachments/att2" not in documents  # an image is not read
    assert appendix_doc.content == appendix and appendix_doc.media_type == "text/markdown"
    assert appendix_doc.title == "Runbook appendix"
    assert appendix_doc.metadata["acl"] == ["engineering"]
    assert appendix_doc.metadata["path"] == "Engineering / Engineering home / Runbook 0"
    assert documents["2000/attachments/att3"].metadata["acl"] == documents["2000"].metadata["acl"]
    assert again["1001/attachments/att1"].content == appendix
    downloads = sum(n for path, n in site.requests.items() if "/download/attachments/" in path)
    assert downloads == 2  # kept by version: the second listing downloaded nothing
    if deployment == "cloud":
        # Cloud redirects downloads to its media store; no Confluence credentials go there.
        assert sum(n for path, n in site.requests.items() if path.startswith("/media/")) == 2
        assert site.media_with_authorization == 0
