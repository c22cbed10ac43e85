"""Access control over a real server: API keys, roles per route, and document-level access.

The knowledge base holds a restricted source (`acl: [secret-team]`) with a merger plan, and a
public one; the issue's reproduction is that nobody outside secret-team may find the plan.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from identity_provider import (
    AUDIENCE,
    FORGER,
    ISSUER,
    KID,
    PRIVATE,
    JwksServer,
    jwks,
    token,
    unsigned,
)

from api.app import create_app
from app.hygiene import scan_hygiene
from app.runtime import Runtime, open_runtime
from app.sources import FilesystemSource, build_connector
from client import HttpClient
from client.errors import AuthenticationError, NotFoundError, PermissionDeniedError, status_of
from ingest.pipeline import document_id
from steward.access import LOCAL_ADMIN, NO_READER, KeyRing, Role, digest, within
from steward.domain import utc_now
from steward.errors import ConfigError, ForbiddenError, KeySetError, UnauthenticatedError
from steward.settings import AccessSettings, KeyEntry, load_settings
from steward.stored_keys import StoredKeys
from steward.tokens import TokenRules, TokenVerifier, UrlKeySet

KEYS = {
    "secret-reader": "secret-reader-key-0001",
    "other-reader": "other-reader-key-00001",
    "owner": "owner-key-000000000001",
    "revoked": "revoked-key-0000000001",
    # Apps retrieving for end users: one whose ceiling holds secret-team, one that does not.
    "app": "app-key-00000000000001",
    "staff-app": "staff-app-key-00000001",
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
    ("GET", "/keys"): Role.ADMIN,
    ("POST", "/keys"): Role.ADMIN,
    ("POST", "/keys/{name}/revoke"): Role.ADMIN,
    ("POST", "/sources/{name}/sync"): Role.ADMIN,
    ("GET", "/sources/{name}/sync/{run_id}"): Role.ADMIN,
}
CALLER_ROLES = {
    "secret-reader": Role.READER,
    "other-reader": Role.READER,
    "app": Role.APP,
    "owner": Role.OWNER,
    "admin": Role.ADMIN,
    # Bearer JWTs from single sign-on, their role taken from the `steward_role` claim.
    "jwt-reader": Role.READER,
    "jwt-app": Role.APP,
    "jwt-owner": Role.OWNER,
    "jwt-admin": Role.ADMIN,
}

# -- single sign-on: the identity provider of tests/identity_provider.py ---------------------

JWT_CALLERS = {
    "jwt-reader": ("ana@example.com", None, ["secret-team"]),
    "jwt-app": ("portal", "app", ["*"]),
    "jwt-owner": ("olga@example.com", "owner", ["staff"]),
    "jwt-admin": ("root@example.com", "steward-admins", []),
}


def access_settings(root: Path) -> AccessSettings:
    keys_file = root / "keys.yaml"
    keys_file.write_text(
        f"keys:\n  - name: admin\n    role: admin\n    sha256: {digest(ADMIN_KEY)}\n"
        "users:\n  dana: [secret-team, staff]\n",
        encoding="utf-8",
    )
    jwks_file = root / "jwks.json"
    jwks_file.write_text(json.dumps(jwks(PRIVATE, KID)), encoding="utf-8")
    return AccessSettings(
        keys_file=keys_file,
        jwks_file=jwks_file,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_role_claim="steward_role",
        jwt_roles={"app": "app", "owner": "owner", "steward-admins": "admin"},
        users={"sam": ["staff"]},
        # This module sends dozens of bad credentials from one address on purpose (the role x
        # route matrix); the throttle of failures is tests/test_auth_failures.py's subject.
        max_failures=0,
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
            KeyEntry(name="app", role="app", groups=["secret-team", "staff"], key=KEYS["app"]),
            KeyEntry(name="staff-app", role="app", groups=["staff"], key=KEYS["staff-app"]),
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
def lapsed_key(kb: Runtime) -> str:
    """A stored admin key past its expiry (made with the shortest lifetime there is)."""
    key, _, expires_at = StoredKeys(kb.database).create(
        "lapsed", "admin", [], "test", expires_in="1s"
    )
    assert expires_at is not None
    time.sleep(max(0.0, (expires_at - utc_now()).total_seconds()) + 0.1)
    return key


@pytest.fixture(scope="module")
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=60) as client:
        yield client


def bearer(name: str) -> dict[str, str]:
    if name in JWT_CALLERS:
        sub, role, groups = JWT_CALLERS[name]
        return {"Authorization": f"Bearer {token(sub, role, groups)}"}
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
    url = url.replace("{run_id}", "999999").replace("{name}", "no-such-name")
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
    http: httpx.Client, lapsed_key: str, method: str, path: str
) -> None:
    needed = ROLES[(method, path)]
    strangers = {
        "no key": {},
        "unknown key": {"Authorization": "Bearer not-a-key-of-this-server"},
        "revoked key": bearer("revoked"),
        "expired key": {"Authorization": f"Bearer {lapsed_key}"},
        "not a bearer": {"Authorization": f"Basic {KEYS['owner']}"},
        "expired token": {
            "Authorization": f"Bearer {token('ana@example.com', 'owner', expires_in=-3600)}"
        },
        "forged token": {"Authorization": f"Bearer {token('mallory', 'owner', key=FORGER)}"},
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


# -- the issue's reproduction --------------------------------------------------------------


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


def test_an_owner_cannot_act_on_a_document_it_may_not_read(http: httpx.Client) -> None:
    """Verify, deprecate and not-duplicate on an unreadable page answer as for a missing one."""
    parking = document_id("public", "parking.md")
    attempts = [
        (f"/documents/{MERGER}/verify", {"note": "looks fine"}, MERGER),
        (f"/documents/{MERGER}/deprecate", {}, MERGER),
        ("/hygiene/not-duplicate", {"doc_a": parking, "doc_b": PARKING_COPY}, PARKING_COPY),
    ]
    for path, body, hidden in attempts:
        answer = http.post(path, json=body, headers=bearer("owner"))
        assert answer.status_code == 404, (path, answer.text)
        assert answer.json()["detail"] == f"document {hidden!r} not found", path
    audit = http.get("/hygiene/audit", params={"limit": 500}, headers=bearer("admin")).json()
    assert not [e for e in audit["items"] if MERGER in str(e) or PARKING_COPY in str(e)]
    # Nothing changed either: the plan is still served unflagged to its readers.
    (first, *_) = retrieve(http, "secret-reader", top_k=5)
    assert first["doc_id"] == MERGER and "deprecated" not in first["flags"]


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
        # Only groups outside the ceiling: nobody is surely in both, so only admins read it.
        (["secret-team"], ["everyone"], [NO_READER]),
        (["secret-team", "board"], ["hr", "board"], ["board"]),
    ],
)
def test_a_sources_groups_are_a_ceiling(
    ceiling: list[str], asked: list[str] | None, kept: list[str]
) -> None:
    assert within(ceiling, asked) == kept


# -- the app role: retrieving on behalf of end users -------------------------------------------


def as_end_user(caller: str, groups: str | None) -> dict[str, str]:
    headers = bearer(caller)
    if groups is not None:
        headers["X-Steward-On-Behalf-Of-Groups"] = groups
    return headers


def found(http: httpx.Client, headers: dict[str, str]) -> set[str]:
    answer = http.post("/retrieve", json={"query": QUERY, "top_k": 8}, headers=headers)
    assert answer.status_code == 200, answer.text
    return {r["doc_id"] for r in answer.json()["results"]}


def test_an_app_reads_what_its_end_user_may_read(http: httpx.Client) -> None:
    assert MERGER in found(http, as_end_user("app", "staff, secret-team"))
    # The same app for a user outside the group, or naming nobody: public pages only.
    assert MERGER not in found(http, as_end_user("app", "staff"))
    assert MERGER not in found(http, as_end_user("app", None))
    assert MERGER not in found(http, as_end_user("app", ""))
    # Every read path acts as the end user, not only /retrieve.
    document = f"/documents/{MERGER}"
    assert http.get(document, headers=as_end_user("app", "secret-team")).status_code == 200
    assert http.get(document, headers=as_end_user("app", "staff")).status_code == 404
    # A JWT holding the app role, whose groups claim lifts the ceiling ("*").
    assert MERGER in found(http, as_end_user("jwt-app", "secret-team"))
    assert MERGER not in found(http, as_end_user("jwt-app", None))


def test_an_app_never_reads_beyond_its_own_groups(http: httpx.Client) -> None:
    """staff-app's key holds only `staff`: naming secret-team for a user does not widen it."""
    assert MERGER not in found(http, as_end_user("staff-app", "secret-team"))
    hidden = http.get(f"/documents/{MERGER}", headers=as_end_user("staff-app", "secret-team"))
    assert hidden.status_code == 404


