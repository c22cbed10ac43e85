"""SharePoint Online document libraries and OneDrive, through Microsoft Graph (v1.0) delta queries.

Credentials: an app registration's client secret (`token_env`/`token_file`), exchanged for an
app-only token at `https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token` (client
credentials), renewed when Graph answers 401.

Listing: `GET /drives/{drive}/root/delta` followed through `@odata.nextLink` to its
`@odata.deltaLink`; from no token it names every item, which is the complete listing pruning
needs. `list_changed` follows the delta link the last good run kept, so it sees edits,
moves and deletions (`deleted` items are not listed; a full sync prunes them). A listing's new
delta link is stored only when the run that used it succeeded (`keep_position`). Bodies are
downloaded from each item's pre-authenticated `@microsoft.graph.downloadUrl` (no Graph token is
sent there) and kept under `workdir` by the item's `cTag`, so a resync downloads only what
changed.

Readers: `GET /drives/{drive}/items/{item}/permissions`: users by email, Microsoft 365 and
security groups by email or, with `group_names="id"`, by their Entra object id (what an Entra ID
token's `groups` claim lists), a site group by its name; `user_prefix`/`group_prefix` before
them. A group with no email is named by its id either way: display names are neither unique nor
in any token. Membership is not expanded: a caller matches a group only when its own groups
name it. A sharing link for the organization adds `organization`; an anonymous link makes the
file public only with `link_sharing_is_public`.
"""

from __future__ import annotations

import builtins  # `list` is a method of the connectors here: later annotations name the type
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from hashlib import sha256
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from connectors.api_client import ApiClient, RetryPolicy, api_time
from steward.domain import DocumentRef, RawDocument
from steward.errors import ApiRefusedError, DocumentError, SourceError
from steward.outbound import OutboundPolicy

# How a group permission names its group: by email, or by Entra object id (the `groups` claim).
GroupNames = Literal["email", "id"]

GRAPH = "https://graph.microsoft.com"
LOGIN = "https://login.microsoftonline.com"
# Stored files of the types Steward parses, by extension.
MEDIA = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "md": "text/markdown",
    "txt": "text/plain",
    "html": "text/html",
    "htm": "text/html",
}
NO_READER = "sharepoint:no-reader"


@dataclass(frozen=True, slots=True)
class _Listed:
    item: dict[str, Any]
    acl: list[str]
    media_type: str


