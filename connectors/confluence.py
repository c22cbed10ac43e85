"""Confluence pages (Cloud and Data Center) through the REST API v1, with their readers.

One CQL search per listing (`/rest/api/content/search`, the same on Cloud and Data Center)
returns each page with its storage-format body, version, space, ancestors, labels, creator and
read restrictions, so a listing costs one request per `page_size` pages; `list_changed` adds
`lastmodified >= ...` to the same query. (API v2 lists pages by cursor too, but has neither CQL
nor restrictions: it would cost a request per page to learn who may read it.)

Who may read a page becomes its access groups:
- a page with no view restriction on it or any ancestor: the space's readers (its "read space"
  permission: groups, users; anonymous access makes the page public);
- otherwise the principals named by every restricting level (the page and each restricted
  ancestor; Confluence lets a reader through only if every level does). Steward's groups are
  an "any of" list, so levels are intersected by name; when no name is on every level the page
  gets `NO_READER`, a group nobody holds (closed, never open). A page-level restriction is taken
  as is, without also requiring the space's permission.
Groups become `group_prefix + name`, users `user_prefix + (email, username, account id)`.

Restriction changes do not touch a page's version or `lastmodified`: a full sync sees them (a
metadata-only change, nothing re-embedded), an incremental one does not.
"""

from __future__ import annotations

import base64
import builtins  # `list` is a method of the connectors here: later annotations name the type
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from connectors.api_client import ApiClient, RetryPolicy, api_time
from connectors.confluence_storage import storage_to_html
from steward.domain import DocumentRef, RawDocument
from steward.errors import ApiRefusedError, DocumentError, SourceError
from steward.outbound import OutboundPolicy

log = logging.getLogger("steward.connectors.confluence")

NO_READER = "confluence:no-reader"
_EXPAND = ",".join(
    [
        "body.storage",
        "version",
        "space",
        "ancestors",
        "history",
        "metadata.labels",
        "restrictions.read.restrictions.user",
        "restrictions.read.restrictions.group",
    ]
)
# CQL compares `lastmodified` in the account's time zone, which we do not know: the query asks
# from this much earlier (UTC-12 to UTC+14), and pages that did not change compare unchanged.
_ZONE_MARGIN = timedelta(hours=14)
_SPACE_KEY = re.compile(r"^[A-Za-z0-9_~-]+$")
_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True, slots=True)
class _Readers:
    """Who may read at one level; `public` when anonymous users may."""

    names: frozenset[str] = frozenset()
    public: bool = False


@dataclass(frozen=True, slots=True)
class _Page:
    html: str
    title: str
    metadata: dict[str, object]


@dataclass(frozen=True, slots=True)
class _Attachment:
    download: str  # the site-relative download link
    version: str
    media_type: str
    title: str
    metadata: dict[str, object]  # its page's: readers, owner, path


# Attachments read as documents, by file extension.
ATTACHMENT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "md": "text/markdown",
    "txt": "text/plain",
    "html": "text/html",
}


