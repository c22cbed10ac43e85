"""Local stand-ins for the SaaS APIs the connectors read, on real sockets.

Each speaks the part of its vendor's REST API the connector uses, with the response shapes of
the published reference (Confluence REST v1 content search, space permissions and content
restrictions; Notion's search, blocks and pages), and lets a test change the site between
syncs, inject faults (429 with Retry-After, 5xx) and revoke the token. Used by the tests and by
benchmarks/sync.py.
"""

from __future__ import annotations

import json
import re
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

# -- a running server -------------------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """An answer that is not JSON: a file's bytes."""

    data: bytes
    media_type: str


@dataclass(frozen=True)
class Redirect:
    """A 3xx answer's Location."""

    location: str


@dataclass
class Fault:
    """The next `times` requests whose path contains `path` are answered with `status`."""

    path: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1


class FakeApi:
    """A threading HTTP server dispatching GET and POST to `self.answer`; faults first."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()  # by path, without the query
        self.faults: list[Fault] = []
        self.lock = threading.Lock()
        self.delay_s = 0.0  # each answer waits this long (to see requests overlap)
        self.in_flight = 0
        self.most_in_flight = 0
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self, method: str) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if "form-urlencoded" in (self.headers.get("Content-Type") or ""):
                    body: Any = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
                else:
                    body = json.loads(raw or b"{}")
                with api.lock:
                    api.requests[parts.path] += 1
                    fault = next((f for f in api.faults if f.path in parts.path), None)
                    if fault is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            api.faults.remove(fault)
                if fault is not None:
                    self._send(fault.status, {"message": "injected"}, fault.headers)
                    return
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                with api.lock:
                    api.in_flight += 1
                    api.most_in_flight = max(api.most_in_flight, api.in_flight)
                try:
                    if api.delay_s:
                        time.sleep(api.delay_s)
                    with api.lock:
                        status, answer = api.answer(
                            method, parts.path, query, body, dict(self.headers)
                        )
                finally:
                    with api.lock:
                        api.in_flight -= 1
                self._send(status, answer)

            def _send(
                self, status: int, answer: Any, headers: dict[str, str] | None = None
            ) -> None:
                kind = "application/json"
                if isinstance(answer, Redirect):
                    headers = {**(headers or {}), "Location": answer.location}
                    data = b""
                elif isinstance(answer, Raw):
                    data, kind = answer.data, answer.media_type
                else:
                    data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                self._handle("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._handle("POST")

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(
        self, method: str, path: str, query: dict[str, str], body: Any, headers: dict[str, str]
    ) -> tuple[int, Any]:
        raise NotImplementedError

    def fault(self, path: str, status: int, times: int = 1, **headers: str) -> None:
        with self.lock:
            self.faults.append(
                Fault(path, status, {k.replace("_", "-"): v for k, v in headers.items()}, times)
            )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- Confluence --------------------------------------------------------------------------------

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class Person:
    name: str
    email: str

    def cloud(self) -> dict[str, Any]:
        return {
            "type": "known",
            "accountId": f"5b10ac8d82e05b22cc7d{zlib.crc32(self.email.encode()) % 10**4:04d}",
            "accountType": "atlassian",
            "email": self.email,
            "publicName": self.name,
            "displayName": self.name,
        }

    def datacenter(self) -> dict[str, Any]:
        return {
            "type": "known",
            "username": self.email.split("@")[0],
            "userKey": f"8a7f808a{zlib.crc32(self.email.encode()) % 10**8:08d}",
            "displayName": self.name,
        }


@dataclass
class ConfluencePage:
    id: str
    space: str
    title: str
    body: str  # storage format
    parent: str | None = None
    labels: list[str] = field(default_factory=list)
    read_groups: list[str] = field(default_factory=list)
    read_users: list[Person] = field(default_factory=list)
    creator: Person = field(default_factory=lambda: Person("Ana Lima", "ana@acme.test"))
    editor: Person = field(default_factory=lambda: Person("Ben Ode", "ben@acme.test"))
    version: int = 1
    when: datetime = T0
    type: str = "page"
    # (attachment id, file name, bytes, version)
    attachments: list[tuple[str, str, bytes, int]] = field(default_factory=list)


@dataclass
class ConfluenceSpace:
    key: str
    name: str
    read_groups: list[str] = field(default_factory=list)
    anonymous: bool = False


_CQL_SPACES = re.compile(r"space in \(([^)]*)\)")
_CQL_TYPES = re.compile(r"type in \(([^)]*)\)")
_CQL_SINCE = re.compile(r'lastmodified >= "(\d{4}/\d{2}/\d{2} \d{2}:\d{2})"')


class FakeConfluence(FakeApi):
    """Confluence Cloud (context /wiki, cursor pagination, basic auth) or Data Center
    (context /confluence, start/limit pagination, bearer token), REST API v1."""

    def __init__(
        self, deployment: str = "cloud", token: str = "tok-good", user: str = "bot@acme.test"
    ) -> None:
        self.deployment = deployment
        self.context = "/wiki" if deployment == "cloud" else "/confluence"
        self.token = token
        self.user = user if deployment == "cloud" else None
        self.spaces: dict[str, ConfluenceSpace] = {}
        self.pages: dict[str, ConfluencePage] = {}
        self.cql: list[str] = []
        self.max_limit = 50
        self.media_with_authorization = 0  # downloads from the media store that carried a token
        super().__init__()
        self.url = self.origin + self.context

    # -- changing the site ---------------------------------------------------------------------

    def add_space(
        self, key: str, name: str, read_groups: list[str], anonymous: bool = False
    ) -> None:
        self.spaces[key] = ConfluenceSpace(key, name, read_groups, anonymous)

    def add_page(self, page: ConfluencePage) -> ConfluencePage:
        self.pages[page.id] = page
        return page

    def edit(self, ident: str, body: str | None = None, **changes: Any) -> None:
        """A new version of the page, as an edit in the editor makes."""
        page = self.pages[ident]
        if body is not None:
            page.body = body
        for name, value in changes.items():
            setattr(page, name, value)
        page.version += 1
        page.when = page.when + timedelta(hours=1)

    # -- the API -------------------------------------------------------------------------------

    def _authorized(self, headers: dict[str, str]) -> bool:
        import base64

        given = headers.get("Authorization", "")
        if self.user:
            pair = base64.b64encode(f"{self.user}:{self.token}".encode()).decode()
            return given == f"Basic {pair}"
        return given == f"Bearer {self.token}"

    def _media(self, path: str, headers: dict[str, str]) -> tuple[int, Any]:
        """Cloud's media store: a signed URL on another host, no Confluence credentials."""
        if headers.get("Authorization"):
            self.media_with_authorization += 1
        wanted = path.removeprefix("/media/")
        for page in self.pages.values():
            for ident, _name, data, _version in page.attachments:
                if ident == wanted:
                    return 200, Raw(data, "application/octet-stream")
        return 404, {"message": "gone"}

    def answer(
        self, method: str, path: str, query: dict[str, str], body: Any, headers: dict[str, str]
    ) -> tuple[int, Any]:
        if path.startswith("/media/"):
            return self._media(path, headers)
        if not self._authorized(headers):
            return 401, {
                "statusCode": 401,
                "message": "Client must be authenticated to access this resource.",
            }
        if match := re.fullmatch(self.context + r"/download/attachments/(\d+)/(.+)", path):
            page = self.pages.get(match.group(1))
            found = [a for a in page.attachments if quote(a[1]) == match.group(2)] if page else []
            if not found:
                return 404, {"statusCode": 404, "message": "No attachment"}
            if self.deployment == "cloud":  # Cloud sends downloads to its media store
                port = self.server.server_address[1]
                return 302, Redirect(f"http://localhost:{port}/media/{found[0][0]}?token=signed")
            return 200, Raw(found[0][2], "application/octet-stream")
        if not path.startswith(self.context + "/rest/api/"):
            return 404, {"statusCode": 404, "message": "No route"}
        route = path[len(self.context) + len("/rest/api/") :]
        if route == "content/search":
            return 200, self._search(query)
        if match := re.fullmatch(r"content/(\d+)/child/attachment", route):
            page = self.pages.get(match.group(1))
            if page is None:
                return 404, {"statusCode": 404, "message": "No content found with id"}
            return 200, self._attachments(page, query)
        if match := re.fullmatch(r"content/(\d+)/restriction/byOperation/read", route):
            page = self.pages.get(match.group(1))
            if page is None:
                return 404, {"statusCode": 404, "message": "No content found with id"}
            read = self._content(page, "restrictions.read")["restrictions"]["read"]
            return 200, {**read, "content": {"id": page.id, "type": page.type}}
        if self.deployment == "datacenter" and (
            match := re.fullmatch(r"space/([^/]+)/permissions", route)
        ):
            space = self.spaces.get(match.group(1))
            if space is None:
                return 404, {"statusCode": 404, "message": "No space"}
            return 200, self._dc_permissions(space)
        if self.deployment == "cloud" and (match := re.fullmatch(r"space/([^/]+)", route)):
            space = self.spaces.get(match.group(1))
            if space is None:
                return 404, {"statusCode": 404, "message": "No space"}
            return 200, self._cloud_space(space, query.get("expand", ""))
        return 404, {"statusCode": 404, "message": "No route"}

    def _person(self, person: Person) -> dict[str, Any]:
        return person.cloud() if self.deployment == "cloud" else person.datacenter()

    def _cloud_space(self, space: ConfluenceSpace, expand: str) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "id": 98306,
            "key": space.key,
            "name": space.name,
            "type": "global",
            "status": "current",
            "_links": {
                "webui": f"/spaces/{space.key}",
                "self": f"{self.url}/rest/api/space/{space.key}",
            },
        }
        if "permissions" in expand:
            groups = [{"type": "group", "name": g, "id": f"g-{g}"} for g in space.read_groups]
            answer["permissions"] = [
                {
                    "id": 1,
                    "subjects": {"group": {"results": groups, "size": len(groups)}},
                    "operation": {"operation": "read", "targetType": "space"},
                    "anonymousAccess": space.anonymous,
                    "unlicensedAccess": False,
                },
                {
                    "id": 2,
                    "subjects": {
                        "group": {"results": [{"type": "group", "name": "site-admins"}], "size": 1}
                    },
                    "operation": {"operation": "administer", "targetType": "space"},
                    "anonymousAccess": False,
                    "unlicensedAccess": False,
                },
            ]
        return answer

    def _dc_permissions(self, space: ConfluenceSpace) -> list[dict[str, Any]]:
        grants = [
            {
                "operation": {"targetType": "space", "operationKey": "read"},
                "subject": {"type": "group", "name": group},
                "spaceKey": space.key,
                "spaceId": 131083,
            }
            for group in space.read_groups
        ]
        grants.append(
            {
                "operation": {"targetType": "space", "operationKey": "administer"},
                "subject": {"type": "group", "name": "confluence-administrators"},
                "spaceKey": space.key,
                "spaceId": 131083,
            }
        )
        if space.anonymous:
            grants.append(
                {
                    "operation": {"targetType": "space", "operationKey": "read"},
                    "subject": {"type": "anonymous"},
                    "spaceKey": space.key,
                    "spaceId": 131083,
                }
            )
        return grants

    def _ancestors(self, page: ConfluencePage) -> list[ConfluencePage]:
        chain = []
        parent = page.parent
        while parent is not None and parent in self.pages:
            chain.append(self.pages[parent])
            parent = self.pages[parent].parent
        return list(reversed(chain))  # the root first, as Confluence lists them

    def _webui(self, page: ConfluencePage) -> str:
        if self.deployment == "cloud":
            return f"/spaces/{page.space}/pages/{page.id}/{quote(page.title.replace(' ', '+'))}"
        return f"/display/{page.space}/{quote(page.title.replace(' ', '+'))}"

    def _content(self, page: ConfluencePage, expand: str) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": page.id,
            "type": page.type,
            "status": "current",
            "title": page.title,
            "_links": {
                "webui": self._webui(page),
                "tinyui": f"/x/{page.id}",
                "self": f"{self.url}/rest/api/content/{page.id}",
            },
            "_expandable": {"children": "", "descendants": ""},
        }
        if "space" in expand:
            space = self.spaces[page.space]
            item["space"] = {"id": 98306, "key": space.key, "name": space.name, "type": "global"}
        if "version" in expand:
            item["version"] = {
                "by": self._person(page.editor),
                "when": iso(page.when),
                "number": page.version,
                "minorEdit": False,
            }
        if "history" in expand:
            item["history"] = {
                "latest": True,
                "createdBy": self._person(page.creator),
                "createdDate": iso(T0),
            }
        if "ancestors" in expand:
            item["ancestors"] = [
                {"id": a.id, "type": "page", "status": "current", "title": a.title}
                for a in self._ancestors(page)
            ]
        if "body.storage" in expand:
            item["body"] = {"storage": {"value": page.body, "representation": "storage"}}
        if "metadata.labels" in expand:
            labels = [
                {"prefix": "global", "name": n, "id": f"l-{n}", "label": n} for n in page.labels
            ]
            item["metadata"] = {
                "labels": {"results": labels, "start": 0, "limit": 200, "size": len(labels)}
            }
        if "restrictions.read" in expand:
            users = [self._person(u) for u in page.read_users]
            groups = [{"type": "group", "name": g, "id": f"g-{g}"} for g in page.read_groups]
            item["restrictions"] = {
                "read": {
                    "operation": "read",
                    "restrictions": {
                        "user": {"results": users, "start": 0, "limit": 200, "size": len(users)},
                        "group": {"results": groups, "start": 0, "limit": 200, "size": len(groups)},
                    },
                }
            }
        return item

    def _attachments(self, page: ConfluencePage, query: dict[str, str]) -> dict[str, Any]:
        results = [
            {
                "id": ident,
                "type": "attachment",
                "status": "current",
                "title": name,
                "metadata": {"mediaType": "application/octet-stream"},
                "extensions": {"mediaType": "application/octet-stream", "fileSize": len(data)},
                "version": {"number": version, "when": iso(T0 + timedelta(minutes=version))},
                "_links": {
                    "webui": "/pages/viewpageattachments.action?"
                    + urlencode({"pageId": page.id, "preview": name}),
                    "download": f"/download/attachments/{page.id}/{quote(name)}?"
                    + urlencode({"version": version, "api": "v2"}),
                },
            }
            for ident, name, data, version in page.attachments
        ]
        start = int(query.get("start", 0))
        limit = int(query.get("limit", 25))
        answer: dict[str, Any] = {
            "results": results[start : start + limit],
            "start": start,
            "limit": limit,
            "size": len(results[start : start + limit]),
            "_links": {"base": self.url, "context": self.context},
        }
        if start + limit < len(results):
            following = {"expand": "version", "limit": limit, "start": start + limit}
            answer["_links"]["next"] = f"/rest/api/content/{page.id}/child/attachment?" + urlencode(
                following
            )
        return answer

    def _search(self, query: dict[str, str]) -> dict[str, Any]:
        cql = query.get("cql", "")
        self.cql.append(cql)
        spaces = {
            s.strip().strip('"') for s in (_CQL_SPACES.search(cql) or [None, ""])[1].split(",")
        }
        types = {t.strip() for t in (_CQL_TYPES.search(cql) or [None, "page"])[1].split(",")}
        since_match = _CQL_SINCE.search(cql)
        since = (
            datetime.strptime(since_match.group(1), "%Y/%m/%d %H:%M").replace(tzinfo=UTC)
            if since_match
            else None
        )
        matching = sorted(
            (
                p
                for p in self.pages.values()
                if p.space in spaces and p.type in types and (since is None or p.when >= since)
            ),
            key=lambda p: int(p.id),
        )
        limit = min(int(query.get("limit", 25)), self.max_limit)
        start = int(query.get("cursor") or query.get("start") or 0)
        window = matching[start : start + limit]
        expand = query.get("expand", "")
        links: dict[str, Any] = {
            "base": self.url,
            "context": self.context,
            "self": f"{self.url}/rest/api/content/search",
        }
        if start + limit < len(matching):
            following = {"cql": cql, "expand": expand, "limit": limit}
            following["cursor" if self.deployment == "cloud" else "start"] = start + limit
            links["next"] = "/rest/api/content/search?" + urlencode(following)
        return {
            "results": [self._content(p, expand) for p in window],
            "start": start,
            "limit": limit,
            "size": len(window),
            "totalSize": len(matching),
            "cqlQuery": cql,
            "_links": links,
        }


