"""The query log: kept for a retention period, its text off by default under access control."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from api.app import create_app
from app.runtime import open_runtime
from connectors.filesystem import FilesystemConnector
from evaluation.feedback import FeedbackRecords, QueryLog
from evaluation.tables import query_log
from steward.database import Database
from steward.domain import utc_now
from steward.settings import AccessSettings, ApiSettings, KeyEntry

READER_KEY = "query-log-reader-key-01"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_url")
    opened = Database(url)
    yield opened
    opened.close()


def logged(database: Database, age_days: float) -> str:
    """A log entry written `age_days` ago; its id."""
    query_id = str(uuid.uuid4())
    assert FeedbackRecords(database).log_query(
        query_id, "how old?", "hybrid", 5, 1.0, [], top_cosine=None
    )
    with database.begin() as conn:
        conn.execute(
            update(query_log)
            .where(query_log.c.query_id == query_id)
            .values(at=utc_now() - timedelta(days=age_days))
        )
    return query_id


def kept(database: Database) -> set[str]:
    with database.connect() as conn:
        return set(conn.execute(select(query_log.c.query_id)).scalars())


def test_entries_older_than_the_retention_are_pruned_when_due(database: Database) -> None:
    old, fresh = logged(database, 31), logged(database, 29)
    log = QueryLog(database, retention_days=30, keep_text=False, prune_every_s=3600)
    assert log.prune_when_due() == 1 and kept(database) == {fresh}
    # Not due again for an hour: a later expired entry waits, and no answer pays for a DELETE.
    later = logged(database, 45)
    log.record(str(uuid.uuid4()), "a question", "hybrid", 5, 1.0, [], top_cosine=None)
    assert later in kept(database) and old not in kept(database)
    log.prune_every_s = 0
    log.prune_when_due()  # the next hour comes
    assert later not in kept(database) and fresh in kept(database)


def test_a_process_prunes_the_log_when_it_opens(
    tmp_path: Path, hash_embedder: Any, make_settings: Any
) -> None:
    settings = make_settings(tmp_path, api={"query_log_retention_days": 7})
    first = open_runtime(settings, embedder=hash_embedder)
    old, recent = logged(first.database, 8), logged(first.database, 6)
    first.close()
    second = open_runtime(settings, embedder=hash_embedder)
    try:
        assert kept(second.database) == {recent} and old != recent
    finally:
        second.close()


def test_query_text_defaults_to_off_under_access_control_and_may_be_switched(
    tmp_path: Path, hash_embedder: Any, make_settings: Any, write: Any
) -> None:
    write.text(tmp_path / "kb/a.txt", "Parking permits are renewed every January.\n")
    auth = AccessSettings(keys=[KeyEntry(name="app", role="reader", key=READER_KEY)])
    texts: dict[str, str | None] = {}
    for label, overrides in {
        "open": {},
        "keys": {"auth": auth},
        "keys, text on": {"auth": auth, "api": {"log_query_text": True}},
        "open, text off": {"api": {"log_query_text": False}},
    }.items():
        runtime = open_runtime(make_settings(tmp_path / label, **overrides), hash_embedder)
        try:
            runtime.pipeline.run(FilesystemConnector(tmp_path / "kb", "kb"))
            with TestClient(create_app(runtime.settings, runtime)) as client:
                answer = client.post(
                    "/retrieve",
                    json={"query": "parking permits"},
                    headers={"Authorization": f"Bearer {READER_KEY}"},
                )
            assert answer.status_code == 200, answer.text
            with runtime.database.connect() as conn:
                texts[label] = conn.execute(
                    select(query_log.c.text).where(
                        query_log.c.query_id == answer.json()["query_id"]
                    )
                ).scalar_one()
        finally:
            runtime.close()
    assert texts == {
        "open": "parking permits",
        "keys": None,
        "keys, text on": "parking permits",
        "open, text off": None,
    }


def test_the_retention_setting_is_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ApiSettings().query_log_retention_days == 30
    monkeypatch.setenv("STEWARD_API_QUERY_LOG_RETENTION_DAYS", "7")
    assert ApiSettings().query_log_retention_days == 7
    from steward.errors import ConfigError
    from steward.settings import load_settings

    monkeypatch.setenv("STEWARD_API_QUERY_LOG_RETENTION_DAYS", "0")
    with pytest.raises(ConfigError, match="STEWARD_API_QUERY_LOG_RETENTION_DAYS"):
        load_settings()
