"""The dashboard in a real browser: headless Debian chromium driven by Playwright for Python.

An owner signs in with an API key, opens the queue, verifies one of the sample knowledge
base's expired pages and sees it leave the queue; no page logs a console error. Screenshots of
each page at 1280 and 390 px wide (every page of the dashboard, the evaluation chart gaining a
point for a new run) are saved under the test's tmp dir, or under $DASHBOARD_SCREENSHOTS when
it is set. `.ci/run` installs
chromium; locally the tests skip, saying why, when it or Playwright is missing.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from app.hygiene import scan_hygiene
from app.runtime import Runtime, open_runtime
from connectors.filesystem import FilesystemConnector
from evaluation.golden import parse_records
from evaluation.runs import EvalRecords, evaluate_golden
from hygiene import report
from hygiene.records import HygieneRecords
from ingest.pipeline import document_id
from steward.settings import AccessSettings, KeyEntry

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
KB = Path(__file__).resolve().parents[1] / "examples" / "sample-kb"
OWNER = "david.chen@brightwater.example"
OWNER_KEY = "david-browser-key-0001"
TRAVEL = document_id("handbook", "finance/travel-policy-2023.md")
LAPTOP = document_id("handbook", "it/laptop-policy.md")

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright for Python is not installed (pip install -e .[dev])"
)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="no chromium at /usr/bin/chromium (apt-get install -y chromium; CI installs it)",
    ),
]


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, hash_embedder: Any, make_settings: Any
) -> Iterator[Runtime]:
    root = tmp_path_factory.mktemp("dashboard-browser")
    keys = AccessSettings(
        keys=[KeyEntry(name=OWNER, role="owner", groups=["staff"], key=OWNER_KEY)]
    )
    runtime: Runtime = open_runtime(make_settings(root, auth=keys), embedder=hash_embedder)
    try:
        assert runtime.pipeline.run(FilesystemConnector(KB, "handbook")).status == "ok"
        scan_hygiene(runtime)
        yield runtime
    finally:
        runtime.close()


@pytest.fixture(scope="module")
def base_url(live: Runtime, serve_app: Any) -> Iterator[str]:
    with serve_app(create_app(live.settings, live)) as url:
        yield url
    entries = HygieneRecords(live.database).audit(10)
    assert (OWNER, "verify", TRAVEL) in [(e["actor"], e["action"], e["subject"]) for e in entries]


@pytest.fixture(scope="module")
def page(base_url: str) -> Iterator[Any]:
    with playwright_api.sync_playwright() as driver:
        chromium = driver.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        tab = context.new_page()
        errors: list[str] = []
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.console_errors = errors
        yield tab
        chromium.close()


def test_an_owner_signs_in_verifies_a_page_and_sees_it_leave_the_queue(
    base_url: str, page: Any, tmp_path: Path
) -> None:
    shots = Path(os.environ.get("DASHBOARD_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page.goto(f"{base_url}/queue")
    assert page.url.startswith(f"{base_url}/sign-in")
    page.get_by_label("API key").fill(OWNER_KEY)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/queue")
    assert page.locator("#principal").inner_text() == OWNER
    row = page.locator(f'tr[data-doc="{TRAVEL}"]')
    assert row.count() == 1
    assert "review expired" in row.inner_text()
    listed = page.locator("#queue tbody tr").count()
    page.screenshot(path=str(shots / "queue-before-verify-1280.png"), full_page=True)

    row.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{base_url}/queue?done=verified")
    assert page.locator("#done").is_visible()
    assert page.locator(f'tr[data-doc="{TRAVEL}"]').count() == 0
    assert page.locator("#queue tbody tr").count() == listed - 1

    for path, name in [
        ("/", "overview"),
        ("/duplicates", "duplicates"),
        ("/conflicts", "conflicts"),
        ("/queue", "queue"),
    ]:
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{base_url}{path}")
            assert page.locator("h1").is_visible()
            page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
            # Nothing wider than the window at 390 px but the tables' own scrolling boxes.
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, (path, width, overflow)
    assert page.console_errors == []


def _screens(page: Any, base_url: str, shots: Path, pages: list[tuple[str, str]]) -> None:
    """Each page at both widths: a heading, a screenshot, nothing wider than the window."""
    for path, name in pages:
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 900})
            answer = page.goto(f"{base_url}{path}")
            assert answer is not None and answer.status == 200, path
            assert page.locator("h1").is_visible()
            page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, (path, width, overflow)


def test_every_other_page_renders_at_both_widths_without_console_errors(
    base_url: str, live: Runtime, page: Any, tmp_path: Path
) -> None:
    shots = Path(os.environ.get("DASHBOARD_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    queries = [
        {"query": "travel policy", "relevant": [{"doc_id": TRAVEL, "grade": 1}]},
        {"query": "laptop replacement", "relevant": [{"doc_id": LAPTOP, "grade": 1}]},
    ]
    EvalRecords(live.database).save_golden("handbook-set", parse_records(queries), 10)
    first, second = (evaluate_golden(live, "handbook-set").run_id for _ in range(2))
    owner = live.settings.auth.key_ring().resolve(OWNER_KEY)
    clusters = report.duplicates(live.database, report.Filters(reader=owner))
    canonical, member = clusters[0]["canonical"]["doc_id"], clusters[0]["members"][0]["doc_id"]
    if not page.url.startswith(base_url) or "sign-in" in page.url:
        page.goto(f"{base_url}/sign-in")
        page.get_by_label("API key").fill(OWNER_KEY)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base_url}/queue")
    # A run added now is a new point on the chart.
    page.goto(f"{base_url}/evaluation")
    dots = page.locator('[data-set="handbook-set"] circle.dot.s0').count()
    assert dots == 2
    evaluate_golden(live, "handbook-set")
    page.goto(f"{base_url}/evaluation")
    assert page.locator('[data-set="handbook-set"] circle.dot.s0').count() == dots + 1
    # Filters and the playground are labelled forms that work from the keyboard too.
    page.goto(f"{base_url}/playground")
    page.get_by_label("Query").fill("travel policy")
    page.get_by_label("Query").press("Enter")
    page.wait_for_url(re.compile(r".*/playground\?q=travel\+policy.*"))
    assert page.locator("li.result").count() > 0
    _screens(
        page,
        base_url,
        shots,
        [
            ("/evaluation", "evaluation"),
            # The overview again, now with a golden set's scores and answers served.
            ("/", "overview-with-runs"),
            (f"/evaluation/runs/{second}", "run"),
            (f"/evaluation/compare?a={first}&b={second}", "compare"),
            (f"/document/{TRAVEL}", "document"),
            (f"/duplicates/diff?canonical={canonical}&member={member}", "diff"),
            ("/conflicts?show=all", "conflicts-all"),
            ("/playground?q=travel+policy", "playground"),
            ("/gaps", "gaps"),
            ("/audit", "audit"),
            ("/source-syncs", "sources"),
        ],
    )
    assert page.console_errors == []


ADMIN_KEY = "admin-browser-key-0001"


@pytest.fixture
def declared(
    open_home: Any, hash_embedder: Any, write: Any, tmp_path: Path, serve_app: Any
) -> Iterator[str]:
    """A server over a home whose steward.yaml declares `kb` (3 pages), with an admin's key."""
    folder = tmp_path / "kb"
    for n in range(3):
        write.text(folder / f"doc{n}.txt", f"Procedure {n}: how step {n} of the line is run.\n")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "steward.yaml").write_text(
        f"sources:\n  kb:\n    connector: filesystem\n    path: {folder}\n"
    )
    keys = AccessSettings(keys=[KeyEntry(name="admin", role="admin", key=ADMIN_KEY)])
    runtime = open_home("a", hash_embedder, auth=keys, jobs={"embedded_scheduler": False})
    with serve_app(create_app(runtime.settings, runtime)) as url:
        yield url


