"""Scheduled syncs: the embedded scheduler, and real Celery workers on Redis and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from celery import Celery
from sqlalchemy import create_engine, text

from app.runtime import open_runtime
from connectors.filesystem import FilesystemConnector
from ingest.check import check
from jobs.celery_app import beat_schedule
from jobs.scheduler import EmbeddedScheduler
from steward.settings import CatalogSettings, HomeSettings, Settings

CELERY = Path(sys.executable).with_name("celery")
# A database of the machine's Redis that only these tests use; two suites running at once (two
# checkouts) each take their own, or their workers would take each other's tasks.
REDIS_DB = int(os.environ.get("STEWARD_TEST_REDIS_DB", "14"))


def sources_file(root: Path, folder: Path, schedule: str | None = "*/5 * * * *") -> Path:
    path = root / "steward.yaml"
    root.mkdir(parents=True, exist_ok=True)
    lines = ["sources:", "  kb:", "    connector: filesystem", f"    path: {folder}"]
    if schedule:
        lines.append(f"    schedule: '{schedule}'")
    lines += ["  manual:", "    connector: filesystem", f"    path: {folder}"]
    path.write_text("\n".join(lines) + "\n")
    return path


# -- embedded scheduler ----------------------------------------------------------------------


@pytest.fixture
def declared(open_home, hash_embedder, write, tmp_path: Path):
    """A runtime whose steward.yaml declares `kb` (every 5 minutes) and `manual` (no schedule)."""
    folder = tmp_path / "kb"
    write.text(folder / "a.txt", "Parking permits are renewed every January.\n")
    sources_file(tmp_path / "a", folder)
    return open_home("a", hash_embedder)


def test_embedded_scheduler_syncs_a_source_when_its_time_comes(declared) -> None:
    live = declared
    start = datetime(2026, 11, 26, 10, 2, tzinfo=UTC)
    scheduler = EmbeddedScheduler(live, live.settings.home.sources_file, clock=lambda: start)
    assert scheduler.next_runs == {"kb": datetime(2026, 11, 26, 10, 5, tzinfo=UTC)}  # not manual

    assert scheduler.run_due(datetime(2026, 11, 26, 10, 4, tzinfo=UTC)) == []
    (summary,) = scheduler.run_due(datetime(2026, 11, 26, 10, 5, tzinfo=UTC))
    assert (summary["source"], summary["status"], summary["new"]) == ("kb", "ok", 1)
    assert scheduler.next_runs["kb"] == datetime(2026, 11, 26, 10, 10, tzinfo=UTC)
    assert check(live.catalog, live.store).clean
    recorded = live.catalog.source("kb")
    assert recorded is not None and recorded["connector"] == "filesystem"
    assert recorded["config"]["schedule"] == "*/5 * * * *"


def test_beat_schedule_has_one_entry_per_scheduled_source(tmp_path: Path) -> None:
    path = sources_file(tmp_path, tmp_path / "kb", schedule="15 3 * * 1")
    schedule = beat_schedule(path)
    assert list(schedule) == ["sync kb"]
    entry = schedule["sync kb"]
    assert (entry["task"], entry["args"]) == ("steward.sync_source", ("kb",))
    assert entry["schedule"].is_due(datetime(2026, 11, 23, 3, 15, tzinfo=UTC))  # a Monday
    assert beat_schedule(tmp_path / "missing.yaml") == {}


# -- Celery workers (the machine's Redis and PostgreSQL) ----------------------------------


@pytest.fixture
def broker() -> Iterator[str]:
    url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()


def worker_env(home: Path, catalog: str, sources: Path, broker: str) -> dict[str, str]:
    return {
        **os.environ,
        "STEWARD_HOME": str(home),
        "STEWARD_CATALOG_URL": catalog,
        "STEWARD_SOURCES_FILE": str(sources),
        "STEWARD_JOBS_BROKER_URL": broker,
        "STEWARD_JOBS_RESULT_BACKEND": broker,
        "STEWARD_JOBS_VISIBILITY_TIMEOUT_S": "3",
        "STEWARD_JOBS_LOCK_TTL_S": "3",
        "STEWARD_INGEST_BATCH_DOCUMENTS": "4",
    }


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(CELERY), "-A", "jobs.celery_app", "worker", "--pool=solo", "--loglevel=INFO"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:  # a warm shutdown can wait on an absent broker
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def producer(broker: str) -> Celery:
    return Celery("steward-test", broker=broker, backend=broker)


def count_rows(url: str, table: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"select count(*) from {table}")).scalar_one())
    except Exception:
        return 0  # the schema is not there yet
    finally:
        engine.dispose()


def catalog_count(url: str) -> int:
    return count_rows(url, "documents")


def write_corpus(write, folder: Path, count: int) -> None:
    for n in range(count):
        write.text(folder / f"doc{n:03d}.txt", f"Procedure {n}: how step {n} of the line is run.\n")


def index_state(settings: Settings, embedder) -> dict[str, list[str]]:
    live = open_runtime(settings, embedder=embedder)
    try:
        report = check(live.catalog, live.store)
        assert report.clean, report.as_dict()
        state = {
            row.source_uri: [c.chunk_id for c in live.store.document_chunks(row.doc_id)]
            for row in live.catalog.documents_of("kb").values()
        }
        assert all(state.values()), "every document must have chunks"
        return state
    finally:
        live.close()


@pytest.mark.services
@pytest.mark.slow
def test_a_worker_syncs_a_source_by_name(
    broker: str, postgres_url: str, embedder, write, tmp_path: Path
) -> None:
    folder = tmp_path / "kb"
    write_corpus(write, folder, 6)
    sources = sources_file(tmp_path, folder)
    env = worker_env(tmp_path / "home", postgres_url, sources, broker)
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        result = producer(broker).send_task("steward.sync_source", args=["kb"])
        summary = result.get(timeout=180)
    finally:
        stop(worker)
    assert (summary["status"], summary["new"]) == ("ok", 6), summary
    settings = Settings(
        home=HomeSettings(home=tmp_path / "home"), catalog=CatalogSettings(url=postgres_url)
    )
    assert len(index_state(settings, embedder)) == 6


@pytest.mark.services
@pytest.mark.slow
def test_a_killed_worker_s_sync_is_redelivered_and_ends_like_an_uninterrupted_one(
    broker: str, postgres_url: str, embedder, write, tmp_path: Path
) -> None:
    folder = tmp_path / "kb"
    total = 80
    write_corpus(write, folder, total)
    sources = sources_file(tmp_path, folder)
    env = worker_env(tmp_path / "home", postgres_url, sources, broker)
    log = tmp_path / "worker.log"

    worker = start_worker(env, log)
    result = producer(broker).send_task("steward.sync_source", args=["kb"])
    deadline = time.monotonic() + 180
    seen = 0
    while time.monotonic() < deadline and not 0 < seen < total:
        seen = catalog_count(postgres_url)
        assert worker.poll() is None, log.read_text()[-2000:]
        time.sleep(0.01)
    stop(worker, signal.SIGKILL)  # mid-sync: some documents are in the catalog, not all
    assert 0 < seen < total, f"could not catch the sync half-way ({seen} of {total})"

    worker = start_worker(env, log)  # the unacknowledged task comes back to this one
    try:
        summary = result.get(timeout=240)
    finally:
        stop(worker)
    assert summary["status"] == "ok", summary
    assert summary["unchanged"] + summary["new"] == total

    killed = Settings(
        home=HomeSettings(home=tmp_path / "home"), catalog=CatalogSettings(url=postgres_url)
    )
    reference = Settings(home=HomeSettings(home=tmp_path / "reference"))
    fresh = open_runtime(reference, embedder=embedder)
    try:
        fresh.pipeline.run(FilesystemConnector(folder, "kb"))
    finally:
        fresh.close()
    assert index_state(killed, embedder) == index_state(reference, embedder)


# -- Redis going away ------------------------------------------------------------------------


class PrivateRedis:
    """A redis-server of the test's own on a free port, that the test can stop and restart."""

    def __init__(self, directory: Path) -> None:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url).ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


