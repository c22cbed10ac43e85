"""The Sources page's "Sync now" over a real server: an admin starts a declared source's sync
through the same runs as POST /sources/{name}/sync, comes back to the page and follows the run
to its result; the sync is audited with the signed-in admin. A reader sees no button and is
refused (403) when posting the form anyway; a form without the session's token is refused."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from app.after_sync import AfterSync
from app.runtime import Runtime
from hygiene.records import HygieneRecords
from steward.settings import AccessSettings, KeyEntry

KEYS = {"admin": "sync-admin-key-000001", "reader": "sync-reader-key-00001"}


@pytest.fixture
def served(
    open_home: Any, hash_embedder: Any, write: Any, tmp_path: Path, serve_app: Any
) -> Iterator[tuple[Runtime, str]]:
    """A server with access control over a home whose steward.yaml declares `kb` (3 pages)."""
    folder = tmp_path / "kb"
    for n in range(3):
        write.text(folder / f"doc{n}.txt", f"Procedure {n}: how step {n} of the line is run.\n")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "steward.yaml").write_text(
        f"sources:\n  kb:\n    connector: filesystem\n    path: {folder}\n"
    )
    access = AccessSettings(
        keys=[
            KeyEntry(name="admin", role="admin", key=KEYS["admin"]),
            KeyEntry(name="reader", role="reader", groups=["staff"], key=KEYS["reader"]),
        ]
    )
    live = open_home("a", hash_embedder, auth=access, jobs={"embedded_scheduler": False})
    with serve_app(create_app(live.settings, live)) as url:
        yield live, url


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@contextmanager
def signed_in(url: str, name: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=60, follow_redirects=False) as client:
        token = csrf_of(client.get("/sign-in").text)
        answer = client.post("/sign-in", data={"csrf": token, "key": KEYS[name], "next": "/"})
        assert answer.status_code == 303, answer.text
        yield client


def run_status(html: str) -> str | None:
    found = re.search(r'<div class="sync-run" role="status" data-status="(\w+)"', html)
    return found.group(1) if found else None


def test_an_admin_syncs_a_source_from_the_page_and_follows_its_run(
    served: tuple[Runtime, str],
) -> None:
    live, url = served
    with signed_in(url, "admin") as client:
        page = client.get("/source-syncs").text
        assert 'action="/source-syncs/kb/sync"' in page and "Sync now" in page
        assert run_status(page) is None  # no run asked for yet
        answer = client.post("/source-syncs/kb/sync", data={"csrf": csrf_of(page)})
        assert answer.status_code == 303, answer.text
        location = answer.headers["location"]
        run_id = re.fullmatch(r"/source-syncs\?run=([0-9a-f-]{36})#source-kb", location)
        assert run_id is not None, location

        # The page follows the run: queued or running, then its result.
        deadline = time.monotonic() + 60
        while True:
            html = client.get(location.split("#")[0]).text
            status = run_status(html)
            assert status in ("queued", "running", "ok"), html
            if status == "ok" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert status == "ok"
        shown = re.search(r'<div class="sync-run".*?</div>', html, re.S)
        assert shown is not None and "3 new" in shown.group(0) and "0 deleted" in shown.group(0)
        # The same run as the API reports it, and its documents in the catalog.
        api = httpx.get(
            f"{url}/sources/kb/sync/{run_id.group(1)}",
            headers={"Authorization": f"Bearer {KEYS['admin']}"},
        ).json()
        assert api["status"] == "ok" and api["result"]["new"] == 3
    assert len(live.catalog.documents_of("kb")) == 3
    [entry] = [e for e in HygieneRecords(live.database).audit(100) if e["action"] == "sync"]
    assert (entry["actor"], entry["subject"]) == ("admin", "kb")
    assert entry["detail"]["run_id"] == run_id.group(1)


def test_a_reader_sees_no_button_and_is_refused(served: tuple[Runtime, str]) -> None:
    live, url = served
    with signed_in(url, "reader") as client:
        page = client.get("/source-syncs").text
        assert "Sync now" not in page and "/sync" not in page
        answer = client.post("/source-syncs/kb/sync", data={"csrf": csrf_of(page)})
        assert answer.status_code == 403
        assert "needs the admin role" in answer.text
        # A run id in the address shows nothing to a reader either.
        assert run_status(client.get("/source-syncs?run=anything").text) is None
    with signed_in(url, "admin") as client:
        # Without this session's token, an admin's form is refused too.
        answer = client.post("/source-syncs/kb/sync", data={"csrf": "forged"})
        assert answer.status_code == 403
        missing = client.post(
            "/source-syncs/nope/sync", data={"csrf": csrf_of(client.get("/source-syncs").text)}
        )
        assert missing.status_code == 404 and "nope" in missing.text
    assert live.catalog.runs_of("kb") == []
    assert not [e for e in HygieneRecords(live.database).audit(100) if e["action"] == "sync"]


def test_asking_again_while_a_sync_runs_follows_the_running_one(
    served: tuple[Runtime, str],
) -> None:
    live, url = served
    release, held = threading.Event(), threading.Event()

    def hold(_summary: dict[str, Any]) -> None:  # a step after the sync: it is still running
        held.set()
        release.wait(30)

    live.after_sync.append(AfterSync(None, hold))
    try:
        with signed_in(url, "admin") as client:
            token = csrf_of(client.get("/source-syncs").text)
            first = client.post("/source-syncs/kb/sync", data={"csrf": token})
            assert first.status_code == 303 and held.wait(30)
            running = client.get(first.headers["location"].split("#")[0]).text
            assert run_status(running) == "running"
            assert "refresh" in running  # a link that follows the run
            again = client.post("/source-syncs/kb/sync", data={"csrf": token})
            assert again.status_code == 303
            assert again.headers["location"] == first.headers["location"]
    finally:
        release.set()
