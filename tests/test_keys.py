"""API keys made, listed and revoked at run time (steward keys, /keys), stored as digests."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from api.app import create_app
from app.runtime import Runtime, open_runtime
from app.sources import FilesystemSource, build_connector
from cli.main import app as cli
from ingest.pipeline import document_id
from steward.access import digest
from steward.database import Database
from steward.domain import utc_now
from steward.errors import QueryError, UnauthenticatedError
from steward.settings import AccessSettings, KeyEntry
from steward.stored_keys import REFRESH_S, StoredKeys

ADMIN_KEY = "declared-admin-key-0001"
SECRET = document_id("secret", "plan.md")


def _home(root: Path, write: Any, make_settings: Any, embedder: Any, **auth: Any) -> Runtime:
    write.markdown(root / "secret" / "plan.md", "# Plan\n\nThe Falcon merger closes in May.\n")
    write.markdown(root / "public" / "lunch.md", "# Lunch\n\nLunch is served at noon.\n")
    live = open_runtime(make_settings(root, auth=AccessSettings(**auth)), embedder=embedder)
    for name, acl in (("secret", ["board"]), ("public", [])):
        config = FilesystemSource(connector="filesystem", path=root / name, acl=acl)
        assert live.pipeline.run(build_connector(name, config, root / "home")).status == "ok"
    return live


@pytest.fixture
def keyed(
    tmp_path: Path, write: Any, make_settings: Any, hash_embedder: Any, serve_app: Any
) -> Iterator[tuple[Runtime, httpx.Client]]:
    declared = [KeyEntry(name="root", role="admin", key=ADMIN_KEY)]
    live = _home(tmp_path, write, make_settings, hash_embedder, keys=declared)
    try:
        with (
            serve_app(create_app(live.settings, live)) as url,
            httpx.Client(base_url=url, timeout=60) as http,
        ):
            yield live, http
    finally:
        live.close()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_an_admin_makes_a_key_that_works_at_once_and_revoking_it_refuses_it_at_once(
    keyed: tuple[Runtime, httpx.Client],
) -> None:
    live, http = keyed
    admin = bearer(ADMIN_KEY)
    made = http.post(
        "/keys",
        json={"name": "board-reader", "role": "reader", "groups": ["board", " "]},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    key = made.json()["key"]
    assert made.json()["groups"] == ["board"] and key.startswith("stw_") and len(key) > 40
    doc = http.get(f"/documents/{SECRET}", headers=bearer(key))
    assert doc.status_code == 200 and "Falcon" in doc.text
    # Listed without the key or its digest; the log names the admin.
    listed = http.get("/keys", headers=admin)
    assert [k["name"] for k in listed.json()] == ["board-reader"]
    assert key not in listed.text and digest(key) not in listed.text
    # A reader may neither list nor make keys.
    assert http.get("/keys", headers=bearer(key)).status_code == 403
    assert http.post("/keys/board-reader/revoke", headers=bearer(key)).status_code == 403
    assert http.post("/keys/board-reader/revoke", headers=admin).status_code == 204
    refused = http.get(f"/documents/{SECRET}", headers=bearer(key))
    assert refused.status_code == 401, refused.text
    audit = http.get("/hygiene/audit", headers=admin).json()
    assert [(e["action"], e["actor"], e["subject"]) for e in audit["items"][:2]] == [
        ("key_revoke", "root", "board-reader"),
        ("key_create", "root", "board-reader"),
    ]
    assert key not in str(audit)
    # A revoked name stays taken; a declared key's name cannot be stored; unknown is 404.
    again = http.post("/keys", json={"name": "board-reader", "role": "reader"}, headers=admin)
    assert again.status_code == 422 and "exists" in again.text
    clash = http.post("/keys", json={"name": "root", "role": "admin"}, headers=admin)
    assert clash.status_code == 422 and "declared in the settings" in clash.text
    bad = http.post("/keys", json={"name": "a b", "role": "reader"}, headers=admin)
    assert bad.status_code == 422 and "name" in bad.text
    assert http.post("/keys/nobody/revoke", headers=admin).status_code == 404


def test_a_revocation_from_another_process_counts_within_a_second(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    server, cli_side = Database(url), Database(url)
    try:
        ring = AccessSettings().key_ring(StoredKeys(server).keys)
        key, *_ = StoredKeys(cli_side).create("ops", "owner", ["ops"], "cli:test")
        assert ring.resolve(key).name == "ops"
        StoredKeys(cli_side).revoke("ops", "cli:test")
        time.sleep(REFRESH_S + 0.1)
        with pytest.raises(Exception, match="invalid or revoked"):
            ring.resolve(key)
    finally:
        server.close()
        cli_side.close()


def test_the_cli_makes_lists_and_revokes_keys_and_the_first_one_turns_access_control_on(
    tmp_path: Path, write: Any, make_settings: Any, hash_embedder: Any, serve_app: Any
) -> None:
    live = _home(tmp_path, write, make_settings, hash_embedder)
    env = {"STEWARD_HOME": str(live.settings.home.home)}
    runner = CliRunner()
    try:
        with serve_app(create_app(live.settings, live)) as url:
            open_door = httpx.get(f"{url}/documents/{SECRET}")
            assert open_door.status_code == 200  # no key anywhere: the local admin
            made = runner.invoke(
                cli, ["keys", "create", "--name", "ana", "--role", "admin"], env=env
            )
            assert made.exit_code == 0, made.output
            key = made.stdout.strip().splitlines()[0]
            assert key.startswith("stw_")
            time.sleep(REFRESH_S + 0.1)
            assert httpx.get(f"{url}/documents/{SECRET}").status_code == 401
            assert httpx.get(f"{url}/documents/{SECRET}", headers=bearer(key)).status_code == 200
            listed = runner.invoke(cli, ["keys", "list", "--json"], env=env)
            assert '"name": "ana"' in listed.stdout and key not in listed.stdout
            revoked = runner.invoke(cli, ["keys", "revoke", "ana"], env=env)
            assert revoked.exit_code == 0, revoked.output
            missing = runner.invoke(cli, ["keys", "revoke", "nobody"], env=env)
            assert missing.exit_code != 0 and "nobody" in missing.output
            bad_role = runner.invoke(
                cli, ["keys", "create", "--name", "x", "--role", "root"], env=env
            )
            assert bad_role.exit_code != 0
    finally:
        live.close()


def test_serving_beyond_loopback_counts_stored_keys_without_making_a_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cli.main import _keys_stored
    from steward.settings import load_settings

    monkeypatch.setenv("STEWARD_HOME", str(tmp_path / "home"))
    assert not _keys_stored(load_settings())
    assert not (tmp_path / "home").exists()
    made = CliRunner().invoke(cli, ["keys", "create", "--name", "ops", "--role", "admin"])
    assert made.exit_code == 0, made.output
    assert _keys_stored(load_settings())
    assert CliRunner().invoke(cli, ["keys", "revoke", "ops"]).exit_code == 0
    assert not _keys_stored(load_settings())


# -- keys that expire ------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def test_a_stored_key_expires_and_is_refused_saying_so(catalog_url: str) -> None:
    database = Database(catalog_url)
    try:
        stored = StoredKeys(database)
        ring = AccessSettings().key_ring(stored.keys)
        before = utc_now()
        key, _, expires_at = stored.create("ci", "reader", [], "cli:test", expires_in="2s")
        lasting, _, never = stored.create("ops", "owner", ["ops"], "cli:test")
        assert never is None and expires_at is not None
        assert timedelta(seconds=2) <= expires_at - before < timedelta(seconds=4)
        assert ring.resolve(key).name == "ci"
        listed = {k.name: k.as_dict() for k in stored.listed()}
        assert listed["ci"]["expires_at"] == expires_at.isoformat()
        assert (listed["ci"]["expired"], listed["ops"]["expires_at"]) == (False, None)
        time.sleep(max(0.0, (expires_at - utc_now()).total_seconds()) + 0.2)
        # Refused naming the expiry, not the key's name nor any other key.
        with pytest.raises(UnauthenticatedError) as refused:
            ring.resolve(key)
        assert str(refused.value) == "the API key has expired"
        with pytest.raises(UnauthenticatedError, match="session's API key has expired"):
            ring.resolve_digest(digest(key))
        assert ring.resolve(lasting).name == "ops"
        assert [k.expired for k in stored.listed()] == [True, False]  # ci, ops
        # Lifetimes that are not one are refused naming the field.
        for bad in ("90", "d", "0d", "-1d", "1.5d", "3651d", "90 days"):
            with pytest.raises(QueryError) as wrong:
                stored.create(f"k-{len(bad)}", "reader", [], "cli:test", expires_in=bad)
            assert wrong.value.field == "expires_in", bad
    finally:
        database.close()


def test_upgrading_from_0008_keeps_keys_without_an_expiry(catalog_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    engine = create_engine(catalog_url)
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parents[1] / "steward/migrations"))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0008")
        conn.execute(
            text(
                "INSERT INTO api_keys (name, role, groups, sha256, created_at, created_by) "
                "VALUES ('old', 'reader', '[]', :sha, CURRENT_TIMESTAMP, 'cli:test')"
            ),
            {"sha": digest("old-key")},
        )
    engine.dispose()
    database = Database(catalog_url)  # migrates to the newest revision
    try:
        stored = StoredKeys(database)
        assert [(k.name, k.expires_at, k.expired) for k in stored.listed()] == [
            ("old", None, False)
        ]
        assert AccessSettings().key_ring(stored.keys).resolve("old-key").name == "old"
    finally:
        database.close()


def test_expiry_over_http_and_the_cli(
    keyed: tuple[Runtime, httpx.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    live, http = keyed
    admin = bearer(ADMIN_KEY)
    made = http.post(
        "/keys",
        json={"name": "short", "role": "reader", "groups": ["board"], "expires_in": "2s"},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    key, expires_at = made.json()["key"], made.json()["expires_at"]
    assert expires_at is not None
    assert http.get(f"/documents/{SECRET}", headers=bearer(key)).status_code == 200
    listed = {k["name"]: k for k in http.get("/keys", headers=admin).json()}
    assert (listed["short"]["expires_at"], listed["short"]["expired"]) == (expires_at, False)
    bad = http.post(
        "/keys", json={"name": "x", "role": "reader", "expires_in": "forever"}, headers=admin
    )
    assert bad.status_code == 422 and "expires_in" in bad.text
    time.sleep(2.3)
    refused = http.get(f"/documents/{SECRET}", headers=bearer(key))
    assert refused.status_code == 401
    assert refused.json()["detail"] == "the API key has expired"
    assert http.get("/keys", headers=admin).json()[0]["expired"] is True
    # The CLI against the same home: made with --expires-in, listed with the expiry.
    runner = CliRunner()
    env = {"STEWARD_HOME": str(live.settings.home.home)}
    made_cli = runner.invoke(
        cli,
        ["keys", "create", "--name", "quarterly", "--role", "reader", "--expires-in", "90d"],
        env=env,
    )
    assert made_cli.exit_code == 0, made_cli.output
    assert "expires 20" in made_cli.stderr
    table = runner.invoke(cli, ["keys", "list"], env={**env, "COLUMNS": "250"})
    rows = {line.split("│")[1].strip(): line for line in table.stdout.splitlines() if "│" in line}
    assert "(expired)" in rows["short"] and "(expired)" not in rows["quarterly"]
    assert "never" not in rows["quarterly"]
    as_json = runner.invoke(cli, ["keys", "list", "--json"], env=env)
    quarterly = next(k for k in json.loads(as_json.stdout) if k["name"] == "quarterly")
    days = (datetime.fromisoformat(quarterly["expires_at"]) - utc_now()).days
    assert 89 <= days <= 90 and quarterly["expired"] is False
    wrong = runner.invoke(
        cli, ["keys", "create", "--name", "y", "--role", "reader", "--expires-in", "90"], env=env
    )
    assert wrong.exit_code != 0 and "expires_in" in wrong.output