def storage_page(title: str, topic: str, detail: str) -> str:
    """A storage-format body with a heading, a list, a table, a code macro and a panel."""
    return (
        f"<h1>{title}</h1>"
        f"<p>This page explains {topic}&nbsp;for the whole company. {detail}</p>"
        "<h2>Steps</h2>"
        f"<ol><li><p>Open the {topic} form.</p></li>"
        "<li><p>Ask your manager to approve it.</p></li></ol>"
        '<ac:structured-macro ac:name="info" ac:schema-version="1">'
        '<ac:parameter ac:name="title">Note</ac:parameter>'
        f"<ac:rich-text-body><p>Questions about {topic} go to the help desk.</p>"
        "</ac:rich-text-body></ac:structured-macro>"
        "<h2>Limits</h2>"
        "<table><tbody><tr><th>Item</th><th>Limit</th></tr>"
        f"<tr><td>{topic} per month</td><td>3</td></tr></tbody></table>"
        '<ac:structured-macro ac:name="code"><ac:parameter ac:name="language">bash</ac:parameter>'
        f"<ac:plain-text-body><![CDATA[steward request --kind {topic.replace(' ', '-')}]]>"
        "</ac:plain-text-body></ac:structured-macro>"
        '<ac:structured-macro ac:name="toc"/>'
    )