class ConfluenceConnector:
    """The pages (and optionally blog posts) of some spaces of one Confluence site."""

    def __init__(
        self,
        source: str,
        url: str,
        spaces: Sequence[str],
        token: str,
        credentials: str,
        user: str | None = None,
        deployment: str = "cloud",
        types: Sequence[str] = ("page",),
        space_permissions: bool = True,
        group_prefix: str = "",
        user_prefix: str = "user:",
        review_label_prefix: str = "review-by-",
        page_size: int = 50,
        concurrency: int = 4,
        outbound: OutboundPolicy | None = None,
        retry: RetryPolicy | None = None,
        attachments: bool = False,
        workdir: Path | None = None,
    ) -> None:
        bad = [key for key in spaces if not _SPACE_KEY.match(key)]
        if not spaces or bad:
            raise SourceError(source, f"space keys must be letters and digits: {bad or spaces}")
        self.source = source
        self.base = url.rstrip("/")
        self.spaces = list(spaces)
        self.deployment = deployment
        self.types = list(types)
        self.space_permissions = space_permissions
        self.group_prefix = group_prefix
        self.user_prefix = user_prefix
        self.review_label_prefix = review_label_prefix
        self.page_size = page_size
        if user:
            pair = base64.b64encode(f"{user}:{token}".encode()).decode()
            authorization = f"Basic {pair}"
        else:
            authorization = f"Bearer {token}"
        self.client = ApiClient(
            source,
            {"Authorization": authorization},
            credentials,
            outbound=outbound,
            retry=retry,
            concurrency=concurrency,
        )
        self._pages: dict[str, _Page] = {}
        # Attachments (PDF, DOCX, Markdown, text, HTML) as documents of their own, with their
        # page's readers; their bodies kept under `workdir` by version.
        self.attachments = attachments
        self.state_dir = workdir / sha256(source.encode()).hexdigest()[:16] if workdir else None
        self._attached: dict[str, _Attachment] = {}

    def close(self) -> None:
        self.client.close()

    # -- the connector ------------------------------------------------------------------------

    def list(self) -> Iterator[DocumentRef]:
        return self._list(None)

    def list_changed(self, since: datetime) -> Iterator[DocumentRef]:
        """Pages modified after `since`; restriction changes and deletions are not seen."""
        return self._list(since)

    def fetch(self, ref: DocumentRef) -> RawDocument:
        attached = self._attached.get(ref.key)
        if attached is not None:
            content = self._attachment_body(ref.key, attached)
            return RawDocument(
                ref=replace(ref, size=len(content)),
                content=content,
                media_type=attached.media_type,
                title=attached.title,
                metadata=dict(attached.metadata),
            )
        page = self._pages.get(ref.key)
        if page is None:
            raise DocumentError(ref.source_uri, "page was not part of the listing")
        return RawDocument(
            ref=ref,
            content=page.html.encode("utf-8"),
            media_type="text/html",
            title=page.title,
            metadata=dict(page.metadata),
        )

    # -- listing ------------------------------------------------------------------------------

    def _cql(self, since: datetime | None) -> str:
        spaces = ", ".join(f'"{key}"' for key in self.spaces)
        types = ", ".join(self.types)
        cql = f"space in ({spaces}) and type in ({types})"
        if since is not None:
            start = (since.astimezone(UTC) - _ZONE_MARGIN).strftime("%Y/%m/%d %H:%M")
            cql += f' and lastmodified >= "{start}"'
        return cql + " order by created"  # a stable order while the cursor pages through

    def _next_url(self, link: str) -> str:
        """The URL of a `_links.next`, relative to the site; never another host."""
        base = urlsplit(self.base)
        parts = urlsplit(link)
        if parts.scheme or parts.netloc:
            if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
                raise SourceError(self.source, "a next-page link points to another host")
            return link
        context = base.path.rstrip("/")
        if context and link.startswith(context + "/"):
            return f"{base.scheme}://{base.netloc}{link}"
        return self.base + link

    def _search(self, since: datetime | None) -> builtins.list[dict[str, Any]]:
        found: builtins.list[dict[str, Any]] = []
        answer = self.client.get_json(
            f"{self.base}/rest/api/content/search",
            {"cql": self._cql(since), "expand": _EXPAND, "limit": self.page_size},
        )
        while True:
            found.extend(answer.get("results") or [])
            link = (answer.get("_links") or {}).get("next")
            if not link:
                return found
            answer = self.client.get_json(self._next_url(link))

    def _list(self, since: datetime | None) -> Iterator[DocumentRef]:
        readers = dict(
            zip(self.spaces, self.client.map(self._space_readers, self.spaces), strict=True)
        )
        results = self._search(since)
        restricted: dict[str, _Readers | None] = {
            str(item["id"]): self._restriction(item) for item in results
        }
        missing = sorted(
            {
                str(ancestor["id"])
                for item in results
                for ancestor in item.get("ancestors") or []
                if str(ancestor["id"]) not in restricted
            }
        )
        for ident, found in zip(
            missing, self.client.map(self._ancestor_restriction, missing), strict=True
        ):
            restricted[ident] = found
        self._pages = {}
        refs = []
        for item in results:
            ident = str(item["id"])
            space = (item.get("space") or {}).get("key", "")
            levels = [
                level
                for level in (
                    *(restricted.get(str(a["id"])) for a in item.get("ancestors") or []),
                    restricted[ident],
                )
                if level is not None
            ]
            acl = self._acl(levels, readers.get(space), item)
            html = storage_to_html(
                ((item.get("body") or {}).get("storage") or {}).get("value") or "",
                item.get("title") or "",
            )
            self._pages[ident] = _Page(html, item.get("title") or "", self._metadata(item, acl))
            version = item.get("version") or {}
            webui = (item.get("_links") or {}).get(
                "webui"
            ) or f"/pages/viewpage.action?pageId={ident}"
            refs.append(
                DocumentRef(
                    source=self.source,
                    key=ident,
                    source_uri=self.base + webui,
                    updated_at=api_time(version.get("when")),
                    size=len(html.encode("utf-8")),
                    fingerprint=f"v{version.get('number', 0)}",
                )
            )
        self._attached = {}
        if self.attachments:
            pages = [str(item["id"]) for item in results]
            listed = self.client.map(self._attachments_of, pages)
            for page, attachments in zip(pages, listed, strict=True):
                refs.extend(self._attachment_refs(page, attachments))
        return iter(refs)

    # -- attachments --------------------------------------------------------------------------

    def _attachments_of(self, page: str) -> builtins.list[dict[str, Any]]:
        found: builtins.list[dict[str, Any]] = []
        answer = self.client.get_json(
            f"{self.base}/rest/api/content/{page}/child/attachment",
            {"expand": "version", "limit": self.page_size},
        )
        while True:
            found.extend(answer.get("results") or [])
            link = (answer.get("_links") or {}).get("next")
            if not link:
                return found
            answer = self.client.get_json(self._next_url(link))

    def _attachment_refs(
        self, page: str, found: builtins.list[dict[str, Any]]
    ) -> builtins.list[DocumentRef]:
        refs = []
        owner = self._pages[page].metadata
        for item in found:
            title = str(item.get("title") or "")
            media = ATTACHMENT_TYPES.get(title.rsplit(".", 1)[-1].lower())
            download = (item.get("_links") or {}).get("download")
            if media is None or not download:
                continue
            key = f"{page}/attachments/{item['id']}"
            version = item.get("version") or {}
            metadata: dict[str, object] = {
                k: owner[k] for k in ("acl", "owner", "space", "path") if k in owner
            }
            metadata["path"] = f"{owner.get('path', '')} / {self._pages[page].title}"
            self._attached[key] = _Attachment(
                str(download),
                str(version.get("number", 0)),
                media,
                title.rsplit(".", 1)[0],
                metadata,
            )
            webui = (item.get("_links") or {}).get("webui") or str(download).split("?")[0]
            refs.append(
                DocumentRef(
                    source=self.source,
                    key=key,
                    source_uri=self.base + webui,
                    updated_at=api_time(version.get("when")),
                    size=int((item.get("extensions") or {}).get("fileSize") or 0),
                    fingerprint=f"v{version.get('number', 0)}",
                )
            )
        return refs

    def _attachment_body(self, key: str, attached: _Attachment) -> bytes:
        kept = None
        if self.state_dir is not None:
            kept = self.state_dir / sha256(f"{key}@{attached.version}".encode()).hexdigest()[:24]
            if kept.exists():
                return kept.read_bytes()
        try:
            # Cloud answers a download with a redirect to its media store.
            content = self.client.get_bytes(self._next_url(attached.download), redirect=True)
        except ApiRefusedError as error:
            if error.status in (403, 404):
                raise DocumentError(self.base + attached.download, error.reason) from None
            raise
        if kept is not None:
            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.write_bytes(content)
        return content

    # -- permissions --------------------------------------------------------------------------

    def _principal_user(self, user: dict[str, Any]) -> str | None:
        name = user.get("email") or user.get("username") or user.get("accountId")
        name = name or user.get("userKey")
        return f"{self.user_prefix}{name}" if name else None

    def _names(
        self, users: builtins.list[dict[str, Any]], groups: builtins.list[dict[str, Any]]
    ) -> set[str]:
        names = {f"{self.group_prefix}{g['name']}" for g in groups if g.get("name")}
        names |= {n for n in (self._principal_user(u) for u in users) if n}
        return names

    def _restriction(self, item: dict[str, Any]) -> _Readers | None:
        """The view restriction set on this page itself; None when it has none."""
        read = ((item.get("restrictions") or {}).get("read") or {}).get("restrictions") or {}
        users = (read.get("user") or {}).get("results") or []
        groups = (read.get("group") or {}).get("results") or []
        if not users and not groups:
            return None
        return _Readers(frozenset(self._names(users, groups)))

    def _ancestor_restriction(self, ident: str) -> _Readers | None:
        """The view restriction of a page that was not listed (an incremental run's ancestor)."""
        answer = self.client.get_json(
            f"{self.base}/rest/api/content/{ident}/restriction/byOperation/read",
            {"expand": "restrictions.user,restrictions.group"},
        )
        return self._restriction({"restrictions": {"read": answer}})

    def _space_readers(self, key: str) -> _Readers | None:
        """Who holds "read space"; None when the source declares its readers (`acl`) instead."""
        if not self.space_permissions:
            return None
        users: builtins.list[dict[str, Any]] = []
        groups: builtins.list[dict[str, Any]] = []
        public = False
        if self.deployment == "datacenter":
            # Data Center 9.1+: a flat list of {operation, subject}.
            try:
                answer = self.client.get_json(f"{self.base}/rest/api/space/{key}/permissions")
            except ApiRefusedError as error:
                if error.status not in (403, 404):
                    raise
                raise SourceError(
                    self.source,
                    f"space {key}: its permissions cannot be read (HTTP {error.status}; the "
                    "resource needs Confluence Data Center 9.1 and admin permission on the "
                    "space); grant it, or set space_permissions: false and name the readers "
                    "with acl",
                ) from None
            for grant in answer if isinstance(answer, list) else []:
                operation = grant.get("operation") or {}
                if (operation.get("operationKey"), operation.get("targetType")) != (
                    "read",
                    "space",
                ):
                    continue
                subject = grant.get("subject") or {}
                if subject.get("type") == "group":
                    groups.append(subject)
                elif subject.get("type") == "user":
                    users.append(subject)
                elif subject.get("type") == "anonymous":
                    public = True
        else:
            answer = self.client.get_json(
                f"{self.base}/rest/api/space/{key}", {"expand": "permissions"}
            )
            permissions = answer.get("permissions")
            if permissions is None:
                raise SourceError(
                    self.source,
                    f"space {key}: its permissions are not readable with these credentials "
                    "(reading them needs admin permission on the space); grant it, or set "
                    "space_permissions: false and name the readers with acl",
                )
            for grant in permissions:
                operation = grant.get("operation") or {}
                if (operation.get("operation"), operation.get("targetType")) != ("read", "space"):
                    continue
                public = public or bool(grant.get("anonymousAccess"))
                subjects = grant.get("subjects") or {}
                users += (subjects.get("user") or {}).get("results") or []
                groups += (subjects.get("group") or {}).get("results") or []
        return _Readers(frozenset(self._names(users, groups)), public)

    def _acl(
        self, levels: builtins.list[_Readers], space: _Readers | None, item: dict[str, Any]
    ) -> builtins.list[str]:
        if levels:
            shared = frozenset.intersection(*(level.names for level in levels))
            if not shared:
                log.warning(
                    "source %r: no reader is named by every restriction of page %s (%r); it "
                    "gets the group %s, which nobody holds",
                    self.source,
                    item.get("id"),
                    item.get("title"),
                    NO_READER,
                )
                return [NO_READER]
            return sorted(shared)
        if space is None or space.public:
            return []  # the source's acl (when it has one) applies on its own
        return sorted(space.names) or [NO_READER]

    # -- metadata ----------------------------------------------------------------------------

    def _metadata(self, item: dict[str, Any], acl: builtins.list[str]) -> dict[str, object]:
        labels = [
            str(label.get("name"))
            for label in ((item.get("metadata") or {}).get("labels") or {}).get("results") or []
            if label.get("name")
        ]
        review = None
        tags = []
        for label in labels:
            match = _DATE.search(label)
            if label.startswith(self.review_label_prefix) and match:
                review = match.group(1)
            else:
                tags.append(label)
        history = item.get("history") or {}
        creator = history.get("createdBy") or {}
        editor = (item.get("version") or {}).get("by") or {}
        space = item.get("space") or {}
        path = [str(a.get("title", "")) for a in item.get("ancestors") or []]
        metadata: dict[str, object] = {
            "acl": acl,
            "tags": sorted(tags),
            "space": space.get("key", ""),
            "path": " / ".join([space.get("name") or space.get("key", ""), *path]),
        }
        owner = self._person(creator)
        if owner:
            metadata["owner"] = owner
        author = self._person(editor)
        if author:
            metadata["author"] = author
        if review:
            metadata["review_by"] = review
        return metadata

    @staticmethod
    def _person(user: dict[str, Any]) -> str | None:
        value = (
            user.get("email")
            or user.get("username")
            or user.get("publicName")
            or user.get("displayName")
        )
        return str(value) if value else None
