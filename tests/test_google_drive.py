"""The Google Drive connector against a local server speaking the Drive API v3 and an OAuth
token endpoint that checks the service account's signed JWT."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from saas_servers import DriveFile, FakeDrive, doc_html, drive_site, grant

from app.runtime import Runtime
from app.sync import sync_source
from connectors.api_client import RetryPolicy
from connectors.google_drive import GoogleDriveConnector
from ingest.check import check
from ingest.parse import parse
from ingest.pipeline import document_id
from steward.domain import ElementKind, RawDocument
from steward.errors import SourceError
from steward.outbound import OutboundPolicy

LOOPBACK = OutboundPolicy.of(allow_private=True)
FAST = RetryPolicy(attempts=3, backoff_s=0.05, max_wait_s=5)


@pytest.fixture
def drive() -> Iterator[FakeDrive]:
    site = drive_site()
    yield site
    site.close()


def connector(site: FakeDrive, workdir: Path, **options: object) -> GoogleDriveConnector:
    options.setdefault("outbound", LOOPBACK)
    options.setdefault("retry", FAST)
    return GoogleDriveConnector(
        "drive",
        site.service_account_key(),
        "key.json",
        ["root"],
        workdir,
        url=site.url,
        **options,  # type: ignore[arg-type]
    )


def listed(site: FakeDrive, workdir: Path, **options: object) -> dict[str, RawDocument]:
    drive = connector(site, workdir, **options)
    return {ref.key: drive.fetch(ref) for ref in drive.list()}


def test_docs_and_files_are_read_with_their_readers(drive: FakeDrive, tmp_path: Path) -> None:
    drive.max_page_size = 4
    documents = listed(drive, tmp_path)
    # Docs exported, Markdown downloaded; the image, the folder and the trashed doc are not.
    assert set(documents) == {*(f"doc{n:02d}" for n in range(6)), "notes.md", "salary"}
    assert drive.requests["/drive/v3/files"] >= 3  # 9 children of root, 4 a page
    policy = documents["doc00"]
    assert policy.media_type == "text/html" and policy.title == "Policy 0"
    assert policy.metadata["acl"] == ["domain:acme.test", "user:ana@acme.test"]
    assert policy.metadata["owner"] == "ana@acme.test" and policy.metadata["path"] == "Policies"
    assert policy.ref.source_uri == "https://docs.google.com/document/d/doc00/edit"
    # In the shared drive the listing has no permissions: they are asked per file.
    salary = documents["salary"]
    assert salary.metadata["acl"] == ["finance@acme.test", "user:cleo@acme.test"]
    assert salary.metadata["path"] == "Policies / HR"
    assert drive.requests["/drive/v3/files/salary/permissions"] == 1
    # "Anyone with the link" names nobody: the owner alone reads it here.
    assert documents["notes.md"].metadata["acl"] == ["user:ana@acme.test"]
    assert documents["notes.md"].title == "notes"
    elements, _, _ = parse(policy)
    kinds = {(e.kind, e.text) for e in elements}
    assert (ElementKind.TITLE, "Steps") in kinds
    assert (ElementKind.LIST_ITEM, "Open the policy 0 form.") in kinds
    assert "| policy 0 per month | 3 |" in next(
        e.text for e in elements if e.kind is ElementKind.TABLE
    )


def test_anyone_who_can_find_it_makes_a_file_public(drive: FakeDrive, tmp_path: Path) -> None:
    drive.files["doc01"].permissions.append(grant("anyone", discoverable=True))
    assert listed(drive, tmp_path)["doc01"].metadata["acl"] == []
    assert (
        listed(drive, tmp_path / "b", link_sharing_is_public=True)["notes.md"].metadata["acl"] == []
    )


def test_an_unchanged_file_is_not_downloaded_again(drive: FakeDrive, tmp_path: Path) -> None:
    listed(drive, tmp_path)
    drive.change("doc02", doc_html("Policy 2", "policy 2", "Now with an appeal step."))
    before = sum(n for path, n in drive.requests.items() if path.endswith("/export"))
    again = listed(drive, tmp_path)
    assert sum(n for path, n in drive.requests.items() if path.endswith("/export")) - before == 1
    assert b"appeal step" in again["doc02"].content


def test_an_expired_access_token_is_renewed_and_a_revoked_key_fails_clearly(
    drive: FakeDrive, tmp_path: Path
) -> None:
    drive_connector = connector(drive, tmp_path)
    assert len(list(drive_connector.list())) == 8
    drive.expire_tokens()
    assert len(list(drive_connector.list())) == 8  # one 401, a new token, the same listing
    assert drive.issued == 2
    drive.expire_tokens()
    drive.key_revoked = True
    with pytest.raises(SourceError) as caught:
        list(drive_connector.list())
    assert "key.json was refused" in caught.value.reason and "HTTP 400" in caught.value.reason
    assert drive.private_key not in str(caught.value)


def test_a_429_and_a_5xx_are_waited_out(drive: FakeDrive, tmp_path: Path) -> None:
    drive.fault("/drive/v3/files", 429, Retry_After="0.2")
    drive.fault("/export", 500, times=2)
    assert len(listed(drive, tmp_path)) == 8


def test_the_changes_feed_names_edits_and_new_readers(drive: FakeDrive, tmp_path: Path) -> None:
    from steward.domain import utc_now

    drive_connector = connector(drive, tmp_path)
    list(drive_connector.list())
    drive_connector.keep_position()
    drive.change("doc03", permissions=[grant("group", "legal@acme.test")])
    drive.change("doc04", doc_html("Policy 4", "policy 4", "Revised."))
    drive.add(DriveFile("elsewhere", "Not ours", "text/plain", "other-folder", b"x"))
    changed = {ref.key: ref for ref in drive_connector.list_changed(utc_now())}
    assert set(changed) == {"doc03", "doc04"}  # not the file outside the folders
    assert drive_connector.fetch(changed["doc03"]).metadata["acl"] == ["legal@acme.test"]
    # Until the run that listed them keeps the position, the same changes are listed again.
    assert {ref.key for ref in drive_connector.list_changed(utc_now())} == {"doc03", "doc04"}
    drive_connector.keep_position()
    assert set(drive_connector.list_changed(utc_now())) == set()  # the token moved on


def drive_home(drive: FakeDrive, open_home, hash_embedder, tmp_path: Path) -> Runtime:
    root = tmp_path / "a"
    root.mkdir()
    (root / "key.json").write_text(json.dumps(drive.service_account_key()))
    (root / "steward.yaml").write_text(
        "sources:\n  drive:\n    connector: google_drive\n    token_file: key.json\n"
        f"    folders: [root]\n    url: {drive.url}\n    retry_backoff_s: 0.05\n"
    )
    live: Runtime = open_home("a", hash_embedder, outbound={"allow_private": True})
    return live


def test_a_failed_run_leaves_the_changes_feed_token_where_it_was(
    drive: FakeDrive, open_home, hash_embedder, tmp_path: Path
) -> None:
    live = drive_home(drive, open_home, hash_embedder, tmp_path)
    assert sync_source(live, "drive")["status"] == "ok"
    drive.change("doc04", doc_html("Policy 4", "policy 4", "Revised: refunds within thirty days."))

    # Listed, then its body cannot be read (a 5xx past the retries): the run fails.
    drive.fault("/doc04/export", 500, times=50)
    failed = sync_source(live, "drive", incremental=True)
    assert failed["status"] == "failed" and "HTTP 500" in failed["error"], failed
    drive.faults.clear()
    # A listing that breaks off after the feed was read (the walk of the folders): failed too.
    drive.fault("/drive/v3/files", 503, times=50)
    broken = sync_source(live, "drive", incremental=True)
    assert broken["status"] == "failed" and "HTTP 503" in broken["error"], broken
    drive.faults.clear()

    # The next run is shown the change again and indexes it.
    again = sync_source(live, "drive", incremental=True)
    assert (again["status"], again["listed"], again["changed"]) == ("ok", 1, 1), again
    chunks = live.store.document_chunks(document_id("drive", "doc04"))
    assert any("thirty days" in c.payload.text for c in chunks)
    # Kept with that good run: the feed has nothing new after it.
    settled = sync_source(live, "drive", incremental=True)
    assert (settled["status"], settled["listed"]) == ("ok", 0), settled


def test_a_drive_sync_end_to_end(
    drive: FakeDrive, open_home, hash_embedder, tmp_path: Path
) -> None:
    live = drive_home(drive, open_home, hash_embedder, tmp_path)
    first = sync_source(live, "drive")
    assert (first["status"], first["new"]) == ("ok", 8), first
    stored = live.catalog.source("drive")
    assert stored is not None and "BEGIN PRIVATE KEY" not in str(stored)
    again = sync_source(live, "drive")
    assert (again["unchanged"], again["chunks_embedded"]) == (8, 0)

    drive.change("doc01", permissions=[grant("group", "legal@acme.test")])
    drive.change("doc02", parent="hr")  # moved into the HR folder
    regrouped = sync_source(live, "drive")
    assert (regrouped["metadata_only"], regrouped["chunks_embedded"]) == (2, 0), regrouped
    chunks = live.store.document_chunks(document_id("drive", "doc01"))
    assert {tuple(c.payload.acl) for c in chunks} == {("legal@acme.test",)}

    drive.delete("doc05")
    pruned = sync_source(live, "drive")
    assert pruned["deleted"] == 1
    assert [t["doc_id"] for t in live.catalog.tombstones_of("drive")] == [
        document_id("drive", "doc05")
    ]
    assert check(live.catalog, live.store).clean

    drive.expire_tokens()
    drive.key_revoked = True
    failed = sync_source(live, "drive")
    assert failed["status"] == "failed" and "was refused" in failed["error"]
    assert len(live.catalog.documents_of("drive")) == 7
    assert check(live.catalog, live.store).clean