def test_only_an_app_may_name_an_end_users_groups(http: httpx.Client) -> None:
    for caller in ("secret-reader", "owner", "admin", "jwt-reader", "jwt-admin"):
        answer = http.post(
            "/retrieve", json={"query": QUERY}, headers=as_end_user(caller, "secret-team")
        )
        assert answer.status_code == 403, (caller, answer.text)
        assert "needs the app role" in answer.json()["detail"]


def as_named_user(caller: str, user: str) -> dict[str, str]:
    return bearer(caller) | {"X-Steward-On-Behalf-Of-User": user}


def test_an_app_may_name_its_end_user_by_id_with_the_groups_declared_for_them(
    http: httpx.Client,
) -> None:
    # dana (keys file's users:) is in secret-team; sam (STEWARD_AUTH_USERS) only in staff.
    assert MERGER in found(http, as_named_user("app", "dana"))
    assert MERGER not in found(http, as_named_user("app", "sam"))
    # The app's own groups stay the ceiling.
    assert MERGER not in found(http, as_named_user("staff-app", "dana"))
    document = f"/documents/{MERGER}"
    assert http.get(document, headers=as_named_user("app", "dana")).status_code == 200
    assert http.get(document, headers=as_named_user("app", "sam")).status_code == 404


def test_naming_an_unknown_user_or_both_ways_is_refused_and_only_for_apps(
    http: httpx.Client,
) -> None:
    unknown = http.post("/retrieve", json={"query": QUERY}, headers=as_named_user("app", "eve"))
    assert unknown.status_code == 422, unknown.text
    assert "X-Steward-On-Behalf-Of-User" in unknown.text and "eve" not in unknown.text
    both = as_named_user("app", "dana") | {"X-Steward-On-Behalf-Of-Groups": "staff"}
    twice = http.post("/retrieve", json={"query": QUERY}, headers=both)
    assert twice.status_code == 422 and "not both" in twice.text
    reader = http.post(
        "/retrieve", json={"query": QUERY}, headers=as_named_user("secret-reader", "dana")
    )
    assert reader.status_code == 403 and "needs the app role" in reader.text