class SharePointConnector:
    """The files of one document library (a SharePoint site's drive, or a OneDrive)."""

    def __init__(
        self,
        source: str,
        tenant: str,
        client_id: str,
        secret: str,
        credentials: str,
        drive: str,
        workdir: Path,
        url: str = GRAPH,
        login_url: str = LOGIN,
        folder: str = "",
        group_prefix: str = "",
        user_prefix: str = "user:",
        link_sharing_is_public: bool = False,
        group_names: GroupNames = "email",
        concurrency: int = 4,
        outbound: OutboundPolicy | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.source = source
        self.base = url.rstrip("/")
        self.token_url = f"{login_url.rstrip('/')}/{quote(tenant)}/oauth2/v2.0/token"
        self.client_id = client_id
        self._secret = secret
        self.credentials = credentials
        self.drive = drive
        self.folder = "/" + folder.strip("/") if folder.strip("/") else ""
        self.group_prefix = group_prefix
        self.user_prefix = user_prefix
        self.link_sharing_is_public = link_sharing_is_public
        self.group_names = group_names
        self._login = ApiClient(source, {}, credentials, outbound=outbound, retry=retry)
        self.client = ApiClient(
            source,
            {},
            credentials,
            outbound=outbound,
            retry=retry,
            concurrency=concurrency,
            refresh=self._token,
        )
        # Downloads go to pre-authenticated URLs: no Graph token in their headers.
        self._download = ApiClient(
            source, {}, credentials, outbound=outbound, retry=retry, concurrency=concurrency
        )
        self.state_dir = workdir / sha256(source.encode()).hexdigest()[:16]
        self._listed: dict[str, _Listed] = {}
        self._authorized = False
        self._position: dict[str, Any] | None = None  # reached by a listing, not yet kept

    def close(self) -> None:
        for client in (self.client, self._login, self._download):
            client.close()

    def _token(self) -> dict[str, str]:
        try:
            answer = self._login.post_form(
                self.token_url,
                {
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self._secret,
                    "scope": "https://graph.microsoft.com/.default",
                },
            )
        except ApiRefusedError as error:
            raise SourceError(
                self.source,
                f"{self.credentials} was refused by the Microsoft identity platform (HTTP "
                f"{error.status}): wrong or expired client secret, or an unknown app or tenant",
            ) from None
        return {"Authorization": f"Bearer {answer['access_token']}"}

    def _authorize(self) -> None:
        if not self._authorized:
            self.client.authorize(self._token())
            self._authorized = True

    def _ours(self, url: str) -> str:
        """A link Graph gave (next page, delta): on Graph, never another host with our token."""
        if not url.startswith(self.base + "/"):
            raise SourceError(self.source, "a paging link points away from the Graph endpoint")
        return url

    # -- delta --------------------------------------------------------------------------------

    def _delta(self, link: str | None) -> tuple[list[dict[str, Any]], str]:
        """Items of a delta round from `link` (from the start without one), and the next link."""
        url = link or f"{self.base}/v1.0/drives/{self.drive}/root/delta"
        items: list[dict[str, Any]] = []
        while True:
            answer = self.client.get_json(self._ours(url))
            items.extend(answer.get("value") or [])
            if answer.get("@odata.deltaLink"):
                return items, str(answer["@odata.deltaLink"])
            following = answer.get("@odata.nextLink")
            if not following:
                raise SourceError(self.source, "a delta page has neither a next nor a delta link")
            url = str(following)

    def _wanted(self, item: dict[str, Any]) -> str | None:
        """The media type Steward reads this item as; None for folders, deletions, other types."""
        if item.get("deleted") or "file" not in item or "folder" in item:
            return None
        parent = (item.get("parentReference") or {}).get("path", "")
        within = parent.split(":", 1)[1] if ":" in parent else ""
        if self.folder and not (within == self.folder or within.startswith(self.folder + "/")):
            return None
        extension = str(item.get("name", "")).rsplit(".", 1)[-1].lower()
        return MEDIA.get(extension)

    def list(self) -> Iterator[DocumentRef]:
        self._authorize()
        items, link = self._delta(None)
        refs = self._refs(items)
        self._position = {"delta_link": link}
        return iter(refs)

    def list_changed(self, since: datetime) -> Iterator[DocumentRef]:
        """Items the delta query names since the last complete listing (edits, moves, readers)."""
        self._authorize()
        link = self._load_state().get("delta_link")
        if not link:
            return self.list()
        try:
            items, following = self._delta(str(link))
        except ApiRefusedError as error:
            if error.status != 410:
                raise
            return self.list()  # the delta token expired: Graph asks for a full resync
        refs = self._refs(items)
        self._position = {"delta_link": following}
        return iter(refs)

    def keep_position(self) -> None:
        """Store the delta link the last listing reached (the run that used it went well);
        until then the stored one stays, so a failed run's changes are listed again."""
        if self._position is not None:
            self._save_state(self._position)
            self._position = None

    def _refs(self, items: builtins.list[dict[str, Any]]) -> builtins.list[DocumentRef]:
        wanted = [(item, kind) for item in items if (kind := self._wanted(item)) is not None]
        grants = self.client.map(lambda pair: self._permissions(str(pair[0]["id"])), wanted)
        self._listed = {}
        refs = []
        for (item, kind), permissions in zip(wanted, grants, strict=True):
            ident = str(item["id"])
            self._listed[ident] = _Listed(item, self._acl(permissions), kind)
            refs.append(
                DocumentRef(
                    source=self.source,
                    key=ident,
                    source_uri=str(item.get("webUrl") or ident),
                    updated_at=api_time(item.get("lastModifiedDateTime")),
                    size=int(item.get("size") or 0),
                    fingerprint=str(item.get("cTag") or item.get("eTag") or ""),
                )
            )
        return refs

    # -- permissions --------------------------------------------------------------------------

    def _permissions(self, ident: str) -> builtins.list[dict[str, Any]]:
        url = f"{self.base}/v1.0/drives/{self.drive}/items/{ident}/permissions"
        found: builtins.list[dict[str, Any]] = []
        while url:
            answer = self.client.get_json(self._ours(url))
            found.extend(answer.get("value") or [])
            url = answer.get("@odata.nextLink") or ""
        return found

    def _acl(self, permissions: builtins.list[dict[str, Any]]) -> builtins.list[str]:
        readers: set[str] = set()
        for grant in permissions:
            link = grant.get("link") or {}
            if link:
                scope = link.get("scope")
                if scope == "anonymous" and self.link_sharing_is_public:
                    return []
                if scope == "organization":
                    readers.add("organization")
            identities = [grant.get("grantedToV2") or {}] + list(
                grant.get("grantedToIdentitiesV2") or []
            )
            for identity in identities:
                user = identity.get("user") or {}
                group = identity.get("group") or {}
                site_group = identity.get("siteGroup") or {}
                if user.get("email"):
                    readers.add(f"{self.user_prefix}{user['email']}")
                named = self._group_name(group)
                if named:
                    readers.add(f"{self.group_prefix}{named}")
                if site_group.get("displayName"):
                    readers.add(f"{self.group_prefix}{site_group['displayName']}")
        return sorted(readers) or [NO_READER]

    def _group_name(self, group: dict[str, Any]) -> str | None:
        """A Microsoft 365 or security group as one Steward group: its email (or its Entra
        object id with `group_names="id"`); a group without an email by its id."""
        email, ident = group.get("email"), group.get("id")
        named = ident if self.group_names == "id" else email or ident
        return str(named) if named else None

    # -- state and content --------------------------------------------------------------------

    def _load_state(self) -> dict[str, Any]:
        try:
            state: dict[str, Any] = json.loads((self.state_dir / "state.json").read_text())
        except (OSError, ValueError):
            return {}
        return state

    def _save_state(self, state: dict[str, Any]) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        temporary = self.state_dir / "state.json.tmp"
        temporary.write_text(json.dumps(state))
        temporary.replace(self.state_dir / "state.json")

    def _body(self, item: dict[str, Any]) -> bytes:
        ident = str(item["id"])
        tag = str(item.get("cTag") or item.get("eTag") or "")
        path = self.state_dir / "bodies" / sha256(ident.encode()).hexdigest()[:24]
        try:
            if json.loads(path.with_suffix(".json").read_text()).get("tag") == tag:
                return path.read_bytes()
        except (OSError, ValueError):
            pass
        url = item.get("@microsoft.graph.downloadUrl")
        try:
            if url:
                content = self._download.get_bytes(str(url))
            else:
                content = self.client.get_bytes(
                    f"{self.base}/v1.0/drives/{self.drive}/items/{ident}/content"
                )
        except ApiRefusedError as error:
            if error.status in (403, 404, 410):
                raise DocumentError(str(item.get("webUrl") or ident), error.reason) from None
            raise
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        path.with_suffix(".json").write_text(json.dumps({"tag": tag}))
        return content

    def fetch(self, ref: DocumentRef) -> RawDocument:
        listed = self._listed.get(ref.key)
        if listed is None:
            raise DocumentError(ref.source_uri, "file was not part of the listing")
        item = listed.item
        content = self._body(item)
        parent = (item.get("parentReference") or {}).get("path", "")
        metadata: dict[str, object] = {
            "acl": listed.acl,
            "path": parent.split(":", 1)[1] if ":" in parent else "/",
        }
        owner = ((item.get("createdBy") or {}).get("user") or {}).get("email")
        if owner:
            metadata["owner"] = owner
        author = ((item.get("lastModifiedBy") or {}).get("user") or {}).get("email")
        if author:
            metadata["author"] = author
        name = str(item.get("name") or "")
        return RawDocument(
            ref=replace(ref, size=len(content)),
            content=content,
            media_type=listed.media_type,
            title=name.rsplit(".", 1)[0] or None,
            metadata=metadata,
        )


def check_drive(drive: str) -> str:
    """A drive id as Graph spells them (letters, digits, '!', '-', '_')."""
    if not drive or not all(c.isalnum() or c in "!-_" for c in drive):
        raise ValueError(f"not a Graph drive id: {drive!r}")
    return drive
