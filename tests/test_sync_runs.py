"""Syncs over HTTP in the embedded mode: POST /sources/{name}/sync answers a run id at once, the
sync runs in a thread of the server, GET follows its progress and result; one per source."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from app.after_sync import AfterSync


def wait_until_done(url: str, location: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = httpx.get(f"{url}{location}").json()
        if run["status"] in ("ok", "failed"):
            return run
        time.sleep(0.05)
    raise AssertionError(f"the run at {location} did not end: {run}")


@pytest.fixture
def served(open_home, hash_embedder, write, tmp_path: Path, serve_app):
    """A server over a home whose steward.yaml declares `kb` (3 documents) and `manual`."""
    folder = tmp_path / "kb"
    for n in range(3):
        write.text(folder / f"doc{n}.txt", f"Procedure {n}: how step {n} of the line is run.\n")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "steward.yaml").write_text(
        "sources:\n"
        f"  kb:\n    connector: filesystem\n    path: {folder}\n"
        f"  manual:\n    connector: filesystem\n    path: {folder}\n"
    )
    live = open_home("a", hash_embedder, jobs={"embedded_scheduler": False})
    with serve_app(create_app(live.settings, live)) as url:
        yield live, url


def test_a_sync_answers_a_run_id_at_once_and_its_run_reports_counts(served) -> None:
    live, url = served
    answer = httpx.post(f"{url}/sources/kb/sync")
    assert answer.status_code == 202, answer.text
    run = answer.json()
    assert run["status"] in ("queued", "running") and run["source"] == "kb"
    assert answer.headers["location"] == f"/sources/kb/sync/{run['run_id']}"

    done = wait_until_done(url, answer.headers["location"])
    assert done["status"] == "ok" and done["error"] is None
    assert (done["result"]["new"], done["result"]["listed"], done["result"]["skipped"]) == (3, 3, 0)
    assert done["progress"]["read"] == 3 and done["progress"]["indexed"] == 3
    assert done["started_at"] >= done["requested_at"] and done["finished_at"] >= done["started_at"]
    # The same run, as the catalog saw it.
    [listed] = [s for s in httpx.get(f"{url}/sources").json() if s["name"] == "kb"]
    assert listed["documents"] == 3 and listed["last_run"]["status"] == "ok"
    assert live.store.count() > 0


def test_one_sync_per_source_at_a_time(served) -> None:
    live, url = served
    release = threading.Event()
    held = threading.Event()

    def hold(_summary: dict[str, Any]) -> None:  # a step after the sync: it is still running
        held.set()
        release.wait(30)

    live.after_sync.append(AfterSync(None, hold))
    first = httpx.post(f"{url}/sources/kb/sync").json()
    assert held.wait(30)
    running = httpx.get(f"{url}/sources/kb/sync/{first['run_id']}").json()
    assert running["status"] == "running" and running["progress"]["read"] == 3

    refused = httpx.post(f"{url}/sources/kb/sync")
    assert refused.status_code == 409
    assert first["run_id"] in refused.json()["detail"] and "'kb'" in refused.json()["detail"]
    other = httpx.post(f"{url}/sources/manual/sync")  # another source is not held up
    assert other.status_code == 202

    release.set()
    assert wait_until_done(url, f"/sources/kb/sync/{first['run_id']}")["status"] == "ok"
    wait_until_done(url, f"/sources/manual/sync/{other.json()['run_id']}")
    again = httpx.post(f"{url}/sources/kb/sync")
    assert again.status_code == 202 and again.json()["run_id"] != first["run_id"]
    wait_until_done(url, again.headers["location"])


def test_unknown_sources_and_runs_are_404_and_a_failed_sync_says_why(
    served, tmp_path: Path
) -> None:
    live, url = served
    missing = httpx.post(f"{url}/sources/nope/sync")
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    assert httpx.get(f"{url}/sources/kb/sync/no-such-run").status_code == 404

    run = httpx.post(f"{url}/sources/kb/sync").json()
    # A run is found under its own source only.
    assert httpx.get(f"{url}/sources/manual/sync/{run['run_id']}").status_code == 404
    wait_until_done(url, f"/sources/kb/sync/{run['run_id']}")

    # The folder goes away: the sync fails, and the run carries the reason.
    for path in (tmp_path / "kb").iterdir():
        path.unlink()
    (tmp_path / "kb").rmdir()
    failed = wait_until_done(url, httpx.post(f"{url}/sources/kb/sync").headers["location"])
    assert failed["status"] == "failed" and "not a readable folder" in failed["error"]
    assert failed["result"]["status"] == "failed"


def test_a_scheduled_sync_is_a_run_and_waits_its_turn(served) -> None:
    from datetime import UTC, datetime

    from app.sync_runs import ThreadSyncRuns
    from jobs.scheduler import EmbeddedScheduler

    live, _ = served
    runs = ThreadSyncRuns(live)
    release, held = threading.Event(), threading.Event()

    def hold(_summary: dict[str, Any]) -> None:
        held.set()
        release.wait(30)

    live.after_sync.append(AfterSync(None, hold))
    started = runs.start("kb")
    assert held.wait(30)
    noon = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    path = live.settings.home.sources_file
    path.write_text(path.read_text().replace("path:", "schedule: '*/5 * * * *'\n    path:", 1))
    scheduler = EmbeddedScheduler(live, path, clock=lambda: noon, sync=runs.run)
    (refused,) = scheduler.run_due(datetime(2026, 12, 1, 12, 5, tzinfo=UTC))
    assert refused["status"] == "failed" and started.run_id in refused["error"]

    release.set()
    assert runs.wait(started.run_id, 30).status == "ok"
    (done,) = scheduler.run_due(datetime(2026, 12, 1, 12, 10, tzinfo=UTC))
    assert (done["source"], done["status"], done["unchanged"]) == ("kb", "ok", 3)
    runs.close()


def test_a_run_is_still_read_after_a_restart_and_one_left_running_is_interrupted(
    make_settings, hash_embedder, write, tmp_path: Path, serve_app
) -> None:
    from app.runtime import open_runtime
    from steward.domain import utc_now

    folder = tmp_path / "kb"
    for n in range(3):
        write.text(folder / f"doc{n}.txt", f"Procedure {n}: how step {n} of the line is run.\n")
    root = tmp_path / "a"
    root.mkdir()
    (root / "steward.yaml").write_text(
        f"sources:\n  kb:\n    connector: filesystem\n    path: {folder}\n"
    )
    settings = make_settings(root, jobs={"embedded_scheduler": False})

    first = open_runtime(settings, embedder=hash_embedder)
    try:
        with serve_app(create_app(settings, first)) as url:
            location = httpx.post(f"{url}/sources/kb/sync").headers["location"]
            finished = wait_until_done(url, location)
        # What a server that died mid-sync leaves behind: a run recorded as running.
        first.catalog.add_sync_run(
            {
                "run_id": "left-running",
                "source": "kb",
                "status": "running",
                "requested_at": utc_now(),
                "started_at": utc_now(),
                "finished_at": None,
                "progress": {"stage": "read", "read": 1},
                "result": None,
                "error": None,
            }
        )
    finally:
        first.close()

    second = open_runtime(settings, embedder=hash_embedder)  # the restart: same home
    try:
        with serve_app(create_app(settings, second)) as url:
            again = httpx.get(f"{url}{location}")
            assert again.status_code == 200, again.text
            assert again.json() == finished and finished["status"] == "ok"
            assert finished["result"]["new"] == 3
            stopped = httpx.get(f"{url}/sources/kb/sync/left-running").json()
            assert stopped["status"] == "interrupted" and "interrupted" in stopped["error"]
            assert stopped["finished_at"] is not None and stopped["progress"]["read"] == 1
            # The source is not held by the dead run: a new sync starts.
            assert (
                wait_until_done(url, httpx.post(f"{url}/sources/kb/sync").headers["location"])[
                    "result"
                ]["unchanged"]
                == 3
            )
    finally:
        second.close()
