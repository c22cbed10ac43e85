"""The web connector against real HTTP servers on loopback serving a small site.

Outbound requests go to public addresses only unless the operator allows more: each test opts
in to its loopback server explicitly (`LOOPBACK`, or a host:port policy).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from email.utils import formatdate
from hashlib import sha256
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from connectors.web import WebConnector
from ingest.check import check
from ingest.pipeline import document_id
from steward.errors import SourceError
from steward.outbound import OutboundPolicy

# The operator's opt-in for a site on this machine (STEWARD_OUTBOUND_ALLOW_PRIVATE=true).
LOOPBACK = OutboundPolicy.of(allow_private=True)

NAV = "Home | Products | Careers | Contact"


def page(title: str, body: str, links: list[str] = ()) -> str:  # type: ignore[assignment]
    anchors = "".join(f'<a href="{href}">{href}</a> ' for href in links)
    return (
        f"<html><head><title>{title}</title></head><body>"
        f"<nav>{NAV}</nav><header>Brightwater intranet</header>"
        f"<main><h1>{title}</h1><p>{body}</p><p>{anchors}</p></main>"
        f"<footer>Copyright 2026 Brightwater</footer></body></html>"
    )


class Site:
    """A tiny site: pages by path, ETags, robots.txt, and a log of what was asked."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {
            "/robots.txt": "User-agent: *\nDisallow: /private/\n",
            "/": page(
                "Welcome",
                "Start here for everything.",
                ["/refunds", "/travel", "/private/salaries", "https://elsewhere.example/"],
            ),
            "/refunds": page("Refunds", "The refund window is 30 days.", ["/travel", "/#top"]),
            "/travel": page("Travel", "The per diem is 65 dollars.", ["/"]),
            "/private/salaries": page("Salaries", "Secret numbers."),
        }
        self.redirects: dict[str, str] = {}  # path -> Location answered with 302
        self.requests: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self.down = False
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                site.requests[self.path] += 1
                if site.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                if self.path in site.redirects:
                    self.send_response(302)
                    self.send_header("Location", site.redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = site.pages.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                etag = '"' + sha256(body.encode()).hexdigest()[:12] + '"'
                if self.headers.get("If-None-Match") == etag:
                    site.not_modified[self.path] += 1
                    self.send_response(304)
                    self.end_headers()
                    return
                data = body.encode()
                self.send_response(200)
                kind = "text/plain" if self.path.endswith(".txt") else "text/html; charset=utf-8"
                self.send_header("Content-Type", kind)
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", formatdate(1767225600, usegmt=True))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    running = Site()
    yield running
    running.close()


def connector(site: Site, tmp_path: Path, **options: object) -> WebConnector:
    options.setdefault("outbound", LOOPBACK)
    options.setdefault("delay_s", 0)
    return WebConnector("web", tmp_path / "web", start_url=site.url + "/", **options)  # type: ignore[arg-type]


def test_the_crawl_stays_in_bounds_and_obeys_robots(site: Site, tmp_path: Path) -> None:
    refs = {ref.key for ref in connector(site, tmp_path).list()}
    assert refs == {site.url + "/", site.url + "/refunds", site.url + "/travel"}
    assert site.requests["/private/salaries"] == 0  # disallowed by robots.txt
    assert site.requests["/"] == 1  # "/#top" is the same page


def test_the_page_limit_is_kept(site: Site, tmp_path: Path) -> None:
    assert len(list(connector(site, tmp_path, max_pages=2).list())) == 2


def test_main_content_only(site: Site, tmp_path: Path) -> None:
    web = connector(site, tmp_path)
    ref = next(r for r in web.list() if r.key.endswith("/refunds"))
    content = web.fetch(ref).content.decode()
    assert "refund window is 30 days" in content
    assert NAV not in content and "Copyright" not in content and "intranet" not in content


def test_a_sitemap_lists_exactly_its_pages(site: Site, tmp_path: Path) -> None:
    site.pages["/sitemap.xml"] = (
        f"<urlset><url><loc>{site.url}/travel</loc></url>"
        f"<url><loc>{site.url}/refunds</loc></url></urlset>"
    )
    web = WebConnector(
        "web", tmp_path / "web", sitemap_url=site.url + "/sitemap.xml", delay_s=0, outbound=LOOPBACK
    )
    assert {ref.key for ref in web.list()} == {site.url + "/travel", site.url + "/refunds"}


def test_requests_are_spaced_by_the_delay(site: Site, tmp_path: Path) -> None:
    import time

    started = time.monotonic()
    list(connector(site, tmp_path, delay_s=0.2).list())
    # robots.txt and three pages: four requests, three gaps of at least 0.2 s.
    assert time.monotonic() - started >= 0.6


def test_web_sync_change_classes_with_conditional_requests(
    site: Site, open_home, hash_embedder, tmp_path: Path
) -> None:
    live = open_home("a", hash_embedder, ingest={"max_delete_share": 1.0})
    first = live.pipeline.run(connector(site, tmp_path))
    assert (first.status, first.new) == ("ok", 3)
    (chunk,) = live.store.document_chunks(document_id("web", site.url + "/refunds"))
    assert chunk.payload.title == "Refunds" and NAV not in chunk.payload.text

    second = live.pipeline.run(connector(site, tmp_path))
    assert (second.unchanged, second.chunks_embedded) == (3, 0)
    assert site.not_modified["/refunds"] == 1  # answered 304: nothing downloaded again

    site.pages["/refunds"] = page("Refunds", "The refund window is 14 days.", ["/travel"])
    del site.pages["/travel"]
    site.pages["/"] = page("Welcome", "Start here for everything.", ["/refunds", "/travel"])
    third = live.pipeline.run(connector(site, tmp_path))
    assert (third.changed, third.deleted) == (2, 1)
    assert document_id("web", site.url + "/travel") not in live.store.document_ids("web")
    assert check(live.catalog, live.store).clean


def test_a_site_that_fails_prunes_nothing(
    site: Site, open_home, hash_embedder, tmp_path: Path
) -> None:
    live = open_home("a", hash_embedder, ingest={"max_delete_share": 1.0})
    live.pipeline.run(connector(site, tmp_path))
    site.down = True
    summary = live.pipeline.run(connector(site, tmp_path))
    assert summary.status == "failed" and "503" in (summary.error or "")
    assert len(live.catalog.documents_of("web")) == 3
    assert check(live.catalog, live.store).clean


# -- outbound requests: every hop checked ----------------------------------------------------


@pytest.fixture
def admin() -> Iterator[Site]:
    """A second server on another loopback port: what a redirect must not reach."""
    running = Site()
    running.pages = {"/admin": page("Admin console", "Delete every user: the red button.")}
    yield running
    running.close()


def port_of(site: Site) -> int:
    return int(site.server.server_address[1])


def test_an_allowed_page_redirecting_to_another_local_port_is_not_indexed(
    site: Site, admin: Site, open_home, hash_embedder, tmp_path: Path
) -> None:
    # The operator allowed this one site (host:port); its /refunds now redirects to the admin
    # console on another port of the same machine, and /moved to a page of the site itself.
    allowed = OutboundPolicy.of([f"127.0.0.1:{port_of(site)}"])
    site.redirects["/refunds"] = admin.url + "/admin"
    site.redirects["/moved"] = "/travel"
    site.pages["/"] = page("Welcome", "Start here.", ["/refunds", "/moved"])
    live = open_home("a", hash_embedder)
    summary = live.pipeline.run(connector(site, tmp_path, outbound=allowed))

    assert summary.status == "ok"
    expected = {document_id("web", site.url + path) for path in ("/", "/moved")}
    assert set(live.store.document_ids("web")) == expected
    assert set(live.catalog.documents_of("web")) == expected
    assert admin.requests["/admin"] == 0  # refused before it was sent
    assert site.requests["/travel"] == 1  # the redirect within the site was followed
    (moved,) = live.store.document_chunks(document_id("web", site.url + "/moved"))
    assert "per diem" in moved.payload.text


def test_a_local_site_is_refused_without_the_operators_consent(site: Site, tmp_path: Path) -> None:
    web = connector(site, tmp_path, outbound=OutboundPolicy())
    with pytest.raises(SourceError) as refused:
        list(web.list())
    message = str(refused.value)
    assert f"{site.url}/" in message and "loopback" in message
    assert "STEWARD_OUTBOUND_ALLOW" in message  # says how to allow it
    assert sum(site.requests.values()) == 0


def test_a_local_site_is_crawled_once_allowed(site: Site, tmp_path: Path) -> None:
    for allowed in (LOOPBACK, OutboundPolicy.of([f"127.0.0.1:{port_of(site)}"])):
        keys = {ref.key for ref in connector(site, tmp_path, outbound=allowed).list()}
        assert site.url + "/refunds" in keys


def test_a_redirect_out_of_the_allowed_domains_is_not_followed(site: Site, tmp_path: Path) -> None:
    site.redirects["/refunds"] = f"http://localhost:{port_of(site)}/travel"
    keys = {ref.key for ref in connector(site, tmp_path).list()}
    assert site.url + "/refunds" not in keys and site.url + "/travel" in keys


def test_a_start_url_that_redirects_where_it_may_not_fails_the_listing(
    site: Site, admin: Site, tmp_path: Path
) -> None:
    site.redirects["/"] = admin.url + "/admin"
    allowed = OutboundPolicy.of([f"127.0.0.1:{port_of(site)}"])
    with pytest.raises(SourceError, match=f"refusing to request {admin.url}/admin: "):
        list(connector(site, tmp_path, outbound=allowed).list())
    assert admin.requests["/admin"] == 0