def confluence_site(deployment: str = "cloud", pages: int = 12) -> FakeConfluence:
    """Two spaces; ENG readable by `engineering`, OPS by `operations`; `pages` pages in ENG
    under a root page, a restricted finance page, and one page in OPS."""
    site = FakeConfluence(deployment)
    site.add_space("ENG", "Engineering", ["engineering"])
    site.add_space("OPS", "Operations", ["operations"])
    site.add_page(
        ConfluencePage(
            "1000",
            "ENG",
            "Engineering home",
            storage_page("Engineering home", "onboarding", "Start here."),
        )
    )
    for n in range(pages):
        topic = f"topic {n}"
        site.add_page(
            ConfluencePage(
                str(1001 + n),
                "ENG",
                f"Runbook {n}",
                storage_page(f"Runbook {n}", topic, f"Runbook number {n} covers service {n}."),
                parent="1000",
                labels=["runbook"] + (["review-by-2027-03-31"] if n == 0 else []),
            )
        )
    site.add_page(
        ConfluencePage(
            "2000",
            "ENG",
            "Salary bands",
            storage_page("Salary bands", "salary bands", "Bands are reviewed every spring."),
            parent="1000",
            read_groups=["finance"],
            read_users=[Person("Cleo Park", "cleo@acme.test")],
        )
    )
    site.add_page(
        ConfluencePage(
            "3000",
            "OPS",
            "On-call rota",
            storage_page("On-call rota", "on-call", "Rotas change weekly."),
        )
    )
    return site


