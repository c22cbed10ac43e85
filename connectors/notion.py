"""Notion pages shared with an integration, through Notion's REST API (version 2022-06-28).

The listing is `POST /v1/search` for pages, newest edit first, to its last cursor; each page's
blocks (`GET /v1/blocks/{id}/children`, nested children too) are read only when its
`last_edited_time` moved, and kept under `workdir` by that time otherwise, so a resync of an
unchanged workspace costs the search alone. Blocks become HTML (headings, lists, to-dos, tables,
code, quotes, callouts, toggles) and go through the same parse path as any page.

Permissions: Notion's API says what the integration may read, not who else may; the pages it
sees get the source's groups (`acl` in steward.yaml). A page no longer shared with the
integration drops out of the listing and is pruned like a deleted one (with a tombstone).
Owner, review date and tags come from page properties when the page has them (a "people",
"email" or text property for the owner; a "date" for the review; a "multi_select" for tags),
else the owner is the page's creator.
"""

from __future__ import annotations

import builtins  # `list` is a method of the connectors here: later annotations name the type
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from hashlib import sha256
from html import escape
from pathlib import Path
from typing import Any

from connectors.api_client import ApiClient, RetryPolicy, api_time
from steward.domain import DocumentRef, RawDocument
from steward.errors import ApiRefusedError, DocumentError
from steward.outbound import OutboundPolicy

NOTION_VERSION = "2022-06-28"
API = "https://api.notion.com"
# Notion keeps `last_edited_time` to the minute: a page edited in the minute `since` falls in
# may show an earlier time than `since`, so the incremental listing reaches one minute back.
_MINUTE = timedelta(minutes=1)
_LISTS = {"bulleted_list_item": "ul", "numbered_list_item": "ol", "to_do": "ul"}
_HEADINGS = {"heading_1": "h1", "heading_2": "h2", "heading_3": "h3"}
_PROSE = {"paragraph": "p", "quote": "blockquote", "callout": "div", "toggle": "p"}


def _plain(rich: list[dict[str, Any]] | None) -> str:
    return "".join(str(part.get("plain_text", "")) for part in rich or [])


@dataclass(frozen=True, slots=True)
class _Listed:
    page: dict[str, Any]
    title: str
    path: str