@pytest.mark.services
@pytest.mark.slow
def test_redis_down_leaves_retrieval_up_and_workers_recover(
    runtime, live_server: str, postgres_url: str, write, tmp_path: Path
) -> None:
    import httpx

    folder = tmp_path / "kb"
    write_corpus(write, folder, 3)
    runtime.pipeline.run(FilesystemConnector(folder, "kb"))
    private = PrivateRedis(tmp_path)
    private.start()
    env = worker_env(
        tmp_path / "worker-home", postgres_url, sources_file(tmp_path, folder), private.url
    )
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        assert (
            producer(private.url)
            .send_task("steward.sync_source", args=["kb"])
            .get(timeout=180)["status"]
            == "ok"
        )
        private.stop()  # Redis goes away
        with httpx.Client(base_url=live_server, timeout=30) as http:
            for _ in range(3):
                answer = http.post("/retrieve", json={"query": "how is step 1 run", "top_k": 2})
                assert answer.status_code == 200 and answer.json()["results"]
        time.sleep(2)
        assert worker.poll() is None, "the worker must survive a broker outage"
        private.start()  # and comes back: the worker reconnects and takes new work
        (folder / "doc001.txt").write_text("Procedure 1 was rewritten completely.\n")
        summary = (
            producer(private.url).send_task("steward.sync_source", args=["kb"]).get(timeout=180)
        )
        assert (summary["status"], summary["changed"]) == ("ok", 1)
    finally:
        stop(worker)
        private.stop()


