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
from sqlalchemy import update

from api.app import create_app
from app.hygiene import scan_hygiene
from app.runtime import Runtime, open_runtime
from connectors.filesystem import FilesystemConnector
from dashboard.sessions import COOKIE, Session, SessionSigner
from evaluation.feedback import FeedbackRecords
from evaluation.golden import parse_records
from evaluation.runs import EvalRecords, evaluate_golden
from evaluation.tables import query_log
from hygiene import report
from hygiene.queue import RECENT_DAYS
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
    "/conflicts?show=all",
    f"/conflicts?show=all&owner={DAVID}&source=handbook",
    "/evaluation",
    "/playground?q=purchasing+approvals+limits",
    "/playground?q=travel+policy",
    "/gaps",
    "/audit",
    f"/audit?actor=admin&document={PURCHASING}",
    "/source-syncs",
    f"/document/{TRAVEL}",
]
# A query of a golden set judged against the restricted page: its text must not show either.
SECRET_QUERY = "which approvals does a purchase above the finance threshold need"


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


@pytest.fixture(scope="module")
def restricted_traces(kb: Runtime) -> dict[str, Any]:
    """What names the restricted page beyond the listings: an audit entry, retrieval traffic,
    feedback, and two evaluation runs of a set with a query judged against it."""
    HygieneRecords(kb.database).hand_over(PURCHASING, DAVID, "admin")
    chunk = kb.store.document_chunks(PURCHASING)[0]
    query_id = str(uuid.uuid4())
    hit = ScoredChunk(chunk.chunk_id, 0.9, chunk.payload)
    FeedbackRecords(kb.database).log_query(
        query_id, "purchase approvals", "hybrid", 10, 1.0, [hit], top_cosine=None
    )
    FeedbackRecords(kb.database).add(query_id, chunk.chunk_id, False, "restricted note")
    # Older than the queue's window: this answer must not reorder the queue the tests read.
    with kb.database.begin() as conn:
        conn.execute(
            update(query_log)
            .where(query_log.c.query_id == query_id)
            .values(at=utc_now() - timedelta(days=RECENT_DAYS + 5))
        )
    queries = [
        {"query": SECRET_QUERY, "relevant": [{"doc_id": PURCHASING, "grade": 1}]},
        {"query": "travel policy", "relevant": [{"doc_id": TRAVEL, "grade": 1}]},
    ]
    EvalRecords(kb.database).save_golden("restricted-set", parse_records(queries), 10)
    runs = [evaluate_golden(kb, "restricted-set").run_id for _ in range(2)]
    return {"runs": runs}


