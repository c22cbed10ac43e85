"""Google Drive folders through the Drive API v3, as a service account, with their readers.

Credentials: a service account's JSON key (`token_file`). The connector signs a JWT with the
key (RS256), exchanges it at the key's `token_uri` for an access token, and asks for a new one
when the API answers 401; with `subject`, the account acts for that user (domain-wide
delegation). The key and the tokens never leave this module.

Listing: the files under the configured folders, sub-folders included (`files.list` with
`'<folder>' in parents`, every page), each with its permissions (`permissions.list` when the
listing does not carry them, as in shared drives). Content: Google Docs exported as HTML,
Slides as plain text; stored files of the types Steward parses (PDF, DOCX, Markdown, text, HTML)
downloaded. Bodies are kept under `workdir` by file id and version, so a resync downloads only
what changed. `list_changed` reads the changes feed from the page token the last good run kept
(a complete listing's `changes.getStartPageToken`, or where the feed last ended), so it sees
edits and permission changes alike; a listing's token is stored only when the run that used it
succeeded (`keep_position`).

Readers become access groups: a user or a group by its email (`user_prefix`, `group_prefix`),
a domain as `domain:<name>`; "anyone" that can find the file makes it public, "anyone with the
link" does not add readers unless `link_sharing_is_public` (a link is not an invitation).
"""

from __future__ import annotations

import builtins  # `list` is a method of the connectors here: later annotations name the type
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from hashlib import sha256
from pathlib import Path
from typing import Any

import jwt

from connectors.api_client import ApiClient, RetryPolicy, api_time
from steward.domain import DocumentRef, RawDocument
from steward.errors import ApiRefusedError, DocumentError, SourceError
from steward.outbound import OutboundPolicy

API = "https://www.googleapis.com"
SCOPE = "https://www.googleapis.com/auth/drive.readonly"
FOLDER = "application/vnd.google-apps.folder"
# What each kind of file is read as: a Google format exported, or a stored file downloaded.
EXPORTS = {
    "application/vnd.google-apps.document": ("text/html", "text/html"),
    "application/vnd.google-apps.presentation": ("text/plain", "text/plain"),
}
DOWNLOADS = {
    "application/pdf": "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    ),
    "text/markdown": "text/markdown",
    "text/plain": "text/plain",
    "text/html": "text/html",
}
_FIELDS = (
    "id,name,mimeType,modifiedTime,version,size,webViewLink,parents,trashed,"
    "owners(emailAddress,displayName),lastModifyingUser(emailAddress,displayName),"
    "permissions(id,type,role,emailAddress,domain,allowFileDiscovery,deleted)"
)
_PERMISSION_FIELDS = "id,type,role,emailAddress,domain,allowFileDiscovery,deleted"


@dataclass(frozen=True, slots=True)
class _Listed:
    file: dict[str, Any]
    path: str
    acl: list[str]


class ServiceAccount:
    """Access tokens for a service account key, exchanged at the key's token endpoint."""

    def __init__(
        self,
        source: str,
        key: dict[str, Any],
        where: str,
        subject: str | None,
        outbound: OutboundPolicy | None,
        retry: RetryPolicy | None,
    ) -> None:
        missing = [k for k in ("client_email", "private_key", "token_uri") if not key.get(k)]
        if missing:
            raise SourceError(source, f"{where} is not a service account key (no {missing[0]})")
        self.key = key
        self.subject = subject
        self.token_uri = str(key["token_uri"])
        self.where = where
        self._client = ApiClient(source, {}, where, outbound=outbound, retry=retry)

    def headers(self) -> dict[str, str]:
        now = int(time.time())
        claims = {
            "iss": self.key["client_email"],
            "scope": SCOPE,
            "aud": self.token_uri,
            "iat": now,
            "exp": now + 3600,
        }
        if self.subject:
            claims["sub"] = self.subject
        try:
            assertion = jwt.encode(
                claims,
                self.key["private_key"],
                algorithm="RS256",
                headers={"kid": str(self.key.get("private_key_id", ""))},
            )
        except (ValueError, TypeError, jwt.PyJWTError) as error:
            raise SourceError(
                self._client.source, f"the private key in {self.where} cannot sign ({error})"
            ) from None
        try:
            answer = self._client.post_form(
                self.token_uri,
                {
                    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "assertion": assertion,
                },
            )
        except ApiRefusedError as error:
            raise SourceError(
                error.source,
                f"the service account key in {self.where} was refused by {self.token_uri} "
                f"(HTTP {error.status}): revoked, deleted, or not allowed to act for the subject",
            ) from None
        return {"Authorization": f"Bearer {answer['access_token']}"}

    def close(self) -> None:
        self._client.close()