def test_after_sync_hooks_run_after_successful_syncs_only(declared, tmp_path: Path) -> None:
    from app.after_sync import AfterSync
    from app.sync import sync_source

    live = declared
    seen: list[tuple[str, str]] = []

    def record(summary) -> None:  # type: ignore[no-untyped-def]
        seen.append((summary["source"], summary["status"]))

    def broken(summary) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("a hook that fails")

    live.after_sync += [AfterSync(None, broken), AfterSync(None, record)]
    assert sync_source(live, "kb")["status"] == "ok"
    (tmp_path / "a" / "steward.yaml").write_text(
        "sources:\n  kb:\n    connector: filesystem\n    path: /no/such/folder\n"
    )
    assert sync_source(live, "kb")["status"] == "failed"
    assert seen == [("kb", "ok")]


def test_a_sync_scans_and_runs_every_golden_set(declared) -> None:
    from app.sync import sync_source
    from evaluation.golden import parse_records
    from evaluation.runs import EvalRecords

    live = declared
    queries = parse_records(
        [{"query": "When are parking permits renewed?", "relevant": [{"source_uri": "a.txt"}]}]
    )
    EvalRecords(live.database).save_golden("parking", queries)
    summary = sync_source(live, "kb")
    assert summary["hygiene"]["documents"] == 1
    [run] = summary["evaluation"]
    assert (run["golden_set"], run["mrr@10"]) == ("parking", 1.0)
    stored = EvalRecords(live.database).runs("parking")
    assert [(r.run_id, r.trigger, r.status) for r in stored] == [(run["run_id"], "sync", "ok")]
    # A resync that changes nothing (and needs no rescan yet) measures nothing new.
    again = sync_source(live, "kb")
    assert (again["hygiene"], again["evaluation"]) == (None, None)
    assert len(EvalRecords(live.database).runs("parking")) == 1


