"""Connector credentials are referenced, not stored: the catalog and the API never hold them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from app.sources import SqlSource, load_sources
from app.sync import sync_source
from steward.errors import ConfigError
from steward.redact import redact_secrets

PASSWORD = "Tr0ub4dor-wiki-pw"
QUERY = "select id, title, body, updated_at from pages"


def declare(home: Path, entry: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "steward.yaml").write_text(f"sources:\n  wiki:\n    connector: sql\n{entry}")


def stored_config(live: Any) -> str:
    row = live.catalog.source("wiki")
    assert row is not None
    return json.dumps(row["config"])


def test_a_password_written_into_the_url_is_stored_and_shown_masked(
    open_home, hash_embedder, tmp_path: Path
) -> None:
    # Nothing listens on port 1: the sync fails, after the source was recorded.
    declare(
        tmp_path / "a",
        f"    url: postgresql+psycopg://reader:{PASSWORD}@127.0.0.1:1/wiki?sslmode=disable\n"
        f"    query: {QUERY}\n",
    )
    live = open_home("a", hash_embedder)
    summary = sync_source(live, "wiki")
    assert summary["status"] == "failed" and PASSWORD not in json.dumps(summary, default=str)

    config = json.loads(stored_config(live))
    assert config["url"] == "postgresql+psycopg://reader:***@127.0.0.1:1/wiki?sslmode=disable"
    assert PASSWORD not in stored_config(live)
    last = live.catalog.last_run("wiki")
    assert last is not None and PASSWORD not in json.dumps(last, default=str)

    from api.app import create_app

    with TestClient(create_app(live.settings, live)) as client:
        listed = client.get("/sources")
    assert listed.status_code == 200 and listed.json()[0]["name"] == "wiki"
    assert PASSWORD not in listed.text


@pytest.mark.services
def test_a_password_from_the_environment_reaches_the_database_and_nothing_else(
    postgres_url: str, open_home, hash_embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("create table pages (id int, title text, body text, updated_at text)"))
        conn.execute(text("insert into pages values (1, 'VPN', 'Use the client.', '2026-01-05')"))
    engine.dispose()
    monkeypatch.setenv("WIKI_DB_PASSWORD", PASSWORD)
    declare(
        tmp_path / "a",
        f"    url: {postgres_url}\n    password_env: WIKI_DB_PASSWORD\n    query: {QUERY}\n",
    )
    live = open_home("a", hash_embedder)
    assert sync_source(live, "wiki")["new"] == 1

    config = json.loads(stored_config(live))
    assert config["password_env"] == "WIKI_DB_PASSWORD" and config["url"] == postgres_url
    assert PASSWORD not in stored_config(live)


def test_the_whole_url_may_come_from_a_variable_or_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "wiki.sqlite"
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "wiki.url").write_text(f"sqlite:///{database}\n")
    declare(tmp_path, f"    url_file: secrets/wiki.url\n    query: {QUERY}\n")
    from_file = load_sources(tmp_path / "steward.yaml")["wiki"]
    assert isinstance(from_file, SqlSource) and from_file.dsn() == f"sqlite:///{database}"

    monkeypatch.setenv("WIKI_URL", f"postgresql+psycopg://reader:{PASSWORD}@db/wiki")
    from_env = SqlSource(connector="sql", url_env="WIKI_URL", query=QUERY)
    assert PASSWORD in from_env.dsn()
    assert PASSWORD not in json.dumps(redact_secrets(from_env.model_dump(mode="json")))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (f"    query: {QUERY}\n", "exactly one of url, url_env and url_file"),
        (f"    url: sqlite://\n    url_env: X\n    query: {QUERY}\n", "exactly one of"),
    ],
)
def test_an_sql_source_names_its_database_exactly_once(
    tmp_path: Path, entry: str, message: str
) -> None:
    declare(tmp_path, entry)
    with pytest.raises(ConfigError, match=message):
        load_sources(tmp_path / "steward.yaml")


def test_a_missing_secret_fails_naming_the_variable(
    open_home, hash_embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_SUCH_PASSWORD", raising=False)
    source = SqlSource(
        connector="sql",
        url="postgresql://reader@db/wiki",
        password_env="NO_SUCH_PASSWORD",
        query=QUERY,
    )
    with pytest.raises(ConfigError, match="NO_SUCH_PASSWORD is not set"):
        source.dsn()


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"password": "pw", "password_env": "PW"}, {"password": "***", "password_env": "PW"}),
        ({"api_key": "k", "url_file": "/run/u"}, {"api_key": "***", "url_file": "/run/u"}),
        ({"auth": {"token": "t", "owner": "ana"}}, {"auth": {"token": "***", "owner": "ana"}}),
        (
            {"url": "https://bob:pw@git.example.com/x.git?access_token=t&ref=main"},
            {"url": "https://bob:***@git.example.com/x.git?access_token=%2A%2A%2A&ref=main"},
        ),
        ({"url": "postgresql://reader@db/wiki"}, {"url": "postgresql://reader@db/wiki"}),
        ({"query": "select 'http://a:b@c' as u"}, {"query": "select 'http://a:b@c' as u"}),
        ({"password": None, "acl": ["hr"]}, {"password": None, "acl": ["hr"]}),
    ],
)
def test_secret_looking_values_are_masked_and_references_kept(
    config: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert redact_secrets(config) == expected


def test_a_password_stored_by_an_older_version_is_masked_when_a_process_opens(
    tmp_path: Path, hash_embedder: Any, make_settings: Any
) -> None:
    from sqlalchemy import insert

    from app.runtime import open_runtime
    from steward.catalog import sources
    from steward.domain import utc_now

    settings = make_settings(tmp_path)
    first = open_runtime(settings, embedder=hash_embedder)
    clear = {"connector": "sql", "url": f"postgresql://reader:{PASSWORD}@db/wiki", "query": QUERY}
    with first.database.begin() as conn:  # as save_source wrote it before masking
        now = utc_now()
        conn.execute(
            insert(sources).values(
                name="wiki", connector="sql", config=clear, first_seen=now, updated_at=now
            )
        )
    first.close()
    second = open_runtime(settings, embedder=hash_embedder)
    try:
        assert PASSWORD not in stored_config(second)
        assert json.loads(stored_config(second))["query"] == QUERY
    finally:
        second.close()