ConfluenceFactory = Callable[..., FakeConfluence]


# -- Notion -----------------------------------------------------------------------------------


def rich(text: str) -> list[dict[str, Any]]:
    """Notion rich text: one plain run."""
    return [
        {
            "type": "text",
            "text": {"content": text, "link": None},
            "annotations": {"bold": False, "italic": False, "code": False, "color": "default"},
            "plain_text": text,
            "href": None,
        }
    ]


def block(
    kind: str, text: str = "", children: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    """A block as Notion stores it; `children` are served by its own children endpoint."""
    content: dict[str, Any] = {"rich_text": rich(text), "color": "default", **extra}
    return {"type": kind, kind: content, "children": children or []}


def table(rows: list[list[str]]) -> dict[str, Any]:
    cells = [
        {"type": "table_row", "table_row": {"cells": [rich(c) for c in row]}, "children": []}
        for row in rows
    ]
    return {
        "type": "table",
        "table": {"table_width": len(rows[0]), "has_column_header": True, "has_row_header": False},
        "children": cells,
    }


def notion_blocks(topic: str, detail: str) -> list[dict[str, Any]]:
    """A page's body: headings, a paragraph, a nested list, to-dos, a table and code."""
    return [
        block("heading_1", f"About {topic}"),
        block("paragraph", f"This page explains {topic} for the whole company. {detail}"),
        block("heading_2", "Steps"),
        block("numbered_list_item", f"Open the {topic} form."),
        block(
            "numbered_list_item",
            "Ask your manager to approve it.",
            [block("bulleted_list_item", "Managers answer within two days.")],
        ),
        block("to_do", f"Attach the {topic} receipt.", checked=False),
        block("heading_2", "Limits"),
        table([["Item", "Limit"], [f"{topic} per month", "3"]]),
        block("code", f"steward request --kind {topic.replace(' ', '-')}", language="bash"),
        {"type": "divider", "divider": {}, "children": []},
    ]


@dataclass
class NotionPage:
    id: str
    title: str
    blocks: list[dict[str, Any]]
    parent: str | None = None  # a page id; None: the workspace
    edited: datetime = T0
    creator: str = "u-ana"
    owner: str | None = None  # a user id for the "Owner" people property
    review: str | None = None
    tags: list[str] = field(default_factory=list)
    shared: bool = True  # shared with the integration
    in_trash: bool = False


class FakeNotion(FakeApi):
    """Notion's API (2022-06-28): search, block children, users; bearer token."""

    def __init__(self, token: str = "secret_good") -> None:
        self.token = token
        self.pages: dict[str, NotionPage] = {}
        self.users = {
            "u-ana": {"name": "Ana Lima", "email": "ana@acme.test"},
            "u-dev": {"name": "Dev Rao", "email": "dev@acme.test"},
        }
        self.max_page_size = 100
        self.users_readable = True
        super().__init__()
        self.url = self.origin

    def add_page(self, page: NotionPage) -> NotionPage:
        self.pages[page.id] = page
        return page

    def edit(self, ident: str, blocks: list[dict[str, Any]] | None = None, **changes: Any) -> None:
        page = self.pages[ident]
        if blocks is not None:
            page.blocks = blocks
        for name, value in changes.items():
            setattr(page, name, value)
        page.edited = page.edited + timedelta(hours=1)

    @staticmethod
    def _error(status: int, code: str, message: str) -> tuple[int, Any]:
        return status, {
            "object": "error",
            "status": status,
            "code": code,
            "message": message,
            "request_id": "0f1c2d3e-0000-4000-8000-000000000000",
        }

    def _user(self, ident: str) -> dict[str, Any]:
        user = self.users[ident]
        return {
            "object": "user",
            "id": ident,
            "type": "person",
            "name": user["name"],
            "avatar_url": None,
            "person": {"email": user["email"]},
        }

    def _page(self, page: NotionPage) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "title": {"id": "title", "type": "title", "title": rich(page.title)},
            "Tags": {
                "id": "tg",
                "type": "multi_select",
                "multi_select": [{"id": f"t-{t}", "name": t, "color": "blue"} for t in page.tags],
            },
            "Review date": {
                "id": "rv",
                "type": "date",
                "date": {"start": page.review, "end": None, "time_zone": None}
                if page.review
                else None,
            },
            "Owner": {
                "id": "ow",
                "type": "people",
                # Notion's people property carries partial users: an id, sometimes a name.
                "people": [{"object": "user", "id": page.owner}] if page.owner else [],
            },
        }
        parent = (
            {"type": "page_id", "page_id": page.parent}
            if page.parent
            else {"type": "workspace", "workspace": True}
        )
        slug = page.title.replace(" ", "-")
        return {
            "object": "page",
            "id": page.id,
            "created_time": iso(T0),
            "last_edited_time": iso(page.edited),
            "created_by": {"object": "user", "id": page.creator},
            "last_edited_by": {"object": "user", "id": page.creator},
            "cover": None,
            "icon": None,
            "parent": parent,
            "archived": page.in_trash,
            "in_trash": page.in_trash,
            "properties": properties,
            "url": f"https://www.notion.so/{slug}-{page.id.replace('-', '')}",
            "public_url": None,
        }

    def _blocks_by_id(self) -> dict[str, list[dict[str, Any]]]:
        """Every parent's children, with ids given by position (stable while unedited)."""
        found: dict[str, list[dict[str, Any]]] = {}

        def walk(parent: str, blocks: list[dict[str, Any]]) -> None:
            served = []
            for n, raw in enumerate(blocks):
                ident = f"{parent}-b{n}"
                answer = {k: v for k, v in raw.items() if k != "children"}
                answer.update(
                    {
                        "object": "block",
                        "id": ident,
                        "has_children": bool(raw.get("children")),
                        "archived": False,
                        "in_trash": False,
                        "created_time": iso(T0),
                        "last_edited_time": iso(T0),
                    }
                )
                served.append(answer)
                walk(ident, raw.get("children") or [])
            found[parent] = served

        for page in self.pages.values():
            if page.shared and not page.in_trash:
                walk(page.id, page.blocks)
        return found

    def _listing(
        self, items: list[dict[str, Any]], cursor: str | None, size: int, kind: str
    ) -> dict[str, Any]:
        start = int(cursor or 0)
        size = min(size, self.max_page_size)
        window = items[start : start + size]
        more = start + size < len(items)
        return {
            "object": "list",
            "results": window,
            "next_cursor": str(start + size) if more else None,
            "has_more": more,
            "type": kind,
            kind: {},
            "request_id": "0f1c2d3e-0000-4000-8000-000000000001",
        }

    def answer(
        self, method: str, path: str, query: dict[str, str], body: Any, headers: dict[str, str]
    ) -> tuple[int, Any]:
        if headers.get("Authorization") != f"Bearer {self.token}":
            return self._error(401, "unauthorized", "API token is invalid.")
        if headers.get("Notion-Version") != "2022-06-28":
            return self._error(400, "missing_version", "Notion-Version header failed validation.")
        if method == "POST" and path == "/v1/search":
            visible = [p for p in self.pages.values() if p.shared]
            newest = sorted(visible, key=lambda p: (p.edited, p.id), reverse=True)
            items = [self._page(p) for p in newest]
            return 200, self._listing(
                items, body.get("start_cursor"), int(body.get("page_size", 100)), "page_or_database"
            )
        if method == "GET" and (match := re.fullmatch(r"/v1/blocks/([^/]+)/children", path)):
            children = self._blocks_by_id().get(match.group(1))
            if children is None:
                return self._error(404, "object_not_found", "Could not find block.")
            return 200, self._listing(
                children, query.get("start_cursor"), int(query.get("page_size", 100)), "block"
            )
        if method == "GET" and (match := re.fullmatch(r"/v1/users/([^/]+)", path)):
            if not self.users_readable:
                return self._error(403, "restricted_resource", "Insufficient permissions.")
            if match.group(1) not in self.users:
                return self._error(404, "object_not_found", "Could not find user.")
            return 200, self._user(match.group(1))
        return self._error(400, "invalid_request_url", "Invalid request URL.")