@pytest.mark.parametrize("name", [DAVID, "reader"])
def test_a_staff_principal_never_sees_a_restricted_page(
    base_url: str, kb: Runtime, name: str, restricted_traces: dict[str, Any]
) -> None:
    principal = kb.settings.auth.key_ring().resolve(KEYS[name])
    hidden = _unreadable(kb, principal)
    assert (PURCHASING, "finance/purchasing-approvals.md") in [
        (d, u.rsplit("sample-kb/", 1)[-1]) for d, u in hidden
    ]
    first, second = restricted_traces["runs"]
    # A pair the principal may diff (asking for an unreadable one is checked below).
    clusters = report.duplicates(kb.database, report.Filters(reader=principal))
    pair = next((c["canonical"]["doc_id"], m["doc_id"]) for c in clusters for m in c["members"])
    pages = [
        *PAGES,
        f"/evaluation/runs/{second}",
        f"/evaluation/compare?a={first}&b={second}",
        f"/duplicates/diff?canonical={pair[0]}&member={pair[1]}",
    ]
    with signed_in(base_url, name) as client:
        for path in pages:
            html = client.get(path).text
            for doc_id, uri in hidden:
                assert doc_id not in html and uri not in html, (path, uri)
            assert SECRET_QUERY not in html and "restricted note" not in html, path
        # Nor by asking for it: an action on it answers as if it did not exist.
        token = csrf_of(client.get("/queue").text)
        answer = client.post(f"/queue/{PURCHASING}/verify", data={"csrf": token})
        assert answer.status_code == (404 if name == DAVID else 403)
        # Its page, and a diff with it on either side, answer as missing too.
        for path in [
            f"/document/{PURCHASING}",
            f"/duplicates/diff?canonical={PURCHASING}&member={TRAVEL}",
            f"/duplicates/diff?canonical={TRAVEL}&member={PURCHASING}",
        ]:
            answer = client.get(path)
            assert answer.status_code == 404, path
            assert "purchasing-approvals" not in answer.text
        # Judging a result of an answer that returned it: refused as missing.
        mine = client.get("/playground", params={"q": "travel policy"}).text
        query_id = re.search(r'name="query_id" value="([^"]+)"', mine)
        assert query_id is not None
        logged = FeedbackRecords(kb.database).results_of(query_id.group(1))
        assert logged and PURCHASING not in {r["doc_id"] for r in logged}
        chunk = kb.store.document_chunks(PURCHASING)[0].chunk_id
        answer = client.post(
            "/playground/feedback",
            data={
                "csrf": csrf_of(mine),
                "query_id": query_id.group(1),
                "chunk_id": chunk,
                "relevant": "1",
            },
        )
        assert answer.status_code == 404
    review = HygieneRecords(kb.database).reviews().get(PURCHASING)
    assert review is None or review.verified_at is None
    # An admin sees what the staff may not: the traces are there to be hidden.
    with signed_in(base_url, "admin") as client:
        assert PURCHASING in client.get("/audit", params={"document": PURCHASING}).text
        assert SECRET_QUERY in client.get(f"/evaluation/runs/{second}").text
        assert "restricted note" in client.get(f"/document/{PURCHASING}").text


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
    row = re.search(r"<tr>\s*<th scope=\"row\"><a [^>]*>dashboard-set</a></th>.*?</tr>", html, re.S)
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
        page = client.get("/queue", params={"owner": DAVID}).text
    before = queue_ids(page)
    assert len(before) >= 2
    # Earlier answers (the playground's among them) already returned some of these pages.
    read = [
        [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', row)]
        for row in re.findall(r"<tr data-doc=.*?</tr>", page, re.S)
    ]
    most = max(impact for _, impact in read)
    # The least pressing page of the queue answers more questions than the first one's impact.
    least = before[-1]
    times = most + 1
    chunk = kb.store.document_chunks(least)[0]
    already = dict(zip(before, (r for r, _ in read), strict=True))[least]
    for _ in range(times):
        hit = ScoredChunk(chunk.chunk_id, 0.5, chunk.payload)
        assert FeedbackRecords(kb.database).log_query(
            str(uuid.uuid4()), "q", "hybrid", 10, 1.0, [hit], top_cosine=None
        )
    with signed_in(base_url, "admin") as client:
        html = client.get("/queue", params={"owner": DAVID}).text
    assert queue_ids(html)[0] == least
    row = re.search(rf'<tr data-doc="{least}">.*?</tr>', html, re.S)
    assert row is not None
    retrieved, impact = (int(n) for n in re.findall(r'<td class="num">(\d+)</td>', row.group(0)))
    assert retrieved == already + times and impact in {retrieved * s for s in (1, 2, 3)}


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


# -- scan history, answer freshness ----------------------------------------------------------


def _freshness(html: str, source: str = "handbook") -> tuple[int, int]:
    """(fresh, served) of a source's line of the overview's freshness table."""
    row = re.search(rf'<tr data-fresh="{source}">.*?</tr>', html, re.S)
    if row is None:
        return 0, 0
    found = re.search(r'data-served="(\d+)" data-fresh-results="(\d+)"', row.group(0))
    assert found is not None
    return int(found.group(2)), int(found.group(1))


def _log_answers(kb: Runtime, doc_id: str, times: int) -> None:
    chunk = kb.store.document_chunks(doc_id)[0]
    for _ in range(times):
        hit = ScoredChunk(chunk.chunk_id, 0.5, chunk.payload)
        assert FeedbackRecords(kb.database).log_query(
            str(uuid.uuid4()), None, "hybrid", 10, 1.0, [hit], top_cosine=None
        )


def test_answer_freshness_counts_readable_results_and_follows_verification(
    base_url: str, kb: Runtime
) -> None:
    with signed_in(base_url, "reader") as reader, signed_in(base_url, "admin") as admin:
        reader_before, admin_before = (
            _freshness(reader.get("/").text),
            _freshness(admin.get("/").text),
        )
        _log_answers(kb, PURCHASING, 4)
        # The reader's figure ignores answers from a page it may not read; the admin's counts them.
        assert _freshness(reader.get("/").text) == reader_before
        fresh, served = _freshness(admin.get("/").text)
        assert served == admin_before[1] + 4
        # Verifying a page that answers questions makes its answers fresh at once.
        rows = kb.catalog.all_documents()
        target = next(
            d
            for d, state in sorted(HygieneRecords(kb.database).states().items())
            if state["state"] != "verified" and not state["conflicts"] and not rows[d].acl
        )
        _log_answers(kb, target, 3)
        fresh_before, served_before = _freshness(admin.get("/").text)
        assert served_before == served + 3
        page = admin.get("/queue").text
        answer = admin.post(f"/queue/{target}/verify", data={"csrf": csrf_of(page)})
        assert answer.status_code == 303
        after = admin.get("/").text
        assert _freshness(after) == (fresh_before + 3, served_before)
        assert re.search(r'id="freshness-overall">\d+%</strong>', after)
    # /metrics exports the figure per source (over every page, as its other gauges).
    metrics = httpx.get(
        f"{base_url}/metrics", headers={"Authorization": f"Bearer {KEYS['admin']}"}
    ).text
    gauge = re.search(
        r'^steward_answer_freshness\{source="handbook"\} ([0-9.e+-]+)$', metrics, re.M
    )
    assert gauge is not None
    assert abs(float(gauge.group(1)) - (fresh_before + 3) / served_before) < 1e-9
    assert f'steward_answer_freshness_results{{source="handbook"}} {served_before}.0' in metrics


def test_each_scan_adds_a_point_to_the_trends_counted_for_the_reader(
    base_url: str, kb: Runtime
) -> None:
    from hygiene.history import trend

    reader = kb.settings.auth.key_ring().resolve(KEYS["reader"])
    before = trend(kb.database, reader).get("handbook", [])
    _log_answers(kb, PURCHASING, 1)
    scan_hygiene(kb)
    after = trend(kb.database, reader)["handbook"]
    assert len(after) == len(before) + 1
    everything = trend(kb.database)["handbook"][-1].counts
    mine = after[-1].counts
    readable = sum(reader.can_read(r.acl) for r in kb.catalog.all_documents().values())
    assert mine["documents"] == readable < everything["documents"] == kb.catalog.count_documents()
    assert mine["served"] < everything["served"]
    with signed_in(base_url, "reader") as client:
        html = client.get("/").text
    row = re.search(r'<tr data-source="handbook">.*?</tr>', html, re.S)
    assert row is not None
    assert f"pages needing an owner over the last {len(after)} scans" in row.group(0)
    assert "<polyline" in row.group(0)


def test_the_history_keeps_the_last_scans_only(
    tmp_path: Path, hash_embedder: Any, make_settings: Any, write: Any
) -> None:
    from hygiene.history import KEEP_SCANS, record, trend

    write.markdown(tmp_path / "kb" / "a.md", "# A\n\nThe office opens at nine.\n")
    live = open_runtime(make_settings(tmp_path), embedder=hash_embedder)
    try:
        live.pipeline.run(FilesystemConnector(tmp_path / "kb", "local"))
        scan_hygiene(live)
        for scan_id in range(100, 100 + KEEP_SCANS + 5):
            with live.database.begin() as conn:
                record(conn, scan_id, utc_now())
        points = trend(live.database)["local"]
        assert [p.scan_id for p in points] == list(range(105, 100 + KEEP_SCANS + 5))
        assert points[-1].counts["documents"] == 1
    finally:
        live.close()


# -- evaluation ------------------------------------------------------------------------------


def _runs_of(html: str, golden_set: str) -> str:
    section = re.search(rf'<section [^>]*data-set="{golden_set}".*?</section>', html, re.S)
    assert section is not None, golden_set
    return section.group(0)


def test_each_run_is_a_point_on_the_chart_with_baselines_and_regressions_marked(
    base_url: str, kb: Runtime
) -> None:
    queries = [
        {"query": "travel policy meals", "relevant": [{"doc_id": TRAVEL, "grade": 1}]},
        {"query": "laptop replacement", "relevant": [{"doc_id": LAPTOP, "grade": 1}]},
        {"query": "robot battery runtime", "relevant": [{"doc_id": SPEC, "grade": 1}]},
    ]
    records = EvalRecords(kb.database)
    records.save_golden("chart-set", parse_records(queries), 10)
    first = evaluate_golden(kb, "chart-set")
    with signed_in(base_url, "reader") as client:
        section = _runs_of(client.get("/evaluation").text, "chart-set")
        assert section.count('<circle class="dot s0"') == 1
        assert section.count('class="mark baseline"') == 1  # the first run is the baseline
        second = evaluate_golden(kb, "chart-set")
        section = _runs_of(client.get("/evaluation").text, "chart-set")
        # A new run: a new point on each metric's line.
        for series in ("s0", "s1", "s2"):
            assert section.count(f'<circle class="dot {series}"') == 2
        assert f"run {second.run_id}: ndcg@10" in section
        assert 'class="mark regression"' not in section
        # A run stored as regressed is marked so.
        fallen = {"ndcg@10": {"baseline": 1.0, "value": 0.5, "drop": 0.5, "p_value": 0.01}}
        records.compared(second.run_id, first.run_id, fallen)
        section = _runs_of(client.get("/evaluation").text, "chart-set")
        assert section.count('class="mark regression"') == 1
        assert f"run {second.run_id} regressed" in section
        # A reader may not accept a baseline: no button.
        assert "/accept" not in section


def test_a_runs_worst_queries_and_two_runs_compared_query_by_query(
    base_url: str, kb: Runtime
) -> None:
    queries = [
        {"query": "travel policy 2023 per diem", "relevant": [{"doc_id": TRAVEL, "grade": 1}]},
        {"query": "zebra quantum banana", "relevant": [{"doc_id": SPEC, "grade": 1}]},
    ]
    EvalRecords(kb.database).save_golden("worst-set", parse_records(queries), 10)
    a = evaluate_golden(kb, "worst-set")
    b = evaluate_golden(kb, "worst-set")
    scores = b.per_query or {}
    with signed_in(base_url, "reader") as client:
        html = client.get(f"/evaluation/runs/{b.run_id}").text
        rows = re.findall(r'<tr data-query="([^"]+)">', html)
        assert sorted(rows) == sorted(scores)
        values = [scores[q]["ndcg@10"] for q in rows]
        assert values == sorted(values)  # the worst first
        html = client.get("/evaluation/compare", params={"a": a.run_id, "b": b.run_id}).text
        assert "zebra quantum banana" in html and "travel policy 2023 per diem" in html
        assert re.search(r'<tr><th scope="row">ndcg@10</th>', html)
        assert client.get("/evaluation/runs/999999").status_code == 404


def test_an_admin_accepts_a_baseline_audited_and_nobody_else_may(
    base_url: str, kb: Runtime
) -> None:
    queries = [{"query": "laptop policy", "relevant": [{"doc_id": LAPTOP, "grade": 1}]}]
    records = EvalRecords(kb.database)
    records.save_golden("accept-set", parse_records(queries), 10)
    evaluate_golden(kb, "accept-set")
    second = evaluate_golden(kb, "accept-set").run_id
    assert records.run(second).accepted_at is None
    for name in (DAVID, "reader"):
        with signed_in(base_url, name) as client:
            token = csrf_of(client.get("/evaluation").text)
            answer = client.post(f"/evaluation/runs/{second}/accept", data={"csrf": token})
            assert answer.status_code == 403, name
    with signed_in(base_url, "admin") as client:
        page = client.get("/evaluation").text
        assert f'action="/evaluation/runs/{second}/accept"' in page
        answer = client.post(f"/evaluation/runs/{second}/accept", data={"csrf": "forged"})
        assert answer.status_code == 403
        assert records.run(second).accepted_at is None
        answer = client.post(f"/evaluation/runs/{second}/accept", data={"csrf": csrf_of(page)})
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/evaluation?accepted={second}"
        after = client.get(answer.headers["location"]).text
        assert f"baseline run {second}" in _runs_of(after, "accept-set")
    baseline = records.baseline("accept-set")
    assert baseline is not None and baseline.run_id == second
    entry = HygieneRecords(kb.database).audit(1)[0]
    assert (entry["actor"], entry["action"], entry["subject"]) == (
        "admin",
        "accept_baseline",
        str(second),
    )


# -- document, diff, conflict filters ----------------------------------------------------------


def test_the_document_page_shows_chunks_in_order_traffic_feedback_and_history(
    base_url: str, kb: Runtime
) -> None:
    chunks = kb.store.document_chunks(SPEC)
    query_id = str(uuid.uuid4())
    hit = ScoredChunk(chunks[0].chunk_id, 0.7, chunks[0].payload)
    FeedbackRecords(kb.database).log_query(
        query_id, None, "hybrid", 10, 1.0, [hit], top_cosine=None
    )
    FeedbackRecords(kb.database).add(query_id, chunks[0].chunk_id, True, "spot on")
    retrieved = FeedbackRecords(kb.database).retrievals(utc_now() - timedelta(days=RECENT_DAYS))
    HygieneRecords(kb.database).hand_over(SPEC, "kenji.watanabe@brightwater.example", "admin")
    with signed_in(base_url, "reader") as client:
        html = client.get(f"/document/{SPEC}").text
    ordinals = [int(n) for n in re.findall(r'<div class="chunk" id="chunk-(\d+)">', html)]
    assert ordinals == sorted(ordinals) and len(ordinals) == len(chunks)
    assert 'id="metadata"' in html and "kenji.watanabe@brightwater.example" in html
    assert f'<span id="retrieved">{retrieved[SPEC]}</span>' in html
    assert "spot on" in html and "relevant" in html
    history = re.search(r'<table id="doc-audit">.*?</table>', html, re.S)
    assert history is not None and "hand_over" in history.group(0)
    # Every list links to it.
    with signed_in(base_url, "admin") as client:
        for path in ["/queue", "/duplicates", "/conflicts?show=all"]:
            assert 'href="/document/' in client.get(path).text, path
        assert client.get("/document/0123456789abcdef0123456789abcdef").status_code == 404


def test_a_copy_is_diffed_against_its_canonical_text_escaped(
    tmp_path: Path, hash_embedder: Any, make_settings: Any, serve_app: Any, write: Any
) -> None:
    body = "\n\n".join(f"Paragraph {n} of the handbook says the same thing." for n in range(12))
    write.text(tmp_path / "kb" / "a.txt", f"{body}\n\nThe limit is 500 <b>euros</b>.\n")
    write.text(tmp_path / "kb" / "b.txt", f"{body}\n\nThe limit is 700 <b>euros</b>.\n")
    live = open_runtime(make_settings(tmp_path), embedder=hash_embedder)
    try:
        live.pipeline.run(FilesystemConnector(tmp_path / "kb", "local"))
        a, b = document_id("local", "a.txt"), document_id("local", "b.txt")
        with serve_app(create_app(live.settings, live)) as url, browser(url) as client:
            html = client.get("/duplicates/diff", params={"canonical": a, "member": b}).text
            same = client.get("/duplicates/diff", params={"canonical": a, "member": a}).text
        table = re.search(r'<table class="diff" id="diff">.*?</table>', html, re.S)
        assert table is not None
        assert "<del>500</del>" in table.group(0) and "<ins>700</ins>" in table.group(0)
        assert "<b>" not in table.group(0) and "&lt;b&gt;" in table.group(0)
        assert 'id="diff-same"' in same and 'id="diff-same"' not in html
        # Long unchanged runs fold into one row, which shows (not the skip link's hidden class).
        assert '<tr class="folded">' in same and "unchanged lines" in same
    finally:
        live.close()


def test_conflicts_filter_by_kind_source_owner_and_resolution(base_url: str, kb: Runtime) -> None:
    every = report.conflicts(kb.database, report.Filters(), include_resolved=True)
    if not every:
        pytest.skip("this scan found no conflict in the sample")
    kind = every[0]["kind"]
    with signed_in(base_url, "admin") as client:

        def listed(**params: str) -> set[str]:
            return set(
                re.findall(
                    r'data-conflict="([0-9a-f]+)"', client.get("/conflicts", params=params).text
                )
            )

        assert listed(show="all") == {c["id"] for c in every}
        assert listed(show="all", kind=kind) == {c["id"] for c in every if c["kind"] == kind}
        assert listed(show="resolved") == {c["id"] for c in every if c["resolution"]}
        assert listed(show="open") == {c["id"] for c in every if not c["resolution"]}
        assert listed(show="all", source="no-such-source") == set()
        owner = every[0]["a"]["owner"]
        if owner:
            mine = report.conflicts(kb.database, report.Filters(owner=owner), include_resolved=True)
            assert listed(show="all", owner=owner) == {c["id"] for c in mine}
        html = client.get("/conflicts", params={"show": "all", "kind": kind}).text
        assert f'<option value="{kind}" selected>' in html


# -- playground, gaps, audit, sources ----------------------------------------------------------


def test_the_playground_shows_scores_flags_factors_and_takes_a_judgement(
    base_url: str, kb: Runtime
) -> None:
    with signed_in(base_url, "admin") as client:
        html = client.get("/playground", params={"q": "purchasing approvals thresholds"}).text
        docs = re.findall(r'<li class="result" data-doc="([0-9a-f]+)"', html)
        assert PURCHASING in docs
        assert re.search(r'<strong class="score">\d\.\d{3}</strong>', html)
        result = re.search(rf'<li class="result" data-doc="{PURCHASING}".*?</li>', html, re.S)
        assert result is not None
        # The restricted page's review expired: it is flagged, and the factor shows.
        assert "stale" in result.group(0) and "expired ×" in result.group(0)
        chunk = re.search(r'data-chunk="([0-9a-f-]+)"', result.group(0))
        query_id = re.search(r'name="query_id" value="([^"]+)"', html)
        assert chunk and query_id
        answer = client.post(
            "/playground/feedback",
            data={
                "csrf": csrf_of(html),
                "query_id": query_id.group(1),
                "chunk_id": chunk.group(1),
                "relevant": "0",
            },
        )
        assert (
            answer.status_code == 303
            and answer.headers["location"] == "/playground?judged=not%20relevant"
        )
        assert 'id="done"' in client.get(answer.headers["location"]).text
    judged = FeedbackRecords(kb.database).feedback_of(PURCHASING)[0]
    assert judged["chunk_id"] == chunk.group(1) and judged["relevant"] is False
    with signed_in(base_url, "reader") as client:
        html = client.get("/playground", params={"q": "purchasing approvals thresholds"}).text
        assert PURCHASING not in html and re.search(r'class="result"', html)


def test_knowledge_gaps_group_similar_unanswered_questions(base_url: str, kb: Runtime) -> None:
    log = FeedbackRecords(kb.database)
    for text in ["parking at the moon office", "moon office parking", "Parking moon office?"]:
        assert log.log_query(str(uuid.uuid4()), text, "hybrid", 10, 1.0, [], top_cosine=None)
    assert log.log_query(
        str(uuid.uuid4()), "submarine fleet maintenance", "hybrid", 10, 1.0, [], top_cosine=None
    )
    with signed_in(base_url, DAVID) as client:
        html = client.get("/gaps").text
    rows = re.findall(
        r'<tr><th scope="row">(.*?)</th><td class="num">(\d+)</td>'
        r'<td class="num">(\d+)</td>(.*?)</tr>',
        html,
        re.S,
    )
    groups = {label: (int(asked), int(empty), examples) for label, asked, empty, examples in rows}
    moon = next(v for k, v in groups.items() if "moon" in k)
    assert moon[:2] == (3, 3) and moon[2].count("<li>") == 3
    assert next(v for k, v in groups.items() if "submarine" in k)[:2] == (1, 1)
    with signed_in(base_url, "reader") as client:
        assert client.get("/gaps").status_code == 403  # other people's questions: owners only


def test_the_audit_log_filters_by_actor_action_and_document(base_url: str, kb: Runtime) -> None:
    HygieneRecords(kb.database).hand_over(LAPTOP, "lena.fischer@brightwater.example", "admin")
    entries = HygieneRecords(kb.database).audit(1000)
    with signed_in(base_url, "admin") as client:

        def listed(**params: str) -> list[int]:
            html = client.get("/audit", params=params).text
            return [int(n) for n in re.findall(r'<tr data-entry="(\d+)">', html)]

        assert (
            listed(actor="admin") == [e["entry_id"] for e in entries if e["actor"] == "admin"][:50]
        )
        assert (
            listed(action="hand_over")
            == [e["entry_id"] for e in entries if e["action"] == "hand_over"][:50]
        )
        about = listed(document=LAPTOP)
        assert about and all(LAPTOP in str(e) for e in entries if e["entry_id"] in about)
        assert listed(actor="nobody@x") == []


def test_the_sources_page_lists_each_source_and_its_recent_syncs(
    base_url: str, kb: Runtime
) -> None:
    reader = kb.settings.auth.key_ring().resolve(KEYS["reader"])
    readable = sum(reader.can_read(r.acl) for r in kb.catalog.all_documents().values())
    with signed_in(base_url, "reader") as client:
        html = client.get("/source-syncs").text
    section = re.search(
        r'<section class="card source" data-source="handbook".*?</section>', html, re.S
    )
    assert section is not None
    assert f"{readable} documents you may read" in section.group(0)
    assert '<span class="tag status-ok">ok</span>' in section.group(0)
    assert "sync now" not in html.lower()
