"""A web site: pages from a sitemap or crawled from a start URL, politely.

Within the allowed domains and a page limit; robots.txt is obeyed (and its crawl delay); a
minimum delay separates requests; pages are fetched conditionally (ETag / Last-Modified), and
the bodies of unchanged pages come from a local cache, so a resync downloads only what changed.
Main content is kept: <main> or <article> when the page has one, and never navigation, headers,
footers, asides, scripts or styles. A page that fails with a server or network error makes the
listing incomplete (nothing is pruned); a page that answers 404 or 410 is gone.

Every request, and every hop of a redirect, goes only where the outbound policy allows
(steward/outbound.py) and, for pages, within the allowed domains: redirects are followed here,
one checked hop at a time, never by the HTTP client. A link or redirect that leads elsewhere is
skipped; a start URL or sitemap that does fails the listing, naming the URL and the reason.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import deque
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from hashlib import sha256
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin, urlparse
from urllib.robotparser import RobotFileParser

import httpx
from lxml import etree, html

from steward.domain import DocumentRef, RawDocument, utc_now
from steward.errors import DocumentError, OutboundError, SourceError
from steward.outbound import OutboundPolicy, PinnedTransport
from steward.redact import redact_url

USER_AGENT = "StewardBot/0.1 (+knowledge-base sync)"
# httpx's own default; a chain longer than this is a loop or a trap.
MAX_REDIRECTS = 20
log = logging.getLogger("steward.connectors.web")
_DROP = ("nav", "header", "footer", "aside", "script", "style", "noscript", "form")


def main_content(page: bytes) -> bytes:
    """The page reduced to its main content, as HTML."""
    try:
        tree = html.fromstring(page)
    except (etree.ParserError, ValueError):
        return page
    for element in tree.xpath("|".join(f"//{tag}" for tag in _DROP)):
        element.drop_tree()
    main = tree.xpath("//main | //article | //*[@role='main']")
    title = tree.xpath("//title/text()")
    body = main[0] if main else (tree.find("body") if tree.find("body") is not None else tree)
    head = f"<title>{escape(title[0])}</title>" if title else ""
    content: bytes = html.tostring(body, encoding="utf-8")
    return b"<html><head>" + head.encode() + b"</head><body>" + content + b"</body></html>"


def _links(page: bytes, base: str) -> list[str]:
    try:
        tree = html.fromstring(page)
    except (etree.ParserError, ValueError):
        return []
    return [urldefrag(urljoin(base, href))[0] for href in tree.xpath("//a/@href")]


class WebConnector:
    """Pages of a site; the crawl happens while listing, with state kept under `workdir`."""

    def __init__(
        self,
        source: str,
        workdir: Path,
        start_url: str | None = None,
        sitemap_url: str | None = None,
        allowed_domains: Sequence[str] = (),
        max_pages: int = 500,
        delay_s: float = 0.5,
        timeout_s: float = 20.0,
        transport: httpx.BaseTransport | None = None,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        if not start_url and not sitemap_url:
            raise SourceError(source, "a web source needs a start_url or a sitemap_url")
        self.source = source
        self.start_url = start_url
        self.sitemap_url = sitemap_url
        first = urlparse(start_url or sitemap_url or "")
        self.allowed = {d.lower() for d in allowed_domains} or {first.hostname or ""}
        self.max_pages = max_pages
        self.delay_s = delay_s
        # Public addresses on ports 80 and 443 unless the operator allowed more.
        self.outbound = outbound or OutboundPolicy()
        self.state_dir = workdir / sha256(source.encode()).hexdigest()[:16]
        self._client = httpx.Client(
            headers={"User-Agent": USER_AGENT},
            timeout=timeout_s,
            follow_redirects=False,  # each hop is checked in _get
            # ...and sent to the address checked, not to what the name resolves to next.
            transport=transport or PinnedTransport(self.outbound),
        )
        self._last_request = 0.0
        self._robots: dict[str, RobotFileParser] = {}
        self._pages: dict[str, tuple[bytes, datetime]] = {}

    # -- HTTP, politely ---------------------------------------------------------------------

    def _get(self, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
        """The answer at `url`, redirects followed one checked hop at a time.

        `OutboundError` when a hop goes where the outbound policy or the allowed domains do not
        let it; `SourceError` on a network failure or a redirect loop.
        """
        for _hop in range(MAX_REDIRECTS + 1):
            try:
                self.outbound.check(url)
            except OutboundError as error:
                if error.unresolved:
                    raise SourceError(self.source, str(error)) from None
                raise
            response = self._send(url, headers)
            if not response.has_redirect_location:
                return response
            target = urldefrag(urljoin(url, response.headers["location"]))[0]
            parsed = urlparse(target)
            if (parsed.hostname or "").lower() not in self.allowed:
                raise OutboundError(
                    redact_url(target),
                    f"{redact_url(url)} redirects out of the allowed domains "
                    f"({', '.join(sorted(self.allowed))})",
                )
            url = target
        raise SourceError(self.source, f"{redact_url(url)}: more than {MAX_REDIRECTS} redirects")

    def _send(self, url: str, headers: dict[str, str] | None) -> httpx.Response:
        robots = self._robots.get(urlparse(url).netloc)
        delay = max(self.delay_s, float(robots.crawl_delay(USER_AGENT) or 0) if robots else 0)
        wait = self._last_request + delay - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            return self._client.get(url, headers=headers or {})
        except httpx.HTTPError as error:
            # httpx's message names no URL; ours is redacted (a query may carry a token).
            raise SourceError(
                self.source, f"{redact_url(url)}: {error.__class__.__name__}: {error}"
            ) from None
        finally:
            self._last_request = time.monotonic()

    def _allowed(self, url: str) -> bool:
        parsed = urlparse(url)
        if (
            parsed.scheme not in ("http", "https")
            or (parsed.hostname or "").lower() not in self.allowed
        ):
            return False
        self.outbound.check(url)  # the page's own address, before its robots.txt is asked
        if parsed.netloc not in self._robots:
            robots = RobotFileParser()
            try:
                response = self._get(f"{parsed.scheme}://{parsed.netloc}/robots.txt")
                lines = response.text.splitlines() if response.status_code == 200 else []
            except OutboundError as error:  # a robots.txt redirected elsewhere: none
                log.warning("source %r: robots.txt not read: %s", self.source, error)
                lines = []
            robots.parse(lines)
            self._robots[parsed.netloc] = robots
        return self._robots[parsed.netloc].can_fetch(USER_AGENT, url)

    # -- state between runs ----------------------------------------------------------------

    def _load_state(self) -> dict[str, dict[str, Any]]:
        path = self.state_dir / "pages.json"
        if not path.exists():
            return {}
        state: dict[str, dict[str, Any]] = json.loads(path.read_text())
        return state

    def _save_state(self, state: dict[str, dict[str, Any]]) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        temporary = self.state_dir / "pages.json.tmp"
        temporary.write_text(json.dumps(state))
        temporary.replace(self.state_dir / "pages.json")

    def _body_path(self, digest: str) -> Path:
        return self.state_dir / "bodies" / f"{digest}.html"

    def _page(self, url: str, state: dict[str, dict[str, Any]]) -> bytes | None:
        """The page's body (from the cache when the server says 304); None when it is gone."""
        known = state.get(url, {})
        headers = {}
        if known.get("etag"):
            headers["If-None-Match"] = known["etag"]
        if known.get("last_modified"):
            headers["If-Modified-Since"] = known["last_modified"]
        response = self._get(url, headers)
        if response.status_code == 304 and self._body_path(known.get("digest", "")).exists():
            return self._body_path(known["digest"]).read_bytes()
        if response.status_code in (404, 410):
            return None
        if response.status_code >= 400:
            raise SourceError(self.source, f"{url}: HTTP {response.status_code}")
        if "html" not in response.headers.get("content-type", "text/html"):
            return None
        body = response.content
        digest = sha256(body).hexdigest()
        self._body_path(digest).parent.mkdir(parents=True, exist_ok=True)
        self._body_path(digest).write_bytes(body)
        modified = response.headers.get("last-modified")
        seen = known.get("seen") if known.get("digest") == digest else None
        state[url] = {
            "etag": response.headers.get("etag"),
            "last_modified": modified,
            "digest": digest,
            "seen": seen or utc_now().isoformat(),
        }
        return body

    def _when(self, url: str, state: dict[str, dict[str, Any]]) -> datetime:
        known = state.get(url, {})
        if known.get("last_modified"):
            try:
                return parsedate_to_datetime(known["last_modified"]).astimezone(UTC)
            except (TypeError, ValueError):
                pass
        return datetime.fromisoformat(known.get("seen") or utc_now().isoformat())

    # -- the connector ------------------------------------------------------------------------

    def _seeds(self) -> list[str]:
        if not self.sitemap_url:
            return [self.start_url or ""]
        try:
            response = self._get(self.sitemap_url)
        except OutboundError as error:
            raise SourceError(self.source, str(error)) from None
        if response.status_code != 200:
            raise SourceError(
                self.source, f"sitemap {self.sitemap_url}: HTTP {response.status_code}"
            )
        return re.findall(r"<loc>\s*([^<\s]+)\s*</loc>", response.text)

    def list(self) -> Iterator[DocumentRef]:
        state = self._load_state()
        self._pages = {}
        queue = deque(urldefrag(url)[0] for url in self._seeds())
        queued = set(queue)
        start = self.start_url and urldefrag(self.start_url)[0]
        crawl = not self.sitemap_url
        while queue and len(self._pages) < self.max_pages:
            url = queue.popleft()
            try:
                if not self._allowed(url):
                    continue
                body = self._page(url, state)
            except OutboundError as error:
                if error.unresolved or url == start:
                    raise SourceError(self.source, str(error)) from None
                # A link or redirect that leads where requests may not go: not part of the site.
                log.warning("source %r: skipped %s", self.source, error)
                continue
            if body is None:
                continue
            self._pages[url] = (body, self._when(url, state))
            if crawl:
                for link in _links(body, url):
                    if link not in queued:
                        queued.add(link)
                        queue.append(link)
        # Only the pages of this complete listing stay in the state.
        self._save_state({url: state[url] for url in self._pages if url in state})
        for url, (body, when) in self._pages.items():
            yield DocumentRef(
                source=self.source,
                key=url,
                source_uri=url,
                updated_at=when,
                size=len(body),
                fingerprint=sha256(body).hexdigest()[:16],
            )

    def fetch(self, ref: DocumentRef) -> RawDocument:
        page = self._pages.get(ref.key)
        if page is None:
            raise DocumentError(ref.source_uri, "page was not part of the listing")
        return RawDocument(ref=ref, content=main_content(page[0]), media_type="text/html")

    def close(self) -> None:
        self._client.close()