def notion_workspace(pages: int = 8) -> FakeNotion:
    """A home page and `pages` pages under it; the first owned by Dev with a review date."""
    site = FakeNotion()
    site.add_page(
        NotionPage(
            "a0000000-0000-4000-8000-000000000000",
            "Product home",
            notion_blocks("the roadmap", "Start here."),
        )
    )
    for n in range(pages):
        site.add_page(
            NotionPage(
                f"a0000000-0000-4000-8000-{n + 1:012d}",
                f"Spec {n}",
                notion_blocks(f"feature {n}", f"Spec number {n} covers feature {n}."),
                parent="a0000000-0000-4000-8000-000000000000",
                edited=T0 + timedelta(minutes=n),
                owner="u-dev" if n == 0 else None,
                review="2027-02-28" if n == 0 else None,
                tags=["spec"],
            )
        )
    return site


# -- Google Drive -----------------------------------------------------------------------------

DOC = "application/vnd.google-apps.document"
FOLDER = "application/vnd.google-apps.folder"


def _rsa_key() -> tuple[str, Any]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem, private.public_key()


@dataclass
class DriveFile:
    id: str
    name: str
    mime_type: str
    parent: str
    content: bytes = b""
    version: int = 1
    modified: datetime = T0
    owner: str = "ana@acme.test"
    permissions: list[dict[str, Any]] = field(default_factory=list)
    trashed: bool = False


def grant(
    kind: str, who: str = "", role: str = "reader", discoverable: bool = False
) -> dict[str, Any]:
    """A Drive permission resource."""
    found: dict[str, Any] = {
        "kind": "drive#permission",
        "id": f"p-{kind}-{who}",
        "type": kind,
        "role": role,
    }
    if kind in ("user", "group"):
        found["emailAddress"] = who
    elif kind == "domain":
        found["domain"] = who
        found["allowFileDiscovery"] = discoverable
    elif kind == "anyone":
        found["allowFileDiscovery"] = discoverable
    return found