def test_an_app_may_not_act_on_documents(http: httpx.Client) -> None:
    public = document_id("public", "coffee.md")
    for caller in ("app", "jwt-app"):
        answer = http.post(f"/documents/{public}/deprecate", json={}, headers=bearer(caller))
        assert answer.status_code == 403
        assert "needs the owner role" in answer.json()["detail"]


# -- bearer JWTs from single sign-on -------------------------------------------------------------


def test_a_jwt_names_the_caller_its_groups_and_its_role(http: httpx.Client) -> None:
    assert retrieve(http, "jwt-reader", top_k=5)[0]["doc_id"] == MERGER
    outsider = {"Authorization": f"Bearer {token('bo@example.com', groups=['staff'])}"}
    assert MERGER not in found(http, outsider)
    # An admin by the role claim reads every document, with no group in its token.
    assert http.get(f"/documents/{MERGER}", headers=bearer("jwt-admin")).status_code == 200
    # The role claim goes through STEWARD_AUTH_JWT_ROLES: a value it does not map, even a
    # role's own name, leaves the safe default of reader.
    claimed = {"Authorization": f"Bearer {token('eve@example.com', 'admin')}"}
    answer = http.post("/eval/runs/1/accept", headers=claimed)
    assert answer.status_code == 403
    assert "'eve@example.com' may not do this" in answer.json()["detail"]
    # An action is recorded under the token's subject.
    public = document_id("public", "printer.md")
    verified = http.post(f"/documents/{public}/verify", json={}, headers=bearer("jwt-owner"))
    assert verified.status_code == 204, verified.text
    audit = http.get("/hygiene/audit", headers=bearer("jwt-owner")).json()["items"]
    assert (audit[0]["actor"], audit[0]["subject"]) == ("olga@example.com", public)