class GoogleDriveConnector:
    """The files under some Drive folders (My Drive or shared drives)."""

    def __init__(
        self,
        source: str,
        key: dict[str, Any],
        where: str,
        folders: Sequence[str],
        workdir: Path,
        subject: str | None = None,
        url: str = API,
        group_prefix: str = "",
        user_prefix: str = "user:",
        link_sharing_is_public: bool = False,
        page_size: int = 100,
        concurrency: int = 4,
        outbound: OutboundPolicy | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not folders:
            raise SourceError(source, "a Google Drive source needs at least one folder id")
        self.source = source
        self.base = url.rstrip("/")
        self.folders = list(folders)
        self.group_prefix = group_prefix
        self.user_prefix = user_prefix
        self.link_sharing_is_public = link_sharing_is_public
        self.page_size = page_size
        self.account = ServiceAccount(source, key, where, subject, outbound, retry)
        self.client = ApiClient(
            source,
            {},
            f"the service account key in {where}",
            outbound=outbound,
            retry=retry,
            concurrency=concurrency,
            refresh=self.account.headers,
        )
        self.state_dir = workdir / sha256(source.encode()).hexdigest()[:16]
        self._listed: dict[str, _Listed] = {}
        self._authorized = False
        self._position: dict[str, Any] | None = None  # reached by a listing, not yet kept

    def close(self) -> None:
        self.client.close()
        self.account.close()

    def _authorize(self) -> None:
        if not self._authorized:
            self.client.authorize(self.account.headers())
            self._authorized = True

    # -- listing ------------------------------------------------------------------------------

    def _children(self, folder: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {
            "q": f"'{folder}' in parents and trashed = false",
            "fields": f"nextPageToken,files({_FIELDS})",
            "pageSize": self.page_size,
            "supportsAllDrives": "true",
            "includeItemsFromAllDrives": "true",
        }
        while True:
            answer = self.client.get_json(f"{self.base}/drive/v3/files", params)
            found.extend(answer.get("files") or [])
            token = answer.get("nextPageToken")
            if not token:
                return found
            params = {**params, "pageToken": token}

    def _folder_name(self, folder: str) -> str:
        answer = self.client.get_json(
            f"{self.base}/drive/v3/files/{folder}",
            {"fields": "id,name", "supportsAllDrives": "true"},
        )
        return str(answer.get("name") or folder)

    def _permissions(self, file: dict[str, Any]) -> list[dict[str, Any]]:
        if "permissions" in file:
            return list(file["permissions"])
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {
            "fields": f"nextPageToken,permissions({_PERMISSION_FIELDS})",
            "supportsAllDrives": "true",
            "pageSize": 100,
        }
        while True:
            answer = self.client.get_json(
                f"{self.base}/drive/v3/files/{file['id']}/permissions", params
            )
            found.extend(answer.get("permissions") or [])
            token = answer.get("nextPageToken")
            if not token:
                return found
            params = {**params, "pageToken": token}

    def _acl(self, permissions: list[dict[str, Any]]) -> list[str]:
        readers: set[str] = set()
        for grant in permissions:
            if grant.get("deleted"):
                continue
            kind = grant.get("type")
            if kind == "anyone":
                if grant.get("allowFileDiscovery") or self.link_sharing_is_public:
                    return []  # public
                continue
            if kind == "domain" and grant.get("domain"):
                readers.add(f"domain:{grant['domain']}")
            elif kind == "group" and grant.get("emailAddress"):
                readers.add(f"{self.group_prefix}{grant['emailAddress']}")
            elif kind == "user" and grant.get("emailAddress"):
                readers.add(f"{self.user_prefix}{grant['emailAddress']}")
        # Nobody named (only a link): a group nobody holds, never public.
        return sorted(readers) or ["google-drive:no-reader"]

    def _walk(self) -> list[tuple[dict[str, Any], str]]:
        """Every readable file under the folders, with its folder path."""
        names = self.client.map(self._folder_name, self.folders)
        level = list(zip(self.folders, names, strict=True))
        files: list[tuple[dict[str, Any], str]] = []
        seen: set[str] = set(self.folders)
        while level:
            answers = self.client.map(lambda folder: self._children(folder[0]), level)
            following = []
            for (_, path), children in zip(level, answers, strict=True):
                for child in children:
                    if child["id"] in seen or child.get("trashed"):
                        continue
                    seen.add(child["id"])
                    if child.get("mimeType") == FOLDER:
                        following.append((child["id"], f"{path} / {child.get('name', '')}"))
                    elif child.get("mimeType") in EXPORTS or child.get("mimeType") in DOWNLOADS:
                        files.append((child, path))
            level = following
        return files

    def list(self) -> Iterator[DocumentRef]:
        self._authorize()
        start = self.client.get_json(
            f"{self.base}/drive/v3/changes/startPageToken", {"supportsAllDrives": "true"}
        )
        refs = self._refs(self._walk())
        self._position = {"page_token": start.get("startPageToken")}
        bodies = [self._body_path(ident) for ident in self._listed]
        kept = {path.name for path in bodies} | {path.with_suffix(".json").name for path in bodies}
        for body in (self.state_dir / "bodies").glob("*"):
            if body.name not in kept:
                body.unlink(missing_ok=True)
        return iter(refs)

    def list_changed(self, since: datetime) -> Iterator[DocumentRef]:
        """Files the changes feed names since the last complete listing (edits, new readers)."""
        self._authorize()
        token = self._load_state().get("page_token")
        if not token:
            return self.list()
        changed: dict[str, dict[str, Any]] = {}
        params: dict[str, Any] = {
            "pageToken": token,
            "fields": f"nextPageToken,newStartPageToken,changes(fileId,removed,file({_FIELDS}))",
            "supportsAllDrives": "true",
            "includeItemsFromAllDrives": "true",
            "pageSize": self.page_size,
        }
        while True:
            answer = self.client.get_json(f"{self.base}/drive/v3/changes", params)
            for change in answer.get("changes") or []:
                file = change.get("file") or {}
                if not change.get("removed") and file and not file.get("trashed"):
                    changed[str(change["fileId"])] = file
            if answer.get("newStartPageToken"):
                new_token = answer["newStartPageToken"]
                break
            params = {**params, "pageToken": answer["nextPageToken"]}
        # Only files under the configured folders: the complete walk says which those are.
        under = {file["id"]: path for file, path in self._walk()}
        refs = self._refs([(f, under[i]) for i, f in changed.items() if i in under])
        self._position = {"page_token": new_token}
        return iter(refs)

    def keep_position(self) -> None:
        """Store the changes-feed token the last listing reached (the run that used it went
        well); until then the stored one stays, so a failed run's changes are listed again."""
        if self._position is not None:
            self._save_state(self._position)
            self._position = None

    def _refs(self, files: builtins.list[tuple[dict[str, Any], str]]) -> builtins.list[DocumentRef]:
        permissions = self.client.map(lambda item: self._permissions(item[0]), files)
        self._listed = {}
        refs = []
        for (file, path), grants in zip(files, permissions, strict=True):
            ident = str(file["id"])
            self._listed[ident] = _Listed(file, path, self._acl(grants))
            refs.append(
                DocumentRef(
                    source=self.source,
                    key=ident,
                    source_uri=str(
                        file.get("webViewLink") or f"https://drive.google.com/open?id={ident}"
                    ),
                    updated_at=api_time(file.get("modifiedTime")),
                    size=int(file.get("size") or 0),
                    fingerprint=f"v{file.get('version', '')}",
                )
            )
        return refs

    # -- state --------------------------------------------------------------------------------

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

    def _body_path(self, ident: str) -> Path:
        return self.state_dir / "bodies" / sha256(ident.encode()).hexdigest()[:24]

    # -- content ------------------------------------------------------------------------------

    def _body(self, file: dict[str, Any]) -> tuple[bytes, str]:
        ident, kind = str(file["id"]), str(file.get("mimeType"))
        version = str(file.get("version", ""))
        path = self._body_path(ident)
        media = EXPORTS[kind][1] if kind in EXPORTS else DOWNLOADS[kind]
        try:
            kept = json.loads((path.with_suffix(".json")).read_text())
            if kept.get("version") == version:
                return path.read_bytes(), media
        except (OSError, ValueError):
            pass
        try:
            if kind in EXPORTS:
                content = self.client.get_bytes(
                    f"{self.base}/drive/v3/files/{ident}/export", {"mimeType": EXPORTS[kind][0]}
                )
            else:
                content = self.client.get_bytes(
                    f"{self.base}/drive/v3/files/{ident}",
                    {"alt": "media", "supportsAllDrives": "true"},
                )
        except ApiRefusedError as error:
            if error.status in (403, 404):
                raise DocumentError(str(file.get("webViewLink") or ident), error.reason) from None
            raise
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        path.with_suffix(".json").write_text(json.dumps({"version": version}))
        return content, media

    def fetch(self, ref: DocumentRef) -> RawDocument:
        listed = self._listed.get(ref.key)
        if listed is None:
            raise DocumentError(ref.source_uri, "file was not part of the listing")
        file = listed.file
        content, media = self._body(file)
        owners = file.get("owners") or []
        metadata: dict[str, object] = {"acl": listed.acl, "path": listed.path}
        owner = next((o.get("emailAddress") for o in owners if o.get("emailAddress")), None)
        if owner:
            metadata["owner"] = owner
        editor = (file.get("lastModifyingUser") or {}).get("emailAddress")
        if editor:
            metadata["author"] = editor
        title = str(file.get("name") or "")
        if media != "text/html" and "." in title and kind_suffix(title):
            title = title.rsplit(".", 1)[0]
        return RawDocument(
            ref=replace(ref, size=len(content)),
            content=content,
            media_type=media,
            title=title or None,
            metadata=metadata,
        )


def kind_suffix(name: str) -> bool:
    """Whether a file name ends in the extension of a type Steward reads."""
    return name.rsplit(".", 1)[-1].lower() in {"pdf", "docx", "md", "txt", "html", "htm"}