class FakeDrive(FakeApi):
    """Drive API v3 (files, export, permissions, changes) and an OAuth token endpoint that
    checks a service account's signed JWT."""

    def __init__(self) -> None:
        self.private_key, self.public_key = _rsa_key()
        self.files: dict[str, DriveFile] = {}
        self.shared_drive_folders: set[str] = set()  # listings there carry no permissions
        self.tokens: set[str] = set()
        self.issued = 0
        self.key_revoked = False
        self.changelog: list[str] = []
        self.max_page_size = 100
        super().__init__()
        self.url = self.origin
        self.token_uri = self.origin + "/token"

    def service_account_key(self) -> dict[str, Any]:
        return {
            "type": "service_account",
            "project_id": "acme-kb",
            "private_key_id": "k1",
            "private_key": self.private_key,
            "client_email": "steward@acme-kb.iam.gserviceaccount.com",
            "client_id": "1234567890",
            "token_uri": self.token_uri,
        }

    def add(self, file: DriveFile) -> DriveFile:
        self.files[file.id] = file
        self.changelog.append(file.id)
        return file

    def change(self, ident: str, content: bytes | None = None, **changes: Any) -> None:
        """An edit (a new version) or a change of name, parent, permissions or trash."""
        file = self.files[ident]
        if content is not None:
            file.content = content
        for name, value in changes.items():
            setattr(file, name, value)
        file.version += 1
        file.modified = file.modified + timedelta(hours=1)
        self.changelog.append(ident)

    def delete(self, ident: str) -> None:
        del self.files[ident]
        self.changelog.append(ident)

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def _resource(self, file: DriveFile, with_permissions: bool) -> dict[str, Any]:
        found: dict[str, Any] = {
            "kind": "drive#file",
            "id": file.id,
            "name": file.name,
            "mimeType": file.mime_type,
            "parents": [file.parent],
            "trashed": file.trashed,
            "modifiedTime": iso(file.modified),
            "version": str(file.version),
            "webViewLink": (
                f"https://docs.google.com/document/d/{file.id}/edit"
                if file.mime_type == DOC
                else f"https://drive.google.com/file/d/{file.id}/view"
            ),
            "owners": [
                {"kind": "drive#user", "emailAddress": file.owner, "displayName": file.owner}
            ],
            "lastModifyingUser": {"kind": "drive#user", "emailAddress": file.owner},
        }
        if file.mime_type not in (DOC, FOLDER):
            found["size"] = str(len(file.content))
        if with_permissions:
            found["permissions"] = file.permissions
        return found

    def _in_shared_drive(self, file: DriveFile) -> bool:
        parent: str | None = file.parent
        while parent:
            if parent in self.shared_drive_folders:
                return True
            parent = self.files[parent].parent if parent in self.files else None
        return False

    def _token(self, body: dict[str, str]) -> tuple[int, Any]:
        import jwt

        if self.key_revoked:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        try:
            claims = jwt.decode(
                body.get("assertion", ""),
                self.public_key,
                algorithms=["RS256"],
                audience=self.token_uri,
            )
        except jwt.PyJWTError:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        if body.get(
            "grant_type"
        ) != "urn:ietf:params:oauth:grant-type:jwt-bearer" or "drive" not in claims.get(
            "scope", ""
        ):
            return 400, {"error": "invalid_request"}
        self.issued += 1
        token = f"ya29.fake-{self.issued}"
        self.tokens.add(token)
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def _window(
        self, items: list[Any], token: str | None, size: int
    ) -> tuple[list[Any], str | None]:
        start = int(token or 0)
        size = min(size, self.max_page_size)
        following = str(start + size) if start + size < len(items) else None
        return items[start : start + size], following

    def answer(
        self, method: str, path: str, query: dict[str, str], body: Any, headers: dict[str, str]
    ) -> tuple[int, Any]:
        if method == "POST" and path == "/token":
            return self._token(body)
        if headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens:
            return 401, {
                "error": {
                    "code": 401,
                    "message": "Request had invalid authentication credentials.",
                    "status": "UNAUTHENTICATED",
                }
            }
        missing = (
            404,
            {"error": {"code": 404, "message": "File not found.", "status": "NOT_FOUND"}},
        )
        if path == "/drive/v3/changes/startPageToken":
            return 200, {"kind": "drive#startPageToken", "startPageToken": str(len(self.changelog))}
        if path == "/drive/v3/changes":
            start = int(query["pageToken"])
            ids = self.changelog[start:]
            window, following = self._window(ids, "0", int(query.get("pageSize", 100)))
            changes = []
            for ident in window:
                file = self.files.get(ident)
                entry: dict[str, Any] = {
                    "kind": "drive#change",
                    "changeType": "file",
                    "fileId": ident,
                    "removed": file is None,
                    "time": iso(T0),
                }
                if file is not None:
                    entry["file"] = self._resource(file, not self._in_shared_drive(file))
                changes.append(entry)
            answer: dict[str, Any] = {"kind": "drive#changeList", "changes": changes}
            if following is None:
                answer["newStartPageToken"] = str(len(self.changelog))
            else:
                answer["nextPageToken"] = str(start + int(following))
            return 200, answer
        if path == "/drive/v3/files":
            parent = re.search(r"'([^']+)' in parents", query.get("q", ""))
            children = sorted(
                (
                    f
                    for f in self.files.values()
                    if parent and f.parent == parent.group(1) and not f.trashed
                ),
                key=lambda f: f.id,
            )
            window, following = self._window(
                children, query.get("pageToken"), int(query.get("pageSize", 100))
            )
            answer = {
                "kind": "drive#fileList",
                "incompleteSearch": False,
                "files": [self._resource(f, not self._in_shared_drive(f)) for f in window],
            }
            if following:
                answer["nextPageToken"] = following
            return 200, answer
        if match := re.fullmatch(r"/drive/v3/files/([^/]+)/permissions", path):
            file = self.files.get(match.group(1))
            if file is None:
                return missing
            window, following = self._window(
                file.permissions, query.get("pageToken"), int(query.get("pageSize", 100))
            )
            answer = {"kind": "drive#permissionList", "permissions": window}
            if following:
                answer["nextPageToken"] = following
            return 200, answer
        if match := re.fullmatch(r"/drive/v3/files/([^/]+)/export", path):
            file = self.files.get(match.group(1))
            if file is None or file.mime_type != DOC:
                return missing
            return 200, Raw(file.content, query.get("mimeType", "text/html"))
        if match := re.fullmatch(r"/drive/v3/files/([^/]+)", path):
            file = self.files.get(match.group(1))
            if file is None:
                return missing
            if query.get("alt") == "media":
                if file.mime_type in (DOC, FOLDER):
                    return 403, {
                        "error": {
                            "code": 403,
                            "message": "Only files with binary content can be downloaded. "
                            "Use Export with Docs Editors files.",
                            "status": "PERMISSION_DENIED",
                        }
                    }
                return 200, Raw(file.content, file.mime_type)
            return 200, {"kind": "drive#file", "id": file.id, "name": file.name}
        return 404, {"error": {"code": 404, "message": "Not found", "status": "NOT_FOUND"}}


