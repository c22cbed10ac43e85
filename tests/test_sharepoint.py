"""The SharePoint/OneDrive connector against a local server speaking Microsoft Graph v1.0
(drive delta, item permissions, pre-authenticated downloads) and the identity platform's
client-credentials token endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from saas_servers import DRIVE_ID, FakeGraph, GraphItem, graph_grant, graph_site

from app.runtime import Runtime
from app.sources import SharePointSource, load_sources
from app.sync import sync_source
from connectors.api_client import RetryPolicy
from connectors.sharepoint import NO_READER, SharePointConnector
from ingest.check import check
from ingest.pipeline import document_id
from steward.domain import RawDocument, utc_now
from steward.errors import ConfigError, SourceError
from steward.outbound import OutboundPolicy

LOOPBACK = OutboundPolicy.of(allow_private=True)
FAST = RetryPolicy(attempts=3, backoff_s=0.05, max_wait_s=5)


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    site = graph_site()
    yield site
    site.close()


def connector(site: FakeGraph, workdir: Path, **options: object) -> SharePointConnector:
    options.setdefault("outbound", LOOPBACK)
    options.setdefault("retry", FAST)
    return SharePointConnector(
        "sp",
        site.tenant,
        site.client_id,
        site.secret,
        "the client secret in $SP_SECRET",
        DRIVE_ID,
        workdir,
        url=site.url,
        login_url=site.url,
        **options,  # type: ignore[arg-type]
    )


def listed(site: FakeGraph, workdir: Path, **options: object) -> dict[str, RawDocument]:
    library = connector(site, workdir, **options)
    return {ref.key: library.fetch(ref) for ref in library.list()}


def test_files_are_read_with_their_readers_across_delta_pages(
    graph: FakeGraph, tmp_path: Path
) -> None:
    graph.max_page_size = 3
    documents = listed(graph, tmp_path)
    assert set(documents) == {*(f"i{n:02d}" for n in range(6)), "salary"}  # no folders, no png
    assert graph.requests[f"/v1.0/drives/{DRIVE_ID}/root/delta"] == 4  # 11 items, 3 a page
    policy = documents["i00"]
    assert policy.media_type == "text/markdown" and policy.title == "Policy 0"
    assert policy.metadata["acl"] == ["KB Members", "user:ana@acme.test"]
    assert policy.metadata["owner"] == "ana@acme.test" and policy.metadata["path"] == "/Policies"
    assert policy.ref.source_uri.endswith("/Shared%20Documents/Policies/Policy%200.md")
    assert documents["salary"].metadata["acl"] == ["finance@acme.test", "organization"]
    assert graph.downloads_with_authorization == 0  # the Graph token stays with Graph


def test_a_folder_limits_the_listing_and_links_name_no_reader(
    graph: FakeGraph, tmp_path: Path
) -> None:
    graph.add(
        GraphItem("open", "Open.txt", "/HR", b"Anyone.\n", permissions=[graph_grant("anonymous")])
    )
    documents = listed(graph, tmp_path, folder="HR")
    assert set(documents) == {"salary", "open"}
    assert documents["open"].metadata["acl"] == [NO_READER]
    assert (
        listed(graph, tmp_path, folder="HR", link_sharing_is_public=True)["open"].metadata["acl"]
        == []
    )


def test_groups_are_named_by_email_or_by_entra_id_never_by_display_name(
    graph: FakeGraph, tmp_path: Path
) -> None:
    mailless = graph_grant("group", "Finance Team")  # a security group: no email
    del mailless["grantedToV2"]["group"]["email"]
    memo = b"# Memo\n\nThe budget.\n"
    grants = [graph_grant("group", "legal@acme.test"), mailless, graph_grant("siteGroup", "HR")]
    graph.add(GraphItem("memo", "Memo.md", "/HR", memo, permissions=grants))

    by_email = listed(graph, tmp_path / "email", folder="HR")
    # Two groups may share a display name, and no token lists one: the id stands in.
    assert by_email["memo"].metadata["acl"] == ["HR", "g-Finance Team", "legal@acme.test"]
    by_id = listed(graph, tmp_path / "id", folder="HR", group_names="id")
    # Entra object ids, as an Entra ID token's `groups` claim lists them; site groups by name.
    assert by_id["memo"].metadata["acl"] == ["HR", "g-Finance Team", "g-legal@acme.test"]
    assert by_id["salary"].metadata["acl"] == ["g-finance@acme.test", "organization"]


def test_group_names_is_read_from_steward_yaml_and_a_bad_value_named(tmp_path: Path) -> None:
    base = (
        "sources:\n  sp:\n    connector: sharepoint\n    tenant: t\n    client_id: c\n"
        f"    drive: '{DRIVE_ID}'\n    token_env: SP_SECRET\n"
    )
    (tmp_path / "steward.yaml").write_text(base + "    group_names: id\n")
    config = load_sources(tmp_path / "steward.yaml")["sp"]
    assert isinstance(config, SharePointSource) and config.group_names == "id"
    (tmp_path / "steward.yaml").write_text(base + "    group_names: display_name\n")
    with pytest.raises(ConfigError, match="group_names"):
        load_sources(tmp_path / "steward.yaml")


def test_the_delta_link_names_edits_moves_and_new_readers(graph: FakeGraph, tmp_path: Path) -> None:
    library = connector(graph, tmp_path)
    list(library.list())
    library.keep_position()
    graph.change("i01", permissions=[graph_grant("group", "legal@acme.test")])
    graph.change("i02", b"# Policy 2\n\nRevised.\n")
    graph.delete("i03")
    changed = {ref.key: ref for ref in library.list_changed(utc_now())}
    assert set(changed) == {"i01", "i02"}  # the deletion is for a full sync to prune
    assert library.fetch(changed["i01"]).metadata["acl"] == ["legal@acme.test"]
    # Until the run that listed them keeps the position, the same changes are listed again.
    assert {ref.key for ref in library.list_changed(utc_now())} == {"i01", "i02"}
    library.keep_position()
    assert set(library.list_changed(utc_now())) == set()


def test_an_expired_token_is_renewed_and_a_wrong_secret_fails_clearly(
    graph: FakeGraph, tmp_path: Path
) -> None:
    library = connector(graph, tmp_path)
    assert len(list(library.list())) == 7
    graph.expire_tokens()
    assert len(list(library.list())) == 7
    assert graph.issued == 2
    stale = connector(graph, tmp_path)  # built with the secret as it was
    graph.secret = "rotated"
    with pytest.raises(SourceError) as caught:
        list(stale.list())
    assert "HTTP 401" in caught.value.reason and "$SP_SECRET" in caught.value.reason
    assert "s3cr3t" not in str(caught.value)


def test_a_429_and_a_5xx_are_waited_out(graph: FakeGraph, tmp_path: Path) -> None:
    graph.fault("/root/delta", 429, Retry_After="0.2")
    graph.fault("/permissions", 503, times=2)
    assert len(listed(graph, tmp_path)) == 7


def sharepoint_home(
    graph: FakeGraph, open_home, hash_embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Runtime:
    monkeypatch.setenv("SP_SECRET", graph.secret)
    root = tmp_path / "a"
    root.mkdir()
    (root / "steward.yaml").write_text(
        "sources:\n  sp:\n    connector: sharepoint\n"
        f"    tenant: {graph.tenant}\n    client_id: {graph.client_id}\n    drive: '{DRIVE_ID}'\n"
        f"    url: {graph.url}\n    login_url: {graph.url}\n    token_env: SP_SECRET\n"
        "    retry_backoff_s: 0.05\n"
    )
    live: Runtime = open_home("a", hash_embedder, outbound={"allow_private": True})
    return live


def test_a_failed_run_leaves_the_delta_link_where_it_was(
    graph: FakeGraph, open_home, hash_embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = sharepoint_home(graph, open_home, hash_embedder, tmp_path, monkeypatch)
    assert sync_source(live, "sp")["status"] == "ok"
    graph.change("i02", b"# Policy 2\n\nRevised: refunds within thirty days.\n")

    # Listed, then its body cannot be downloaded (a 5xx past the retries): the run fails.
    graph.fault("/download/i02", 500, times=50)
    failed = sync_source(live, "sp", incremental=True)
    assert failed["status"] == "failed" and "HTTP 500" in failed["error"], failed
    graph.faults.clear()
    # A listing that breaks off after the delta was read (a changed item's readers): failed too.
    graph.fault("/items/i02/permissions", 503, times=50)
    broken = sync_source(live, "sp", incremental=True)
    assert broken["status"] == "failed" and "HTTP 503" in broken["error"], broken
    graph.faults.clear()

    # The next run is shown the change again and indexes it.
    again = sync_source(live, "sp", incremental=True)
    assert (again["status"], again["listed"], again["changed"]) == ("ok", 1, 1), again
    chunks = live.store.document_chunks(document_id("sp", "i02"))
    assert any("thirty days" in c.payload.text for c in chunks)
    # Kept with that good run: the delta has nothing new after it.
    settled = sync_source(live, "sp", incremental=True)
    assert (settled["status"], settled["listed"]) == ("ok", 0), settled


def test_a_sharepoint_sync_end_to_end(
    graph: FakeGraph, open_home, hash_embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = sharepoint_home(graph, open_home, hash_embedder, tmp_path, monkeypatch)
    first = sync_source(live, "sp")
    assert (first["status"], first["new"]) == ("ok", 7), first
    again = sync_source(live, "sp")
    assert (again["unchanged"], again["chunks_embedded"]) == (7, 0)

    graph.change("i01", permissions=[graph_grant("group", "legal@acme.test")])
    graph.change("i02", parent_path="/HR")  # moved
    regrouped = sync_source(live, "sp")
    assert (regrouped["metadata_only"], regrouped["chunks_embedded"]) == (2, 0), regrouped
    moved = live.catalog.documents_of("sp")[document_id("sp", "i02")]
    assert moved.source_uri.endswith("/Shared%20Documents/HR/Policy%202.md")

    graph.delete("i05")
    pruned = sync_source(live, "sp")
    assert pruned["deleted"] == 1
    assert [t["doc_id"] for t in live.catalog.tombstones_of("sp")] == [document_id("sp", "i05")]
    assert check(live.catalog, live.store).clean

    monkeypatch.setenv("SP_SECRET", "expired")
    failed = sync_source(live, "sp")
    assert failed["status"] == "failed" and "HTTP 401" in failed["error"]
    assert len(live.catalog.documents_of("sp")) == 6
    assert check(live.catalog, live.store).clean
