"""API keys made, listed and revoked at run time (steward keys, /keys), stored as digests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from api.app import create_app
from app.runtime import Runtime, open_runtime
from app.sources import FilesystemSource, build_connector
from cli.main import app as cli
from ingest.pipeline import document_id
from steward.access import digest
from steward.database import Database
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
        key, _ = StoredKeys(cli_side).create("ops", "owner", ["ops"], "cli:test")
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