def _refusal(http: httpx.Client, presented: str) -> str:
    answer = http.post(
        "/retrieve", json={"query": QUERY}, headers={"Authorization": f"Bearer {presented}"}
    )
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"].startswith("Bearer")
    # The refusal names the failed check, not the token nor what was expected.
    assert presented not in answer.text and ISSUER not in answer.text
    detail: str = answer.json()["detail"]
    return detail


def test_a_bad_jwt_is_refused_with_the_reason(http: httpx.Client) -> None:
    now = int(time.time())
    claims = {"sub": "mallory", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 600}
    public_pem = PRIVATE.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    cases = {
        token("ana@example.com", expires_in=-3600): "has expired",
        token("ana@example.com", iss="https://elsewhere.example.com"): "issuer is not accepted",
        token("ana@example.com", aud="another-service"): "not meant for this service",
        token("mallory", "owner", key=FORGER): "signature does not verify",
        token("ana@example.com", kid="unknown-kid"): "signed by a key this service lacks",
        token("ana@example.com", nbf=now + 3600): "not valid yet",
        unsigned({"alg": "none", "kid": KID}, claims, None): "algorithm is not accepted",
        unsigned({"alg": "HS256", "kid": KID}, claims, public_pem): "algorithm is not accepted",
        jwt.encode(
            {k: v for k, v in claims.items() if k != "exp"},
            PRIVATE,
            algorithm="RS256",
            headers={"kid": KID},
        ): "lacks the 'exp' claim",
        # PS256 over the RSA key is a fine algorithm, but the JWKS pins this key to RS256.
        jwt.encode(claims, PRIVATE, algorithm="PS256", headers={"kid": KID}): "does not match",
    }
    for presented, reason in cases.items():
        assert reason in _refusal(http, presented), reason


def test_a_jwks_url_is_fetched_cached_and_refetched_for_a_new_key() -> None:
    with JwksServer(jwks(PRIVATE, KID)) as idp:
        settings = AccessSettings(jwks_url=idp.url, jwt_issuer=ISSUER, jwt_audience=AUDIENCE)
        auth = settings.authenticator()
        assert auth.enabled
        assert auth.resolve(token("ana@example.com", groups=["staff"])).groups == {"staff"}
        assert auth.resolve(token("bo@example.com")).name == "bo@example.com"
        assert idp.fetches == 1  # kept, not fetched per request
        # The provider rotates to a new key: a token under its kid fetches the set again.
        verifier = TokenVerifier(
            UrlKeySet(idp.url, refetch_s=0), TokenRules(issuer=ISSUER, audience=AUDIENCE)
        )
        assert verifier.verify(token("ana@example.com")).name == "ana@example.com"
        rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        idp.document = jwks(rotated, "sso-2027")
        fresh = token("cy@example.com", key=rotated, kid="sso-2027")
        assert verifier.verify(fresh).name == "cy@example.com"
        # Within refetch_s a made-up kid does not fetch again (no flood of the provider).
        fetched = idp.fetches
        with pytest.raises(UnauthenticatedError, match="key this service lacks"):
            auth.resolve(token("ana@example.com", kid="made-up"))
        with pytest.raises(UnauthenticatedError, match="key this service lacks"):
            auth.resolve(token("ana@example.com", kid="made-up-too"))
        assert idp.fetches == fetched
        # Fetched again on every use (cache_s=0) while the provider answers...
        always = TokenVerifier(
            UrlKeySet(idp.url, cache_s=0, refetch_s=0), TokenRules(issuer=ISSUER, audience=AUDIENCE)
        )
        assert always.verify(fresh).name == "cy@example.com"
    # ...and once it is gone, the keys fetched before still serve.
    assert always.verify(fresh).name == "cy@example.com"
    # The provider gone and nothing cached: the caller is asked to retry (503), not refused.
    cold = AccessSettings(jwks_url=idp.url, jwt_issuer=ISSUER, jwt_audience=AUDIENCE)
    with pytest.raises(KeySetError, match="cannot be fetched") as unreachable:
        cold.authenticator().resolve(token("ana@example.com"))
    assert status_of(unreachable.value) == 503