def doc_html(title: str, topic: str, detail: str) -> bytes:
    """A Google Doc as Drive exports it to HTML: styled paragraphs, headings, a list, a table."""
    return (
        f'<html><head><meta content="text/html; charset=UTF-8" http-equiv="content-type">'
        f'<style>.c1{{font-weight:700}}</style></head><body class="c2 doc-content">'
        f'<h1 class="c3"><span>{title}</span></h1>'
        f'<p class="c1"><span>This document explains {topic} for the whole company. '
        f"{detail}</span></p>"
        '<h2><span>Steps</span></h2><ul class="lst-kix_1-0">'
        f"<li><span>Open the {topic} form.</span></li>"
        "<li><span>Ask your manager to approve it.</span></li></ul>"
        f"<table><tr><td><p><span>Item</span></p></td><td><p><span>Limit</span></p></td></tr>"
        f"<tr><td><p><span>{topic} per month</span></p></td>"
        "<td><p><span>3</span></p></td></tr></table>"
        "</body></html>"
    ).encode()


def drive_site(documents: int = 6) -> FakeDrive:
    """Folder root "Policies" with Google Docs, a Markdown file, a sub-folder "HR" in a shared
    drive (its listings carry no permissions), an image (not read), and a trashed doc."""
    site = FakeDrive()
    site.add(DriveFile("root", "Policies", FOLDER, "my-drive"))
    everyone = [grant("user", "ana@acme.test", "owner"), grant("domain", "acme.test")]
    for n in range(documents):
        site.add(
            DriveFile(
                f"doc{n:02d}",
                f"Policy {n}",
                DOC,
                "root",
                doc_html(f"Policy {n}", f"policy {n}", f"Policy number {n} covers area {n}."),
                permissions=list(everyone),
            )
        )
    site.add(
        DriveFile(
            "notes.md",
            "notes.md",
            "text/markdown",
            "root",
            b"# Travel notes\n\nTrains are booked through the travel desk.\n",
            permissions=[
                grant("user", "ana@acme.test", "owner"),
                grant("anyone", discoverable=False),
            ],
        )
    )
    site.add(DriveFile("logo", "logo.png", "image/png", "root", b"\x89PNG"))
    site.add(DriveFile("hr", "HR", FOLDER, "root"))
    site.shared_drive_folders.add("hr")
    site.add(
        DriveFile(
            "salary",
            "Salary bands",
            DOC,
            "hr",
            doc_html("Salary bands", "salary bands", "Bands are reviewed every spring."),
            permissions=[
                grant("group", "finance@acme.test"),
                grant("user", "cleo@acme.test", "writer"),
            ],
        )
    )
    site.add(
        DriveFile("old", "Old policy", DOC, "root", doc_html("Old", "old", "Gone."), trashed=True)
    )
    return site


# -- SharePoint / OneDrive (Microsoft Graph) ----------------------------------------------------

DRIVE_ID = "b!x7Wd3k2Lx0S9mDqkp2W4ZQ"


@dataclass
class GraphItem:
    id: str
    name: str
    parent_path: str  # "/Policies", "" for the root's children
    content: bytes = b""
    folder: bool = False
    version: int = 1
    modified: datetime = T0
    creator: str = "ana@acme.test"
    permissions: list[dict[str, Any]] = field(default_factory=list)


def graph_grant(kind: str, who: str = "", roles: tuple[str, ...] = ("read",)) -> dict[str, Any]:
    """A Graph permission: a user, a group, a site group, or a sharing link's scope."""
    found: dict[str, Any] = {"id": f"p-{kind}-{who}", "roles": list(roles)}
    if kind == "user":
        found["grantedToV2"] = {"user": {"email": who, "displayName": who, "id": f"u-{who}"}}
    elif kind == "group":
        found["grantedToV2"] = {"group": {"email": who, "displayName": who, "id": f"g-{who}"}}
    elif kind == "siteGroup":
        found["grantedToV2"] = {"siteGroup": {"displayName": who, "id": "3"}}
    else:  # a link: anonymous, organization or users
        found["link"] = {
            "scope": kind,
            "type": "view",
            "webUrl": "https://acme.sharepoint.com/:w:/s/x",
        }
        found["grantedToIdentitiesV2"] = []
    return found