def test_the_evaluation_schedule_runs_every_golden_set_and_the_probes(declared) -> None:
    from app.sync import sync_source
    from evaluation.golden import parse_records
    from evaluation.runs import EvalRecords
    from jobs.celery_app import beat_schedule
    from jobs.scheduler import EVALUATION

    live = declared
    path = live.settings.home.sources_file
    path.write_text(path.read_text() + "evaluation:\n  schedule: '0 3 * * *'\n")
    sync_source(live, "kb")
    queries = parse_records(
        [{"query": "When are parking permits renewed?", "relevant": [{"source_uri": "a.txt"}]}]
    )
    EvalRecords(live.database).save_golden("parking", queries)

    start = datetime(2026, 11, 26, 2, 59, tzinfo=UTC)
    scheduler = EmbeddedScheduler(live, path, clock=lambda: start)
    assert scheduler.next_runs[EVALUATION] == datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    done = scheduler.run_due(datetime(2026, 11, 26, 3, 0, tzinfo=UTC))
    [evaluation] = [s for s in done if s["source"] == EVALUATION]
    assert {r["golden_set"] for r in evaluation["evaluation"]} == {"parking", "probes"}
    triggers = {(r.golden_set, r.trigger) for r in EvalRecords(live.database).runs()}
    assert {("parking", "schedule"), ("probes", "schedule")} <= triggers
    assert scheduler.next_runs[EVALUATION] == datetime(2026, 11, 27, 3, 0, tzinfo=UTC)

    entry = beat_schedule(path)["evaluate"]
    assert (entry["task"], entry["args"]) == ("steward.evaluate_all", (True,))


def test_a_bad_evaluation_schedule_is_refused_naming_it(tmp_path: Path) -> None:
    from app.sources import load_evaluation
    from steward.errors import ConfigError

    path = sources_file(tmp_path, tmp_path / "kb")
    path.write_text(path.read_text() + "evaluation:\n  schedule: 'hourly'\n")
    with pytest.raises(ConfigError, match="evaluation.schedule: Value error, must be a five"):
        load_evaluation(path)


@pytest.mark.parametrize("schedule", ["61 * * * *", "0 0 31 2 *"], ids=["minute-61", "feb-31"])
def test_a_five_field_schedule_that_is_no_cron_time_is_refused_at_start(
    tmp_path: Path, schedule: str
) -> None:
    """Five fields, so counting them let it through; croniter finds no such time."""
    from steward.errors import ConfigError

    path = sources_file(tmp_path, tmp_path / "kb", schedule=schedule)
    named = r"steward\.yaml: sources\.kb\.filesystem\.schedule: Value error, not a valid cron"
    with pytest.raises(ConfigError, match=named):
        beat_schedule(path)  # what a Celery beat reads when it starts


@pytest.mark.services
@pytest.mark.slow
def test_a_sync_started_over_http_is_a_celery_task_in_distributed_mode(
    broker: str, open_home, hash_embedder, write, tmp_path: Path, serve_app
) -> None:
    import httpx

    from api.app import create_app

    folder = tmp_path / "kb"
    write_corpus(write, folder, 5)
    sources = sources_file(tmp_path / "a", folder, schedule=None)
    celery_jobs = {
        "runner": "celery",
        "broker_url": broker,
        "result_backend": broker,
        "embedded_scheduler": False,
    }
    api = open_home("a", hash_embedder, jobs=celery_jobs)
    env = worker_env(tmp_path / "worker", f"sqlite:///{tmp_path}/worker.sqlite", sources, broker)
    worker = start_worker(env, tmp_path / "worker.log")

    def finished(url: str, location: str) -> dict:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            run = httpx.get(f"{url}{location}").json()
            if run["status"] in ("ok", "failed"):
                return run
            time.sleep(0.2)
        raise AssertionError(
            f"{location} did not end: {run}; {(tmp_path / 'worker.log').read_text()}"
        )

    try:
        with serve_app(create_app(api.settings, api)) as url:
            started = httpx.post(f"{url}/sources/kb/sync")
            assert started.status_code == 202 and started.json()["status"] == "queued"
            refused = httpx.post(f"{url}/sources/kb/sync")  # queued counts as under way
            assert refused.status_code == 409 and started.json()["run_id"] in refused.text
            done = finished(url, started.headers["location"])
            assert done["status"] == "ok", done
            assert (done["result"]["new"], done["progress"]["read"]) == (5, 5)
            assert done["started_at"] is not None and done["finished_at"] >= done["started_at"]

            again = httpx.post(f"{url}/sources/kb/sync")  # the source is free again
            assert again.status_code == 202, again.text
            rerun = finished(url, again.headers["location"])
            assert (rerun["result"]["unchanged"], rerun["result"]["new"]) == (5, 0)
            assert httpx.get(f"{url}/sources/kb/sync/not-a-run").status_code == 404
            assert httpx.post(f"{url}/sources/nope/sync").status_code == 404
    finally:
        stop(worker)
    # The API process indexed nothing itself: the worker did.
    assert api.store.count() == 0