def test_jwt_settings_fail_at_start_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(jwks(PRIVATE, KID)), encoding="utf-8")
    monkeypatch.setenv("STEWARD_AUTH_JWKS_FILE", str(jwks_file))
    with pytest.raises(ConfigError, match="STEWARD_AUTH_JWT_ISSUER: .*required"):
        load_settings()
    monkeypatch.setenv("STEWARD_AUTH_JWT_ISSUER", ISSUER)
    monkeypatch.setenv("STEWARD_AUTH_JWT_AUDIENCE", AUDIENCE)
    assert load_settings().auth.enabled
    # A shared secret in the key set is never a way to verify: no usable key, refused.
    jwks_file.write_text(json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}), "utf-8")
    with pytest.raises(ConfigError, match="STEWARD_AUTH_JWKS_FILE: .*no asymmetric"):
        load_settings()
    monkeypatch.delenv("STEWARD_AUTH_JWKS_FILE")
    # Keys fetched over plain http from another machine could be anyone's.
    monkeypatch.setenv("STEWARD_AUTH_JWKS_URL", "http://sso.example.com/jwks.json")
    with pytest.raises(ConfigError, match="STEWARD_AUTH_JWKS_URL: .*https"):
        load_settings()
    # A JWKS alone turns access control on: no key is needed for the bind guard.
    monkeypatch.setenv("STEWARD_AUTH_JWKS_URL", "https://sso.example.com/jwks.json")
    load_settings().auth.check_bind("0.0.0.0")


def test_claims_become_a_principal_as_the_settings_say(tmp_path: Path) -> None:
    """A Keycloak-shaped token: groups in a nested claim, roles as a list (the highest wins)."""
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(jwks(PRIVATE, KID)), encoding="utf-8")
    settings = AccessSettings(
        jwks_file=jwks_file,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_name_claim="email",
        jwt_groups_claim="realm_access.groups",
        jwt_role_claim="roles",
        jwt_roles={"kb-editors": "owner", "kb-portal": "app"},
    )
    auth = settings.authenticator()
    presented = token(
        "f3b1c2",
        email="ana@example.com",
        realm_access={"groups": ["staff", "secret-team", 7]},
        roles=["offline_access", "kb-portal", "kb-editors"],
    )
    principal = auth.resolve(presented)
    assert (principal.name, principal.role) == ("ana@example.com", Role.OWNER)
    assert principal.groups == {"staff", "secret-team"}
    # No mapped value: the safe default; a space-separated string claim splits.
    plain = auth.resolve(token("x", email="bo@example.com", roles="offline_access admin"))
    assert plain.role is Role.READER and plain.groups == frozenset()
    with pytest.raises(UnauthenticatedError, match="lacks the 'email' claim"):
        auth.resolve(token("no-email"))
    # A JWKS and no key declared: a string that is not a JWT is refused, not let in as the
    # local admin of a server without access control.
    for presented in ("not.a.token", "an-api-key-of-nobody-0001"):
        with pytest.raises(UnauthenticatedError, match="invalid bearer token"):
            auth.resolve(presented)


def test_the_clients_headers_carry_an_apps_end_user(base_url: str) -> None:
    on_behalf = {"X-Steward-On-Behalf-Of-Groups": "secret-team"}
    with HttpClient(base_url, api_key=KEYS["app"], headers=on_behalf) as client:
        assert client.retrieve(QUERY, top_k=3).results[0].doc_id == MERGER
    with HttpClient(base_url, api_key=KEYS["app"]) as client, pytest.raises(NotFoundError):
        client.document(MERGER)


def test_mcp_takes_a_jwt_as_every_route_does(http: httpx.Client) -> None:
    """/mcp resolves its caller with the routes' authenticator: keys and bearer JWTs alike."""
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    accept = {"accept": "application/json, text/event-stream"}
    good = {"Authorization": f"Bearer {token('bo@example.com', groups=['staff'])}"}
    expired = {"Authorization": f"Bearer {token('bo@example.com', expires_in=-120)}"}
    answer = http.post("/mcp", json=call, headers={**accept, **good})
    assert answer.status_code == 200, answer.text
    assert "retrieve" in {tool["name"] for tool in answer.json()["result"]["tools"]}
    refused = http.post("/mcp", json=call, headers={**accept, **expired})
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
