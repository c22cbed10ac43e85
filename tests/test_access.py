"""Access control over a real server: API keys, roles per route, and document-level access.

The knowledge base holds a restricted source (`acl: [secret-team]`) with a merger plan, and a
public one; the issue's reproduction is that nobody outside secret-team may find the plan.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from app.hygiene import scan_hygiene
from app.runtime import Runtime, open_runtime
from app.sources import FilesystemSource, build_connector
from client import HttpClient
from client.errors import AuthenticationError, NotFoundError, PermissionDeniedError
from ingest.pipeline import document_id
from steward.access import LOCAL_ADMIN, KeyRing, Role, digest, within
from steward.errors import ConfigError, ForbiddenError
from steward.settings import AccessSettings, KeyEntry, load_settings

KEYS = {
    "secret-reader": "secret-reader-key-0001",
    "other-reader": "other-reader-key-00001",
    "owner": "owner-key-000000000001",
    "revoked": "revoked-key-0000000001",
}
ADMIN_KEY = "admin-key-000000000001"  # declared in the keys file, as its digest only
QUERY = "Falcon acquisition layoffs"
PARKING = (
    "Parking permits are renewed each January at the front desk. Bring the old permit and "
    "your badge; visitors park on level two and register at reception before noon."
)

# Every route and the least role it needs (None: open). A route added without a line here
# fails test_every_route_has_a_role.
ROLES: dict[tuple[str, str], Role | None] = {
    ("GET", "/health"): None,
    ("GET", "/health/live"): None,
    ("GET", "/health/ready"): None,
    ("GET", "/metrics"): Role.READER,
    ("POST", "/retrieve"): Role.READER,
    ("GET", "/documents/{doc_id}"): Role.READER,
    ("GET", "/hygiene/duplicates"): Role.READER,
    ("GET", "/hygiene/stale"): Role.READER,
    ("GET", "/hygiene/conflicts"): Role.READER,
    ("GET", "/hygiene/scans/last"): Role.READER,
    ("GET", "/hygiene/audit"): Role.READER,
    ("POST", "/hygiene/scan"): Role.OWNER,
    ("POST", "/documents/{doc_id}/verify"): Role.OWNER,
    ("POST", "/documents/{doc_id}/deprecate"): Role.OWNER,
    ("POST", "/hygiene/not-duplicate"): Role.OWNER,
    ("POST", "/hygiene/conflicts/{conflict_id}/resolve"): Role.OWNER,
    ("GET", "/eval/golden-sets"): Role.READER,
    ("POST", "/eval/golden-sets"): Role.ADMIN,
    ("POST", "/eval/runs"): Role.OWNER,
    ("GET", "/eval/runs"): Role.READER,
    ("GET", "/eval/runs/{run_id}"): Role.READER,
    ("GET", "/eval/compare"): Role.READER,
    ("POST", "/eval/runs/{run_id}/accept"): Role.ADMIN,
    ("GET", "/eval/regressions"): Role.READER,
    ("POST", "/feedback"): Role.READER,
    ("GET", "/feedback/summary"): Role.READER,
    ("POST", "/eval/probes"): Role.OWNER,
    ("GET", "/sources"): Role.ADMIN,
}
CALLER_ROLES = {
    "secret-reader": Role.READER,
    "other-reader": Role.READER,
    "owner": Role.OWNER,
    "admin": Role.ADMIN,
}


def access_settings(root: Path) -> AccessSettings:
    keys_file = root / "keys.yaml"
    keys_file.write_text(
        f"keys:\n  - name: admin\n    role: admin\n    sha256: {digest(ADMIN_KEY)}\n",
        encoding="utf-8",
    )
    return AccessSettings(
        keys_file=keys_file,
        keys=[
            KeyEntry(
                name="secret-reader",
                role="reader",
                groups=["secret-team"],
                key=KEYS["secret-reader"],
            ),
            KeyEntry(
                name="other-reader", role="reader", groups=["staff"], key=KEYS["other-reader"]
            ),
            KeyEntry(name="owner", role="owner", groups=["staff"], key=KEYS["owner"]),
            KeyEntry(name="revoked", role="admin", key=KEYS["revoked"], revoked=True),
        ],
    )


@pytest.fixture(scope="module")
def kb(
    tmp_path_factory: pytest.TempPathFactory, embedder: Any, make_settings: Any, write: Any
) -> Iterator[Runtime]:
    root = tmp_path_factory.mktemp("access")
    secret, public = root / "secret", root / "public"
    write.markdown(
        secret / "merger-plan.md",
        "# Merger plan\n\nThe Falcon acquisition closes in March. After it, layoffs of forty "
        "roles in support follow; the acquisition is not to be announced before then.\n",
    )
    # Front matter asking to be public: the source's acl is a ceiling, so it stays restricted.
    write.markdown(
        secret / "town-hall.md",
        "# Town hall\n\nThe town hall in April presents the new office floor plan.\n",
        acl=[],
    )
    topics = [
        ("falcons", "Peregrine falcons nest on the office roof every spring."),
        ("acquisitions", "Procurement handles every acquisition of new laptops and phones."),
        ("vpn", "Connect to the VPN with the WireGuard client before opening internal sites."),
        ("printer", "The office printer floor3-laser takes toner from the supply room."),
        ("coffee", "Descale the coffee machine every Friday with the blue tablets."),
        ("parking", PARKING),
    ]
    for name, text in topics:
        write.markdown(public / f"{name}.md", f"# {name.title()}\n\n{text}\n")
    # A copy of a public page in the restricted source: a duplicate cluster across the two.
    write.markdown(secret / "parking-copy.md", f"# Parking\n\n{PARKING}\n")
    live = open_runtime(make_settings(root, auth=access_settings(root)), embedder=embedder)
    configs = {
        "secret": FilesystemSource(connector="filesystem", path=secret, acl=["secret-team"]),
        "public": FilesystemSource(connector="filesystem", path=public),
    }
    for name, config in configs.items():
        summary = live.pipeline.run(build_connector(name, config, root / "home"))
        assert summary.status == "ok" and summary.skipped == [], summary
    scan_hygiene(live)
    yield live
    live.close()


@pytest.fixture(scope="module")
def base_url(kb: Runtime, serve_app: Any) -> Iterator[str]:
    with serve_app(create_app(kb.settings, kb)) as url:
        yield url


@pytest.fixture(scope="module")
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=60) as client:
        yield client


def bearer(name: str) -> dict[str, str]:
    key = ADMIN_KEY if name == "admin" else KEYS[name]
    return {"Authorization": f"Bearer {key}"}


MERGER = document_id("secret", "merger-plan.md")
PARKING_COPY = document_id("secret", "parking-copy.md")
TOWN_HALL = document_id("secret", "town-hall.md")


# -- every route has a role ----------------------------------------------------------------


def test_every_route_has_a_role(kb: Runtime) -> None:
    # Read from the OpenAPI schema: FastAPI includes routers lazily, app.routes hides them.
    paths = create_app(kb.settings, kb).openapi()["paths"]
    served = {(method.upper(), path) for path, methods in paths.items() for method in methods}
    assert served == set(ROLES)


def _request(http: httpx.Client, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    url = path.replace("{doc_id}", "no-such-doc").replace("{conflict_id}", "zz")
    url = url.replace("{run_id}", "999999")
    params = {"a": 1, "b": 2} if path == "/eval/compare" else None
    # Bodies that fail validation, so that a caller who may act does no lasting work: its
    # answer is 422 (or 404 for an id that does not exist) rather than the action.
    body = {"size": 0} if path == "/eval/probes" else {"unknown-field": True}
    if path == "/hygiene/scan":
        body = {}
    if method == "GET":
        return http.get(url, params=params, headers=headers)
    return http.post(url, params=params, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path"), list(ROLES))
def test_each_route_answers_each_caller_by_its_role(
    http: httpx.Client, method: str, path: str
) -> None:
    needed = ROLES[(method, path)]
    strangers = {
        "no key": {},
        "unknown key": {"Authorization": "Bearer not-a-key-of-this-server"},
        "revoked key": bearer("revoked"),
        "not a bearer": {"Authorization": f"Basic {KEYS['owner']}"},
    }
    for label, headers in strangers.items():
        answer = _request(http, method, path, headers)
        if needed is None:
            assert answer.status_code == 200, (label, answer.text)
        else:
            assert answer.status_code == 401, (label, answer.text)
            assert answer.headers["www-authenticate"].startswith("Bearer"), label
    for name, role in CALLER_ROLES.items():
        answer = _request(http, method, path, bearer(name))
        if needed is not None and role < needed:
            assert answer.status_code == 403, (name, answer.text)
            assert f"needs the {needed.name.lower()} role" in answer.json()["detail"]
        else:
            assert answer.status_code not in (401, 403), (name, answer.text)
            assert answer.status_code < 500, (name, answer.text)


# -- the reproduction --------------------------------------------------------------


def retrieve(http: httpx.Client, caller: str, **body: Any) -> list[dict[str, Any]]:
    answer = http.post("/retrieve", json={"query": QUERY, **body}, headers=bearer(caller))
    assert answer.status_code == 200, answer.text
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


def test_a_reader_outside_the_group_never_finds_the_restricted_page(http: httpx.Client) -> None:
    assert http.post("/retrieve", json={"query": QUERY}).status_code == 401
    for mode in ("hybrid", "dense"):
        results = retrieve(http, "other-reader", top_k=5, mode=mode)
        # Filtered inside the index query: the places go to readable pages, top_k stays full.
        assert len(results) == 5, mode
        assert {r["source"] for r in results} == {"public"}, mode
    # BM25 finds the two public pages holding the query's words, and only them.
    results = retrieve(http, "other-reader", top_k=5, mode="sparse")
    assert {r["source_uri"] for r in results} == {"falcons.md", "acquisitions.md"}


def test_a_reader_of_the_group_finds_the_restricted_page_first(http: httpx.Client) -> None:
    results = retrieve(http, "secret-reader", top_k=5)
    assert results[0]["doc_id"] == MERGER
    assert results[0]["source_uri"].endswith("merger-plan.md")


def test_an_admin_reads_every_document(http: httpx.Client) -> None:
    assert retrieve(http, "admin", top_k=5)[0]["doc_id"] == MERGER
    answer = http.get(f"/documents/{MERGER}", headers=bearer("admin"))
    assert answer.status_code == 200
    assert answer.json()["acl"] == ["secret-team"]


def test_an_unreadable_document_answers_as_a_missing_one(http: httpx.Client) -> None:
    hidden = http.get(f"/documents/{MERGER}", headers=bearer("other-reader"))
    missing = http.get("/documents/no-such-doc", headers=bearer("other-reader"))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"] == f"document {MERGER!r} not found"
    readable = http.get(f"/documents/{MERGER}", headers=bearer("secret-reader"))
    assert readable.status_code == 200
    assert "layoffs" in " ".join(c["text"] for c in readable.json()["chunks"])


def test_front_matter_cannot_make_a_page_of_a_restricted_source_public(
    http: httpx.Client,
) -> None:
    """town-hall.md says `acl: []`; its source says secret-team, and the source wins."""
    answer = http.get(f"/documents/{TOWN_HALL}", headers=bearer("admin"))
    assert answer.json()["acl"] == ["secret-team"]
    assert http.get(f"/documents/{TOWN_HALL}", headers=bearer("other-reader")).status_code == 404
    results = retrieve(http, "other-reader", query="town hall office floor plan", top_k=8)
    assert TOWN_HALL not in {r["doc_id"] for r in results}


def test_an_action_is_recorded_under_the_keys_name_not_the_bodys(http: httpx.Client) -> None:
    public = document_id("public", "vpn.md")
    answer = http.post(
        f"/documents/{public}/verify",
        json={"actor": "someone-else@example.com", "note": "checked"},
        headers=bearer("owner"),
    )
    assert answer.status_code == 204, answer.text
    audit = http.get("/hygiene/audit", headers=bearer("owner")).json()["items"]
    assert (audit[0]["actor"], audit[0]["action"], audit[0]["subject"]) == (
        "owner",
        "verify",
        public,
    )


def test_health_is_open_and_says_access_control_is_on(http: httpx.Client) -> None:
    answer = http.get("/health")
    assert answer.status_code == 200
    assert answer.json()["access_control"] == "on"


def listed(http: httpx.Client, caller: str, path: str) -> str:
    answer = http.get(path, headers=bearer(caller))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["items"])


def test_hygiene_listings_show_nothing_of_an_unreadable_document(http: httpx.Client) -> None:
    # The copy of the parking page is found by the scan; only secret-team may see it.
    assert PARKING_COPY in listed(http, "admin", "/hygiene/duplicates")
    assert PARKING_COPY in listed(http, "secret-reader", "/hygiene/duplicates")
    assert PARKING_COPY not in listed(http, "other-reader", "/hygiene/duplicates")
    deprecated = http.post(f"/documents/{TOWN_HALL}/deprecate", json={}, headers=bearer("admin"))
    assert deprecated.status_code == 204
    assert http.post("/hygiene/scan", headers=bearer("owner")).status_code == 200
    assert TOWN_HALL in listed(http, "secret-reader", "/hygiene/stale")
    assert TOWN_HALL not in listed(http, "other-reader", "/hygiene/stale")
    # The audit line of the deprecation names the document too.
    assert TOWN_HALL in listed(http, "secret-reader", "/hygiene/audit")
    assert TOWN_HALL not in listed(http, "other-reader", "/hygiene/audit")


def test_feedback_summary_does_not_name_an_unreadable_document(http: httpx.Client) -> None:
    for _ in range(3):
        answer = http.post("/retrieve", json={"query": QUERY}, headers=bearer("secret-reader"))
        top = answer.json()["results"][0]
        assert top["doc_id"] == MERGER
        judged = http.post(
            "/feedback",
            json={
                "query_id": answer.json()["query_id"],
                "chunk_id": top["chunk_id"],
                "relevant": False,
            },
            headers=bearer("secret-reader"),
        )
        assert judged.status_code == 201, judged.text

    def disliked(caller: str) -> set[str]:
        summary = http.get("/feedback/summary", headers=bearer(caller)).json()
        return {d["doc_id"] for d in summary["disliked_documents"]}

    assert MERGER in disliked("secret-reader")
    assert MERGER not in disliked("other-reader")


def test_a_readable_answer_does_not_name_an_unreadable_copy(http: httpx.Client) -> None:
    """The public parking page and its restricted copy are one cluster; only one side sees both."""
    parking = document_id("public", "parking.md")
    query = {"query": "parking permits renewed at the front desk", "top_k": 3}
    for caller, sees in (("admin", True), ("secret-reader", True), ("other-reader", False)):
        answer = http.post("/retrieve", json=query, headers=bearer(caller))
        assert answer.status_code == 200
        assert (PARKING_COPY in answer.text) is sees, caller
        document = http.get(f"/documents/{parking}", headers=bearer(caller))
        assert document.status_code == 200
        assert (PARKING_COPY in str(document.json()["hygiene"])) is sees, caller


# -- the Python client ---------------------------------------------------------------------


def test_the_clients_api_key_works_end_to_end(base_url: str) -> None:
    with HttpClient(base_url, api_key=KEYS["secret-reader"]) as client:
        assert client.retrieve(QUERY, top_k=3).results[0].doc_id == MERGER
        assert client.document(MERGER).acl == ["secret-team"]
        with pytest.raises(PermissionDeniedError):
            client.verify(MERGER, actor="secret-reader")
    with HttpClient(base_url, api_key=KEYS["other-reader"]) as client, pytest.raises(NotFoundError):
        client.document(MERGER)
    with HttpClient(base_url) as client, pytest.raises(AuthenticationError):
        client.retrieve(QUERY)


# -- access control off --------------------------------------------------------------------


def test_without_keys_every_caller_is_a_local_admin(live_server: str) -> None:
    health = httpx.get(f"{live_server}/health").json()
    assert health["access_control"] == "off"
    assert httpx.get(f"{live_server}/sources").status_code != 401
    assert KeyRing([]).resolve(None) is LOCAL_ADMIN
    assert LOCAL_ADMIN.actor("ana@example.com") == "ana@example.com"


# -- settings, keys and the bind guard -------------------------------------------------------


def test_keys_are_kept_as_digests_and_never_shown(tmp_path: Path) -> None:
    settings = access_settings(tmp_path)
    shown = repr(settings) + str(settings.model_dump())
    assert all(key not in shown for key in KEYS.values())
    ring = settings.key_ring()
    assert ring.resolve(KEYS["secret-reader"]).groups == frozenset({"secret-team"})
    assert ring.resolve(ADMIN_KEY).role is Role.ADMIN
    with pytest.raises(ForbiddenError):
        ring.resolve(KEYS["other-reader"]).require(Role.OWNER)


def test_a_bad_keys_file_or_key_fails_at_start_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEWARD_AUTH_KEYS_FILE", str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="STEWARD_AUTH_KEYS_FILE"):
        load_settings()
    monkeypatch.delenv("STEWARD_AUTH_KEYS_FILE")
    monkeypatch.setenv("STEWARD_AUTH_KEYS", '[{"name": "ci", "role": "owner", "key": "changeme"}]')
    with pytest.raises(ConfigError, match="STEWARD_AUTH_KEYS.*16 characters"):
        load_settings()


def test_serving_beyond_loopback_without_keys_needs_an_explicit_setting(tmp_path: Path) -> None:
    off = AccessSettings()
    for host in ("127.0.0.1", "localhost", "::1"):
        off.check_bind(host)
    with pytest.raises(ConfigError, match="STEWARD_AUTH_ALLOW_INSECURE_BIND"):
        off.check_bind("0.0.0.0")
    off.check_bind("0.0.0.0", insecure=True)
    AccessSettings(allow_insecure_bind=True).check_bind("0.0.0.0")
    access_settings(tmp_path).check_bind("0.0.0.0")


@pytest.mark.parametrize(
    ("ceiling", "asked", "kept"),
    [
        ([], None, []),
        ([], ["hr"], ["hr"]),
        (["secret-team"], None, ["secret-team"]),
        (["secret-team"], [], ["secret-team"]),
        (["secret-team", "board"], ["board"], ["board"]),
        (["secret-team"], ["everyone"], ["secret-team"]),
    ],
)
def test_a_sources_groups_are_a_ceiling(
    ceiling: list[str], asked: list[str] | None, kept: list[str]
) -> None:
    assert within(ceiling, asked) == kept
