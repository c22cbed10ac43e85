"""What every SaaS connector owes the pipeline, checked on all four against their local servers:
nothing is requested where the outbound policy does not allow, a refused credential fails the
listing with the source's name and without the secret, and a rate limit is waited out."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from saas_servers import (
    DRIVE_ID,
    FakeApi,
    confluence_site,
    drive_site,
    graph_site,
    notion_workspace,
)

from connectors.api_client import RetryPolicy
from connectors.confluence import ConfluenceConnector
from connectors.google_drive import GoogleDriveConnector
from connectors.notion import NotionConnector
from connectors.sharepoint import SharePointConnector
from steward.domain import DocumentRef, utc_now
from steward.errors import DocumentError, SourceError
from steward.outbound import OutboundPolicy

FAST = RetryPolicy(attempts=3, backoff_s=0.05, max_wait_s=5)
LOOPBACK = OutboundPolicy.of(allow_private=True)
Build = Callable[[Any, Path, OutboundPolicy], Any]


def _confluence(site: Any, work: Path, outbound: OutboundPolicy) -> ConfluenceConnector:
    return ConfluenceConnector(
        "src", site.url, ["ENG", "OPS"], site.token, "the token in $T", user=site.user,
        outbound=outbound, retry=FAST,
    )  # fmt: skip


def _notion(site: Any, work: Path, outbound: OutboundPolicy) -> NotionConnector:
    return NotionConnector(
        "src", site.token, "the token in $T", work, url=site.url, outbound=outbound, retry=FAST
    )


def _drive(site: Any, work: Path, outbound: OutboundPolicy) -> GoogleDriveConnector:
    key = site.service_account_key()
    return GoogleDriveConnector(
        "src", key, "key.json", ["root"], work, url=site.url, outbound=outbound, retry=FAST
    )


def _sharepoint(site: Any, work: Path, outbound: OutboundPolicy) -> SharePointConnector:
    return SharePointConnector(
        "src", site.tenant, site.client_id, site.secret, "the client secret in $T", DRIVE_ID,
        work, url=site.url, login_url=site.url, outbound=outbound, retry=FAST,
    )  # fmt: skip


def _revoke(site: Any) -> str:
    """Make the credentials the connector holds invalid; the secret that must not leak."""
    if hasattr(site, "key_revoked"):
        site.key_revoked = True
        site.expire_tokens()
        return str(site.private_key)
    if hasattr(site, "secret"):
        secret = str(site.secret)
        site.secret = "rotated"
        site.expire_tokens()
        return secret
    token = str(site.token)
    site.token = "rotated"
    return token


CASES = {
    "confluence": (confluence_site, _confluence, "/rest/api/content/search"),
    "notion": (notion_workspace, _notion, "/v1/search"),
    "google_drive": (drive_site, _drive, "/drive/v3/files"),
    "sharepoint": (graph_site, _sharepoint, "/root/delta"),
}


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> Iterator[tuple[FakeApi, Build, str]]:
    make, build, listing = CASES[request.param]
    site = make()
    yield site, build, listing
    site.close()


def test_nothing_is_requested_where_the_outbound_policy_forbids(case, tmp_path: Path) -> None:
    site, build, _ = case
    with pytest.raises(SourceError, match="loopback"):
        list(build(site, tmp_path, OutboundPolicy()).list())
    assert sum(site.requests.values()) == 0


def test_a_refused_credential_fails_the_listing_without_the_secret(case, tmp_path: Path) -> None:
    site, build, _ = case
    connector = build(site, tmp_path, LOOPBACK)
    assert list(connector.list())
    fresh = build(site, tmp_path / "fresh", LOOPBACK)  # built before, never authorized
    secret = _revoke(site)
    for candidate in (connector, fresh):
        with pytest.raises(SourceError) as caught:
            list(candidate.list())
        assert caught.value.source == "src" and secret not in str(caught.value)
        assert "HTTP 40" in caught.value.reason  # the status the provider answered


def test_a_rate_limit_is_waited_out_and_the_listing_completes(case, tmp_path: Path) -> None:
    site, build, listing = case
    complete = {ref.key for ref in build(site, tmp_path / "a", LOOPBACK).list()}
    site.fault(listing, 429, Retry_After="0.3")
    started = time.monotonic()
    assert {ref.key for ref in build(site, tmp_path / "b", LOOPBACK).list()} == complete
    assert time.monotonic() - started >= 0.3


def test_an_unlisted_key_is_a_document_error(case, tmp_path: Path) -> None:
    site, build, _ = case
    connector = build(site, tmp_path, LOOPBACK)
    list(connector.list())
    ghost = DocumentRef("src", "no-such-key", "https://example.test/x", utc_now(), 0)
    with pytest.raises(DocumentError):
        connector.fetch(ghost)