class FakeGraph(FakeApi):
    """Microsoft Graph v1.0 (drive delta, item permissions, downloads) and the identity
    platform's token endpoint (client credentials)."""

    def __init__(self, tenant: str = "acme.onmicrosoft.com") -> None:
        self.tenant = tenant
        self.client_id = "11111111-2222-3333-4444-555555555555"
        self.secret = "s3cr3t~value"
        self.items: dict[str, GraphItem] = {}
        self.changelog: list[str] = []
        self.tokens: set[str] = set()
        self.issued = 0
        self.max_page_size = 200
        self.downloads_with_authorization = 0
        super().__init__()
        self.url = self.origin

    def add(self, item: GraphItem) -> GraphItem:
        self.items[item.id] = item
        self.changelog.append(item.id)
        return item

    def change(self, ident: str, content: bytes | None = None, **changes: Any) -> None:
        item = self.items[ident]
        if content is not None:
            item.content = content
        for name, value in changes.items():
            setattr(item, name, value)
        item.version += 1
        item.modified = item.modified + timedelta(hours=1)
        self.changelog.append(ident)

    def delete(self, ident: str) -> None:
        del self.items[ident]
        self.changelog.append(ident)

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def _resource(self, item: GraphItem) -> dict[str, Any]:
        path = f"/drive/root:{item.parent_path}"
        found: dict[str, Any] = {
            "id": item.id,
            "name": item.name,
            "webUrl": f"https://acme.sharepoint.com/sites/kb/Shared%20Documents{item.parent_path}/{quote(item.name)}",
            "eTag": f'"{{{item.id}}},{item.version}"',
            "cTag": f'"c:{{{item.id}}},{item.version}"',
            "lastModifiedDateTime": iso(item.modified),
            "createdDateTime": iso(T0),
            "createdBy": {"user": {"email": item.creator, "displayName": item.creator}},
            "lastModifiedBy": {"user": {"email": item.creator, "displayName": item.creator}},
            "parentReference": {"driveType": "documentLibrary", "driveId": DRIVE_ID, "path": path},
        }
        if item.folder:
            found["folder"] = {"childCount": 0}
        else:
            found["size"] = len(item.content)
            found["file"] = {"mimeType": "application/octet-stream", "hashes": {}}
            found["@microsoft.graph.downloadUrl"] = (
                f"{self.origin}/download/{item.id}?tempauth=v1.abc"
            )
        return found

    def _page(self, items: list[Any], skip: int, link: str, last: dict[str, Any]) -> dict[str, Any]:
        window = items[skip : skip + self.max_page_size]
        answer: dict[str, Any] = {
            "@odata.context": f"{self.url}/v1.0/$metadata#Collection(driveItem)",
            "value": window,
        }
        if skip + self.max_page_size < len(items):
            answer["@odata.nextLink"] = (
                f"{link}{'&' if '?' in link else '?'}$skiptoken={skip + self.max_page_size}"
            )
        else:
            answer.update(last)
        return answer

    def answer(
        self, method: str, path: str, query: dict[str, str], body: Any, headers: dict[str, str]
    ) -> tuple[int, Any]:
        if method == "POST" and path == f"/{self.tenant}/oauth2/v2.0/token":
            if (body.get("client_id"), body.get("client_secret")) != (self.client_id, self.secret):
                return 401, {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.",
                }
            self.issued += 1
            token = f"eyJ0eXAi.fake-{self.issued}"
            self.tokens.add(token)
            return 200, {
                "token_type": "Bearer",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": token,
            }
        if path.startswith("/download/"):
            if headers.get("Authorization"):
                self.downloads_with_authorization += 1
            item = self.items.get(path.removeprefix("/download/"))
            if item is None:
                return 404, {
                    "error": {"code": "itemNotFound", "message": "The resource could not be found."}
                }
            return 200, Raw(item.content, "application/octet-stream")
        if headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens:
            return 401, {
                "error": {
                    "code": "InvalidAuthenticationToken",
                    "message": "Access token has expired or is not yet valid.",
                }
            }
        skip = int(query.get("$skiptoken", 0))
        if path == f"/v1.0/drives/{DRIVE_ID}/root/delta":
            start = int(query.get("token", 0))
            link = f"{self.url}/v1.0/drives/{DRIVE_ID}/root/delta" + (
                f"?token={start}" if start else ""
            )
            if start:
                ids = list(dict.fromkeys(self.changelog[start:]))
                values = [
                    self._resource(self.items[i])
                    if i in self.items
                    else {"id": i, "deleted": {"state": "deleted"}}
                    for i in ids
                ]
            else:
                root = {
                    "id": "root",
                    "name": "root",
                    "root": {},
                    "folder": {"childCount": len(self.items)},
                }
                values = [root] + [
                    self._resource(i) for i in sorted(self.items.values(), key=lambda i: i.id)
                ]
            following = f"{self.url}/v1.0/drives/{DRIVE_ID}/root/delta?token={len(self.changelog)}"
            delta = {"@odata.deltaLink": following}
            return 200, self._page(values, skip, link, delta)
        if match := re.fullmatch(
            rf"/v1.0/drives/{re.escape(DRIVE_ID)}/items/([^/]+)/permissions", path
        ):
            item = self.items.get(match.group(1))
            if item is None:
                return 404, {"error": {"code": "itemNotFound", "message": "Item not found"}}
            return 200, {"value": item.permissions}
        return 404, {"error": {"code": "itemNotFound", "message": "Not found"}}


def graph_site(documents: int = 6) -> FakeGraph:
    """A library with a "Policies" folder of Markdown and text files, an "HR" folder holding a
    restricted file, and an image that is not read."""
    site = FakeGraph()
    site.add(GraphItem("f-pol", "Policies", "", folder=True))
    members = [
        graph_grant("siteGroup", "KB Members", ("write",)),
        graph_grant("user", "ana@acme.test", ("owner",)),
    ]
    for n in range(documents):
        site.add(
            GraphItem(
                f"i{n:02d}",
                f"Policy {n}.md",
                "/Policies",
                f"# Policy {n}\n\nThis policy explains area {n} for the whole company.\n\n"
                f"## Steps\n\n- Open the area {n} form.\n"
                "- Ask your manager to approve it.\n".encode(),
                permissions=list(members),
            )
        )
    site.add(GraphItem("f-hr", "HR", "", folder=True))
    site.add(
        GraphItem(
            "salary",
            "Salary bands.txt",
            "/HR",
            b"Salary bands are reviewed every spring.\n",
            permissions=[graph_grant("group", "finance@acme.test"), graph_grant("organization")],
        )
    )
    site.add(GraphItem("logo", "logo.png", "/Policies", b"\x89PNG", permissions=list(members)))
    return site
