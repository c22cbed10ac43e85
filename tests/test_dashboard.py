"""The owners' dashboard over a real server and a real embedded index: sign-in, sessions, CSRF,
roles, group filtering on every page, and owners' decisions leaving the queue.

The knowledge base is the bundled sample (examples/sample-kb), whose planted expired pages
include two of david.chen's: the travel policy 2023 (public) and the purchasing approvals
(`acl: [finance, managers]`). David signs in with a key of the `staff` group only, so his
queue must hold the first and never the second, although he owns both.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from app.hygiene import scan_hygiene
from app.runtime import Runtime, open_runtime
from connectors.filesystem import FilesystemConnector
from dashboard.sessions import COOKIE, Session, SessionSigner
from evaluation.feedback import FeedbackRecords
from evaluation.golden import parse_records
from evaluation.runs import EvalRecords, evaluate_golden
from hygiene import report
from hygiene.records import HygieneRecords
from ingest.pipeline import document_id
from steward.access import Principal
from steward.domain import ScoredChunk, utc_now
from steward.settings import AccessSettings, KeyEntry

ROOT = Path(__file__).resolve().parents[1]
KB = ROOT / "examples" / "sample-kb"

DAVID = "david.chen@brightwater.example"
KEYS = {
    DAVID: "david-owner-key-000001",
    "reader": "staff-reader-key-00001",
    "admin": "dashboard-admin-key-01",
}
TRAVEL = document_id("handbook", "finance/travel-policy-2023.md")
PURCHASING = document_id("handbook", "finance/purchasing-approvals.md")
LAPTOP = document_id("handbook", "it/laptop-policy.md")
SPEC = document_id("handbook", "engineering/robots/bw-350-spec-2025.md")
# Every page a signed-in principal can open (with the owner picker and resolved conflicts).
PAGES = [
    "/",
    "/queue",
    f"/queue?owner={DAVID}",
    "/duplicates",
    "/conflicts",
    "/conflicts?resolved=true",
]


def access() -> AccessSettings:
    return AccessSettings(
        keys=[
            KeyEntry(name=DAVID, role="owner", groups=["staff"], key=KEYS[DAVID]),
            KeyEntry(name="reader", role="reader", groups=["staff"], key=KEYS["reader"]),
            KeyEntry(name="admin", role="admin", key=KEYS["admin"]),
        ]
    )


@pytest.fixture(scope="module")
def kb(
    tmp_path_factory: pytest.TempPathFactory, hash_embedder: Any, make_settings: Any
) -> Iterator[Runtime]:
    root = tmp_path_factory.mktemp("dashboard")
    live = open_runtime(make_settings(root, auth=access()), embedder=hash_embedder)
    summary = live.pipeline.run(FilesystemConnector(KB, "handbook"))
    assert summary.status == "ok"
    scan_hygiene(live)
    yield live
    live.close()


@pytest.fixture(scope="module")
def base_url(kb: Runtime, serve_app: Any) -> Iterator[str]:
    with serve_app(create_app(kb.settings, kb)) as url:
        yield url


def browser(base_url: str) -> httpx.Client:
    """A client that keeps cookies and does not follow redirects (the tests look at them)."""
    return httpx.Client(base_url=base_url, timeout=60, follow_redirects=False)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@contextmanager
def signed_in(base_url: str, name: str) -> Iterator[httpx.Client]:
    with browser(base_url) as client:
        token = csrf_of(client.get("/sign-in").text)
        answer = client.post("/sign-in", data={"csrf": token, "key": KEYS[name], "next": "/queue"})
        assert answer.status_code == 303, answer.text
        yield client


def queue_ids(html: str) -> list[str]:
    return re.findall(r'<tr data-doc="([0-9a-f]+)"', html)


# -- sign-in and the session cookie --------------------------------------------------------


def test_pages_ask_to_sign_in_first(base_url: str) -> None:
    with browser(base_url) as client:
        for path in ["/", "/queue", "/duplicates", "/conflicts"]:
            answer = client.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"] == f"/sign-in?next={path}"
        page = client.get("/sign-in")
        assert page.status_code == 200
        assert 'type="password"' in page.text and "local admin" not in page.text


def test_a_wrong_key_is_refused_with_the_reason(base_url: str) -> None:
    with browser(base_url) as client:
        token = csrf_of(client.get("/sign-in").text)
        answer = client.post("/sign-in", data={"csrf": token, "key": "not-a-key-of-this-server"})
        assert answer.status_code == 401
        assert "invalid or revoked API key" in answer.text
        assert client.get("/queue").status_code == 303


def test_sign_in_sets_an_httponly_strict_expiring_cookie_without_the_key(
    base_url: str, kb: Runtime
) -> None:
    with browser(base_url) as client:
        token = csrf_of(client.get("/sign-in").text)
        answer = client.post(
            "/sign-in", data={"csrf": token, "key": KEYS[DAVID], "next": "/conflicts"}
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == "/conflicts"
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}=")
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert "httponly" in flags and "samesite=strict" in flags and "path=/" in flags
        hours = kb.settings.dashboard.session_hours
        assert f"max-age={int(hours * 3600)}" in flags
        assert KEYS[DAVID] not in cookie
        # A new CSRF token after sign-in: the signed-out one no longer posts anything.
        page = client.get("/queue")
        assert page.status_code == 200 and DAVID in page.text
        assert csrf_of(page.text) != token


def test_an_off_site_next_is_ignored(base_url: str) -> None:
    with browser(base_url) as client:
        token = csrf_of(client.get("/sign-in").text)
        answer = client.post(
            "/sign-in", data={"csrf": token, "key": KEYS[DAVID], "next": "//evil.example/x"}
        )
        assert answer.headers["location"] == "/queue"


def test_an_altered_or_expired_cookie_signs_out(base_url: str, kb: Runtime) -> None:
    with signed_in(base_url, "admin") as client:
        value = client.cookies[COOKIE]
        body, mac = value.split(".")
        client.cookies.set(COOKIE, body + "." + mac[::-1])
        assert client.get("/queue").status_code == 303
    secret = bytes.fromhex((kb.settings.home.home / "dashboard-secret").read_text())
    stale = SessionSigner(secret).dump(Session("0" * 64, "token", expires=1))
    with browser(base_url) as client:
        client.cookies.set(COOKIE, stale)
        assert client.get("/").status_code == 303


def test_sign_out_ends_the_session(base_url: str) -> None:
    with signed_in(base_url, "reader") as client:
        token = csrf_of(client.get("/").text)
        answer = client.post("/sign-out", data={"csrf": token})
        assert answer.status_code == 303
        assert client.get("/").status_code == 303


def test_api_routes_keep_their_paths_and_json(base_url: str) -> None:
    admin = {"Authorization": f"Bearer {KEYS['admin']}"}
    answer = httpx.get(f"{base_url}/hygiene/stale", headers=admin)
    assert answer.status_code == 200 and answer.json()["total"] > 0
    assert httpx.get(f"{base_url}/health").json()["status"]
    # The dashboard answers HTML, and its routes stay out of the API's schema.
    schema = httpx.get(f"{base_url}/openapi.json").json()["paths"]
    assert "/" not in schema and "/queue" not in schema


# -- CSRF ----------------------------------------------------------------------------------


def test_a_form_without_this_sessions_token_is_refused(base_url: str, kb: Runtime) -> None:
    before = len(HygieneRecords(kb.database).audit(1000))
    with signed_in(base_url, DAVID) as client, signed_in(base_url, DAVID) as other:
        assert TRAVEL in queue_ids(client.get("/queue").text)
        foreign = csrf_of(other.get("/queue").text)
        for data in ({}, {"csrf": ""}, {"csrf": "forged"}, {"csrf": foreign}):
            answer = client.post(f"/queue/{TRAVEL}/verify", data=data)
            assert answer.status_code == 403, data
            assert "did not come from this dashboard" in answer.text
        assert TRAVEL in queue_ids(client.get("/queue").text)
    assert len(HygieneRecords(kb.database).audit(1000)) == before
    # Signing in needs the token too: a forged sign-in form cannot plant a session.
    with browser(base_url) as client:
        answer = client.post("/sign-in", data={"key": KEYS["admin"]})
        assert answer.status_code == 403
        assert client.get("/queue").status_code == 303


# -- roles and groups ----------------------------------------------------------------------


def _unreadable(kb: Runtime, principal: Principal) -> list[tuple[str, str]]:
    rows = kb.catalog.all_documents().values()
    return [(r.doc_id, r.source_uri) for r in rows if not principal.can_read(r.acl)]


@pytest.mark.parametrize("name", [DAVID, "reader"])
def test_a_staff_principal_never_sees_a_restricted_page(
    base_url: str, kb: Runtime, name: str
) -> None:
    principal = kb.settings.auth.key_ring().resolve(KEYS[name])
    hidden = _unreadable(kb, principal)
    assert (PURCHASING, "finance/purchasing-approvals.md") in [
        (d, u.rsplit("sample-kb/", 1)[-1]) for d, u in hidden
    ]
    with signed_in(base_url, name) as client:
        for path in PAGES:
            html = client.get(path).text
            for doc_id, uri in hidden:
                assert doc_id not in html and uri not in html, (path, uri)
        # Nor by asking for it: an action on it answers as if it did not exist.
        token = csrf_of(client.get("/queue").text)
        answer = client.post(f"/queue/{PURCHASING}/verify", data={"csrf": token})
        assert answer.status_code == (404 if name == DAVID else 403)
    assert HygieneRecords(kb.database).reviews().get(PURCHASING) is None


def test_an_admin_sees_every_owners_queue_and_restricted_pages(base_url: str) -> None:
    with signed_in(base_url, "admin") as client:
        page = client.get("/queue", params={"owner": DAVID}).text
        assert {TRAVEL, PURCHASING} <= set(queue_ids(page))
        assert f'<option value="{DAVID}" selected>' in page
        every = client.get("/queue").text
        assert len(queue_ids(every)) > len(queue_ids(page))


def test_an_owner_sees_only_their_own_queue(base_url: str, kb: Runtime) -> None:
    rows = report.documents(kb.database)  # owners as handed over
    with signed_in(base_url, DAVID) as client:
        ids = queue_ids(client.get("/queue", params={"owner": "someone.else@x"}).text)
        assert ids and {rows[d].owner for d in ids} == {DAVID}
        assert '<select id="owner"' not in client.get("/queue").text


def test_a_reader_sees_no_action_and_may_not_act(base_url: str, kb: Runtime) -> None:
    with signed_in(base_url, "reader") as client:
        for path in ["/queue", "/duplicates", "/conflicts"]:
            html = client.get(path).text
            assert "/verify" not in html and "/resolve" not in html
            assert "not-duplicate" not in html
        token = csrf_of(client.get("/").text)
        answer = client.post(f"/queue/{TRAVEL}/deprecate", data={"csrf": token})
        assert answer.status_code == 403 and "needs the owner role" in answer.text
    assert HygieneRecords(kb.database).reviews().get(TRAVEL) is None


def test_the_overview_counts_only_readable_documents(base_url: str, kb: Runtime) -> None:
    principal = kb.settings.auth.key_ring().resolve(KEYS["reader"])
    readable = sum(principal.can_read(r.acl) for r in kb.catalog.all_documents().values())
    with signed_in(base_url, "reader") as client:
        html = client.get("/").text
    row = re.search(r'<tr data-source="handbook">.*?</tr>', html, re.S)
    assert row is not None
    cells = re.findall(r'<td class="num">(\d+)</td>', row.group(0))
    assert int(cells[0]) == readable < kb.catalog.count_documents()


def test_the_overview_shows_the_last_sync_and_the_latest_evaluation(
    base_url: str, kb: Runtime
) -> None:
    queries = [{"query": "travel policy", "relevant": [{"doc_id": TRAVEL, "grade": 1}]}]
    EvalRecords(kb.database).save_golden("dashboard-set", parse_records(queries), 10)
    run = evaluate_golden(kb, "dashboard-set")
    assert run.metrics is not None
    with signed_in(base_url, "reader") as client:
        html = client.get("/").text
    row = re.search(r"<tr>\s*<th scope=\"row\">dashboard-set</th>.*?</tr>", html, re.S)
    assert row is not None
    assert f"{run.metrics['ndcg@10']:.3f}" in row.group(0) and "ok," in row.group(0)
    source = re.search(r'<tr data-source="handbook">.*?</tr>', html, re.S)
    assert source is not None and 'class="tag status-ok"' in source.group(0)


# -- owners' decisions ---------------------------------------------------------------------


def test_verifying_a_page_takes_it_off_the_queue_and_audits_the_owner(
    base_url: str, kb: Runtime
) -> None:
    with signed_in(base_url, DAVID) as client:
        page = client.get("/queue").text
        assert TRAVEL in queue_ids(page)
        answer = client.post(f"/queue/{TRAVEL}/verify", data={"csrf": csrf_of(page)})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/queue?done=verified"
        after = client.get(answer.headers["location"]).text
        assert TRAVEL not in queue_ids(after) and 'id="done"' in after
    entry = HygieneRecords(kb.database).audit(1)[0]
    assert (entry["actor"], entry["action"], entry["subject"]) == (DAVID, "verify", TRAVEL)


def test_the_queue_puts_the_most_retrieved_page_first(base_url: str, kb: Runtime) -> None:
    with signed_in(base_url, "admin") as client:
        before = queue_ids(client.get("/queue", params={"owner": DAVID}).text)
    assert len(before) >= 2
    # The least pressing page of the queue answers three questions of the query log.
    least = before[-1]
    chunk = kb.store.document_chunks(least)[0]
    for _ in range(3):
        hit = ScoredChunk(chunk.chunk_id, 0.5, chunk.payload)
        assert FeedbackRecords(kb.database).log_query(
            str(uuid.uuid4()), "q", "hybrid", 10, 1.0, [hit]
        )
    with signed_in(base_url, "admin") as client:
        html = client.get("/queue", params={"owner": DAVID}).text
    assert queue_ids(html)[0] == least
    row = re.search(rf'<tr data-doc="{least}">.*?</tr>', html, re.S)
    assert row is not None
    retrieved, impact = (int(n) for n in re.findall(r'<td class="num">(\d+)</td>', row.group(0)))
    assert retrieved == 3 and impact in (3, 6, 9)


def test_a_review_date_takes_a_page_off_the_queue_and_holds_after_a_scan(
    base_url: str, kb: Runtime
) -> None:
    lena = "lena.fischer@brightwater.example"
    with signed_in(base_url, "admin") as client:
        page = client.get("/queue", params={"owner": lena}).text
        assert LAPTOP in queue_ids(page)
        for bad in ("", "not-a-date", "2020-01-01"):
            answer = client.post(
                f"/queue/{LAPTOP}/review-date",
                data={"csrf": csrf_of(page), "review_by": bad, "owner": lena},
            )
            assert answer.status_code == 422 and "review_by" in answer.text, bad
        when = (utc_now() + timedelta(days=30)).date()
        answer = client.post(
            f"/queue/{LAPTOP}/review-date",
            data={"csrf": csrf_of(page), "review_by": when.isoformat(), "owner": lena},
        )
        assert answer.status_code == 303
        assert "owner=lena.fischer" in answer.headers["location"]
        assert LAPTOP not in queue_ids(client.get(answer.headers["location"]).text)
        scan_hygiene(kb)
        state = HygieneRecords(kb.database).states([LAPTOP])[LAPTOP]
        assert state["state"] != "expired"
        assert state["expires_at"].date() == when + timedelta(days=1)
        assert LAPTOP not in queue_ids(client.get("/queue", params={"owner": lena}).text)
    entry = HygieneRecords(kb.database).audit(1)[0]
    assert (entry["actor"], entry["action"], entry["subject"]) == (
        "admin",
        "set_review_date",
        LAPTOP,
    )
    assert entry["detail"]["review_by"] == when.isoformat()


def test_a_page_handed_over_moves_to_the_new_owners_queue(base_url: str, kb: Runtime) -> None:
    kenji = "kenji.watanabe@brightwater.example"
    with signed_in(base_url, "admin") as client:
        page = client.get("/queue", params={"owner": kenji}).text
        assert SPEC in queue_ids(page)
        answer = client.post(
            f"/queue/{SPEC}/hand-over", data={"csrf": csrf_of(page), "to": " ", "owner": kenji}
        )
        assert answer.status_code == 422 and "new owner" in answer.text
        answer = client.post(
            f"/queue/{SPEC}/hand-over", data={"csrf": csrf_of(page), "to": DAVID, "owner": kenji}
        )
        assert answer.status_code == 303
        assert SPEC not in queue_ids(client.get("/queue", params={"owner": kenji}).text)
    scan_hygiene(kb)
    with signed_in(base_url, DAVID) as client:
        assert SPEC in queue_ids(client.get("/queue").text)
    # The API's listings name the new owner too: one rule, in hygiene.report.
    stale = httpx.get(
        f"{base_url}/hygiene/stale",
        params={"owner": DAVID},
        headers={"Authorization": f"Bearer {KEYS['admin']}"},
    ).json()
    assert SPEC in {item["doc_id"] for item in stale["items"]}
    entry = HygieneRecords(kb.database).audit(1)[0]
    assert (entry["actor"], entry["action"], entry["subject"]) == ("admin", "hand_over", SPEC)
    assert (entry["detail"]["owner"], entry["detail"]["previous"]) == (DAVID, kenji)


def test_not_a_duplicate_splits_the_pair(base_url: str, kb: Runtime) -> None:
    with signed_in(base_url, "admin") as client:
        page = client.get("/duplicates").text
        pair = re.search(
            r'name="canonical" value="([0-9a-f]+)">\s*<input type="hidden" name="member" '
            r'value="([0-9a-f]+)">',
            page,
        )
        assert pair, "the sample holds duplicate clusters"
        canonical, member = pair.groups()
        answer = client.post(
            "/duplicates/not-duplicate",
            data={"csrf": csrf_of(page), "canonical": canonical, "member": member},
        )
        assert answer.status_code == 303
        after = client.get("/duplicates").text
        assert f'name="member" value="{member}"' not in after
    assert tuple(sorted((canonical, member))) in HygieneRecords(kb.database).distinct_pairs()
    entry = HygieneRecords(kb.database).audit(1)[0]
    assert (entry["actor"], entry["action"]) == ("admin", "not_duplicate")


def test_a_conflict_resolved_from_its_page_stays_resolved(base_url: str, kb: Runtime) -> None:
    with signed_in(base_url, "admin") as client:
        page = client.get("/conflicts").text
        found = re.search(r'data-conflict="([0-9a-f]+)"', page)
        if found is None:
            pytest.skip("this scan found no conflict in the sample")
        conflict = found.group(1)
        assert "<mark>" in page
        answer = client.post(
            f"/conflicts/{conflict}/resolve",
            data={"csrf": csrf_of(page), "resolution": "keep_b"},
        )
        assert answer.status_code == 303
        assert f'data-conflict="{conflict}"' not in client.get("/conflicts").text
        scan_hygiene(kb)
        assert f'data-conflict="{conflict}"' not in client.get("/conflicts").text
        assert "resolved: keep_b by admin" in client.get("/conflicts?resolved=true").text


# -- access control off --------------------------------------------------------------------


def test_without_access_control_the_local_admin_needs_no_sign_in(
    tmp_path: Path, hash_embedder: Any, make_settings: Any, serve_app: Any, write: Any
) -> None:
    write.markdown(
        tmp_path / "kb" / "old.md",
        "# Old page\n\nThe office closes at six.\n",
        owner="olga",
        review_by="2020-01-01",
    )
    live = open_runtime(make_settings(tmp_path), embedder=hash_embedder)
    try:
        live.pipeline.run(FilesystemConnector(tmp_path / "kb", "local"))
        scan_hygiene(live)
        with serve_app(create_app(live.settings, live)) as url, browser(url) as client:
            page = client.get("/queue")
            assert page.status_code == 200
            assert 'id="local-admin-banner"' in page.text and "local admin" in page.text
            doc = document_id("local", "old.md")
            assert queue_ids(page.text) == [doc]
            # The session exists (for the CSRF token) although nobody signed in.
            assert client.cookies.get(COOKIE)
            answer = client.post(f"/queue/{doc}/deprecate", data={"csrf": csrf_of(page.text)})
            assert answer.status_code == 303
            assert queue_ids(client.get("/queue").text) == []
            assert client.get("/sign-in").status_code == 303
        entry = HygieneRecords(live.database).audit(1)[0]
        assert (entry["actor"], entry["action"]) == ("local", "deprecate")
    finally:
        live.close()