class NotionConnector:
    """The pages a Notion integration may read."""

    def __init__(
        self,
        source: str,
        token: str,
        credentials: str,
        workdir: Path,
        url: str = API,
        owner_property: str = "Owner",
        review_property: str = "Review date",
        tags_property: str = "Tags",
        page_size: int = 100,
        concurrency: int = 3,  # Notion allows about three requests a second per integration
        outbound: OutboundPolicy | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.source = source
        self.base = url.rstrip("/")
        self.owner_property = owner_property
        self.review_property = review_property
        self.tags_property = tags_property
        self.page_size = page_size
        self.client = ApiClient(
            source,
            {"Authorization": f"Bearer {token}", "Notion-Version": NOTION_VERSION},
            credentials,
            outbound=outbound,
            retry=retry,
            concurrency=concurrency,
        )
        self.state_dir = workdir / sha256(source.encode()).hexdigest()[:16]
        self._listed: dict[str, _Listed] = {}
        self._users: dict[str, str | None] = {}

    def close(self) -> None:
        self.client.close()

    # -- listing ------------------------------------------------------------------------------

    def _search(self, since: datetime | None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        body: dict[str, Any] = {
            "filter": {"property": "object", "value": "page"},
            "sort": {"direction": "descending", "timestamp": "last_edited_time"},
            "page_size": self.page_size,
        }
        while True:
            answer = self.client.post_json(f"{self.base}/v1/search", body)
            for page in answer.get("results") or []:
                if since is not None and api_time(page.get("last_edited_time")) < since - _MINUTE:
                    return found  # newest first: the rest are older still
                if page.get("object") == "page" and not (
                    page.get("archived") or page.get("in_trash")
                ):
                    found.append(page)
            if not answer.get("has_more") or not answer.get("next_cursor"):
                return found
            body = {**body, "start_cursor": answer["next_cursor"]}

    def list(self) -> Iterator[DocumentRef]:
        return self._list(None)

    def list_changed(self, since: datetime) -> Iterator[DocumentRef]:
        """Pages edited after `since`; pages unshared or deleted are not seen this way."""
        return self._list(since)

    def _list(self, since: datetime | None) -> Iterator[DocumentRef]:
        pages = self._search(since)
        titles = {str(p["id"]): self._title(p) for p in pages}
        # Blocks of the pages edited since they were last read, a few pages at a time; a failure
        # fails the listing, so nothing is pruned.
        stale = [
            p
            for p in pages
            if self._cached(str(p["id"]), str(p.get("last_edited_time", ""))) is None
        ]
        unshared = {
            str(page["id"])
            for page, html in zip(
                stale,
                self.client.map(lambda page: self._read(page, titles[str(page["id"])]), stale),
                strict=True,
            )
            if html is None
        }
        self._listed = {}
        refs = []
        for page in pages:
            ident = str(page["id"])
            if ident in unshared:
                continue
            self._listed[ident] = _Listed(page, titles[ident], self._path(page, titles))
            refs.append(
                DocumentRef(
                    source=self.source,
                    key=ident,
                    source_uri=str(page.get("url") or f"https://www.notion.so/{ident}"),
                    updated_at=api_time(page.get("last_edited_time")),
                    size=0,  # unknown until its blocks are read
                    fingerprint=str(page.get("last_edited_time", "")),
                )
            )
        if since is None and self.state_dir.exists():
            # A complete listing: the bodies of pages gone from it are dropped too.
            keep = {self._cache_path(ident).name for ident in self._listed}
            for kept in self.state_dir.glob("*.json"):
                if kept.name not in keep:
                    kept.unlink(missing_ok=True)
        return iter(refs)

    def _title(self, page: dict[str, Any]) -> str:
        for prop in (page.get("properties") or {}).values():
            if prop.get("type") == "title":
                return _plain(prop.get("title"))
        return ""

    def _path(self, page: dict[str, Any], titles: dict[str, str]) -> str:
        parent = page.get("parent") or {}
        kind = parent.get("type")
        if kind == "page_id":
            return titles.get(str(parent.get("page_id")), "") or str(parent.get("page_id"))
        if kind == "database_id":
            return f"database {parent.get('database_id')}"
        return "workspace"

    # -- content ------------------------------------------------------------------------------

    def fetch(self, ref: DocumentRef) -> RawDocument:
        listed = self._listed.get(ref.key)
        if listed is None:
            raise DocumentError(ref.source_uri, "page was not part of the listing")
        html = self._cached(ref.key, ref.fingerprint) or self._read(listed.page, listed.title)
        if html is None:
            raise DocumentError(ref.source_uri, "the page is no longer shared with the integration")
        content = html.encode("utf-8")
        return RawDocument(
            ref=replace(ref, size=len(content)),
            content=content,
            media_type="text/html",
            title=listed.title or None,
            metadata=self._metadata(listed),
        )

    def _cache_path(self, ident: str) -> Path:
        return self.state_dir / f"{sha256(ident.encode()).hexdigest()[:24]}.json"

    def _cached(self, ident: str, edited: str) -> str | None:
        try:
            kept = json.loads(self._cache_path(ident).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return str(kept["html"]) if kept.get("edited") == edited else None

    def _keep(self, ident: str, edited: str, html: str) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        temporary = self._cache_path(ident).with_suffix(".tmp")
        temporary.write_text(json.dumps({"edited": edited, "html": html}), encoding="utf-8")
        temporary.replace(self._cache_path(ident))

    def _children(self, block_id: str) -> builtins.list[dict[str, Any]]:
        found: builtins.list[dict[str, Any]] = []
        params: dict[str, Any] = {"page_size": 100}
        while True:
            answer = self.client.get_json(f"{self.base}/v1/blocks/{block_id}/children", params)
            found.extend(answer.get("results") or [])
            if not answer.get("has_more") or not answer.get("next_cursor"):
                break
            params = {"page_size": 100, "start_cursor": answer["next_cursor"]}
        # Nested blocks (a list item's sub-list, a table's rows, a toggle's body), in parallel.
        nested = [b for b in found if b.get("has_children") and b.get("type") != "child_page"]
        for block, children in zip(
            nested, self.client.map(lambda b: self._children(str(b["id"])), nested), strict=True
        ):
            block["children"] = children
        return found

    def _read(self, page: dict[str, Any], title: str) -> str | None:
        """The page's blocks as HTML, kept by its edit time; None when it is no longer shared."""
        ident, edited = str(page["id"]), str(page.get("last_edited_time", ""))
        try:
            html = self._render(ident, title)
        except ApiRefusedError as error:
            if error.status != 404:
                raise
            return None
        self._keep(ident, edited, html)
        return html

    def _render(self, ident: str, title: str) -> str:
        body = _blocks_html(self._children(ident))
        head = f"<head><title>{escape(title)}</title></head>"
        return f"<html>{head}<body><main>{body}</main></body></html>"

    # -- metadata ----------------------------------------------------------------------------

    def _user(self, ident: str) -> str | None:
        if ident not in self._users:
            try:
                user = self.client.get_json(f"{self.base}/v1/users/{ident}")
            except ApiRefusedError as error:
                if error.status not in (403, 404):
                    raise
                # Without the "read user information" capability the integration gets 403.
                self._users[ident] = None
            else:
                self._users[ident] = self._person(user)
        return self._users[ident]

    @staticmethod
    def _person(user: dict[str, Any]) -> str | None:
        email = (user.get("person") or {}).get("email")
        value = email or user.get("name")
        return str(value) if value else None

    def _metadata(self, listed: _Listed) -> dict[str, object]:
        page = listed.page
        properties = page.get("properties") or {}
        metadata: dict[str, object] = {"path": listed.path}
        owner = self._owner(properties.get(self.owner_property))
        if owner is None and (page.get("created_by") or {}).get("id"):
            owner = self._user(str(page["created_by"]["id"]))
        if owner:
            metadata["owner"] = owner
        review = properties.get(self.review_property) or {}
        if review.get("type") == "date" and (review.get("date") or {}).get("start"):
            metadata["review_by"] = str(review["date"]["start"])[:10]
        tags = properties.get(self.tags_property) or {}
        if tags.get("type") == "multi_select":
            metadata["tags"] = sorted(str(t.get("name")) for t in tags.get("multi_select") or [])
        return metadata

    def _owner(self, prop: dict[str, Any] | None) -> str | None:
        if not prop:
            return None
        kind = prop.get("type")
        if kind == "people":
            people = [
                self._person(p) or self._user(str(p.get("id"))) for p in prop.get("people") or []
            ]
            return next((p for p in people if p), None)
        if kind == "email":
            return str(prop.get("email") or "") or None
        if kind == "rich_text":
            return _plain(prop.get("rich_text")) or None
        return None


def _text_of(block: dict[str, Any]) -> str:
    content = block.get(str(block.get("type"))) or {}
    return escape(_plain(content.get("rich_text")))


def _blocks_html(blocks: list[dict[str, Any]]) -> str:
    """Blocks as HTML; consecutive list items of one kind share one list element."""
    parts: list[str] = []
    open_list: str | None = None
    for block in blocks:
        kind = str(block.get("type"))
        wrapper = _LISTS.get(kind)
        if wrapper != open_list:
            if open_list:
                parts.append(f"</{open_list}>")
            if wrapper:
                parts.append(f"<{wrapper}>")
            open_list = wrapper
        parts.append(_block_html(block, kind))
    if open_list:
        parts.append(f"</{open_list}>")
    return "".join(parts)


def _block_html(block: dict[str, Any], kind: str) -> str:
    children = _blocks_html(block.get("children") or [])
    content = block.get(kind) or {}
    if kind in _HEADINGS:
        tag = _HEADINGS[kind]
        return f"<{tag}>{_text_of(block)}</{tag}>{children}"
    if kind in _LISTS:
        return f"<li>{_text_of(block)}{children}</li>"
    if kind in _PROSE:
        tag = _PROSE[kind]
        return f"<{tag}>{_text_of(block)}</{tag}>{children}"
    if kind == "code":
        return f"<pre>{_text_of(block)}</pre>"
    if kind == "table":
        rows = []
        for row in block.get("children") or []:
            cells = (row.get("table_row") or {}).get("cells") or []
            rows.append("<tr>" + "".join(f"<td>{escape(_plain(c))}</td>" for c in cells) + "</tr>")
        return f"<table><tbody>{''.join(rows)}</tbody></table>"
    if kind == "child_page":
        return ""  # a page of its own, listed by itself
    if kind in ("column_list", "column", "synced_block"):
        return f"<div>{children}</div>"
    if kind == "equation":
        return f"<p>{escape(str(content.get('expression', '')))}</p>"
    # Images, files, embeds, bookmarks, dividers, databases: nothing to read as text.
    return children