# -- a partitioned source (`partitions: N`) ----------------------------------------------------


def test_a_partitioned_source_is_scheduled_as_a_fan_out(tmp_path: Path) -> None:
    path = tmp_path / "steward.yaml"
    path.write_text(
        "sources:\n  kb:\n    connector: filesystem\n    path: /srv/kb\n"
        "    schedule: '0 * * * *'\n    partitions: 4\n"
    )
    assert beat_schedule(path)["sync kb"]["task"] == "steward.sync_partitions"


@pytest.mark.services
def test_bucket_locks_are_taken_all_or_none(broker: str) -> None:
    from jobs.tasks import BusyBucket, holding, lock_key
    from steward.domain import Partition

    client = redis.Redis.from_url(broker)
    buckets = [Partition(i, 3) for i in range(3)]
    assert lock_key("kb", Partition(0, 1)) == "steward:sync:kb"  # a whole source, as before
    taken = client.lock(lock_key("kb", buckets[1]), timeout=30)
    assert taken.acquire(blocking=False)
    with pytest.raises(BusyBucket), holding(client, "kb", buckets, 30):
        pass
    assert client.get(lock_key("kb", buckets[0])) is None  # the one it took is let go
    with holding(client, "kb", [buckets[0], buckets[2]], 30):  # other buckets are free
        assert client.get(lock_key("kb", buckets[2])) is not None
        with pytest.raises(BusyBucket), holding(client, "kb", [buckets[2]], 30):
            pass
    taken.release()
    assert not any(client.get(lock_key("kb", b)) for b in buckets)


@pytest.mark.services
@pytest.mark.slow
def test_a_partitioned_sync_fans_out_one_task_per_bucket_and_scans_once(
    broker: str, postgres_url: str, embedder, write, tmp_path: Path
) -> None:
    folder = tmp_path / "kb"
    write_corpus(write, folder, 12)
    sources = tmp_path / "steward.yaml"
    sources.write_text(
        f"sources:\n  kb:\n    connector: filesystem\n    path: {folder}\n    partitions: 3\n"
    )
    env = worker_env(tmp_path / "home", postgres_url, sources, broker)
    worker = start_worker(env, tmp_path / "worker.log")
    client = redis.Redis.from_url(broker)
    try:
        fanned = producer(broker).send_task("steward.sync_partitions", args=["kb"]).get(timeout=120)
        assert len(fanned["tasks"]) == 3 and fanned["round"], fanned
        bucket_results = [
            producer(broker).AsyncResult(task).get(timeout=180) for task in fanned["tasks"]
        ]
        deadline = time.monotonic() + 120
        while client.exists(f"steward:sync-round:{fanned['round']}:left"):
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            time.sleep(0.2)
    finally:
        stop(worker)
    assert sorted(r["partition"] for r in bucket_results) == ["0/3", "1/3", "2/3"]
    assert all(r["status"] == "ok" for r in bucket_results), bucket_results
    assert sum(r["new"] for r in bucket_results) == 12
    assert all(0 < r["listed"] < 12 for r in bucket_results)  # each its own bucket only
    # What follows a whole sync ran once, after the last bucket: one scan, not three.
    assert count_rows(postgres_url, "hygiene_scans") == 1
    settings = Settings(
        home=HomeSettings(home=tmp_path / "home"), catalog=CatalogSettings(url=postgres_url)
    )
    assert len(index_state(settings, embedder)) == 12