def test_an_admin_syncs_a_source_now_and_follows_its_run(
    declared: str, page: Any, tmp_path: Path
) -> None:
    shots = Path(os.environ.get("DASHBOARD_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    # The module's browser, a context of its own (another server, another session).
    context = page.context.browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    try:
        tab.goto(f"{declared}/source-syncs")
        tab.get_by_label("API key").fill(ADMIN_KEY)
        tab.get_by_role("button", name="Sign in").click()
        tab.wait_for_url(f"{declared}/source-syncs")
        source = tab.locator('section[data-source="kb"]')
        assert "Never synced" in source.inner_text()
        source.get_by_role("button", name="Sync kb now").click()
        tab.wait_for_url(re.compile(r".*/source-syncs\?run=[0-9a-f-]{36}#source-kb$"))
        status = tab.locator('section[data-source="kb"] .sync-run')
        for _ in range(200):  # the page follows the run: reload until it ended
            if status.get_attribute("data-status") in ("ok", "failed"):
                break
            tab.wait_for_timeout(100)
            tab.reload()
        assert status.get_attribute("data-status") == "ok"
        assert "3 new" in status.inner_text()
        # The run is in the catalog's list of the source's syncs too.
        assert tab.locator('section[data-source="kb"] table.source-runs tbody tr').count() == 1
        tab.screenshot(path=str(shots / "sources-sync-1280.png"), full_page=True)
        assert errors == []
    finally:
        context.close()
